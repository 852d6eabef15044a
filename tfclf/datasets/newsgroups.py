"""The 20 Newsgroups corpus, read the way scikit-learn's ``fetch_20newsgroups`` reads it.

The result matches ``sklearn.datasets.fetch_20newsgroups`` called with the same arguments
document for document (same texts, order, target ids and target names), but the data can
come from a local copy of the original ``20news-bydate.tar.gz``, so it works offline.
"""

from __future__ import annotations

import gzip
import numbers
import os
import shutil
import socket
import tarfile
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import numpy as np

from tfclf._util import sha256_file
from tfclf.datasets._types import TextData

__all__ = ["load_20newsgroups", "NEWSGROUPS_TUTORIAL_CATEGORIES"]

#: The four groups of ktrain's text-classification tutorial, in the tutorial's order.
NEWSGROUPS_TUTORIAL_CATEGORIES = [
    "alt.atheism",
    "soc.religion.christian",
    "comp.graphics",
    "sci.med",
]

ARCHIVE_ENV = "TFCLF_20NG_ARCHIVE"
ARCHIVE_NAME = "20news-bydate.tar.gz"
ORIGINAL_URL = "http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz"
_SUBSET_FOLDERS = {"train": "20news-bydate-train", "test": "20news-bydate-test"}
_SUBSETS = ("train", "test", "all")
_REMOVABLE = ("headers", "footers", "quotes")
_TRUE = {"1", "true", "yes", "on"}
# Fallback when scikit-learn's private ARCHIVE constant moves; only used for the online probe.
_DEFAULT_DOWNLOAD_HOST = "ndownloader.figshare.com"
_ONLINE_TIMEOUT_S = 3.0


def load_20newsgroups(
    subset: str = "train",
    categories: Sequence[str] | None = None,
    remove: Sequence[str] = (),
    archive: str | os.PathLike[str] | None = None,
    data_home: str | os.PathLike[str] | None = None,
    shuffle: bool = True,
    random_state: Any = 42,
) -> TextData:
    """Loads 20 Newsgroups exactly as ``sklearn.datasets.fetch_20newsgroups`` would.

    For the same ``subset``, ``categories``, ``remove``, ``shuffle`` and ``random_state`` the
    documents, their order, ``target`` and ``class_names`` (scikit-learn's ``target_names``)
    are identical to scikit-learn's. ``class_names`` is sorted whatever order ``categories``
    is given in, as in scikit-learn.

    The data is taken from the first of these that works:

    1. ``archive``: a path to the original ``20news-bydate.tar.gz`` (or to the folder it
       extracts to, holding ``20news-bydate-train`` and ``20news-bydate-test``);
    2. the ``TFCLF_20NG_ARCHIVE`` environment variable, naming the same;
    3. scikit-learn's own cache (``20news-bydate_py3.pkz``) in ``data_home``, or in
       scikit-learn's default data folder when ``data_home`` is None;
    4. a download through scikit-learn, only when the machine is online (never when
       ``TFCLF_OFFLINE`` or ``HF_HUB_OFFLINE`` is set).

    An archive is extracted once into a cache folder (``data_home/tfclf_20news`` when
    ``data_home`` is given, else ``$TFCLF_CACHE/20news``, else
    ``$XDG_CACHE_HOME/tfclf/20news``, else ``~/.cache/tfclf/20news``), keyed by the archive's
    SHA-256, and reused by later calls.

    Args:
        subset: ``'train'``, ``'test'`` or ``'all'`` (train then test, before shuffling).
        categories: newsgroup names to keep; None keeps all 20.
        remove: any of ``'headers'``, ``'footers'``, ``'quotes'``: text that scikit-learn's
            heuristics strip from each post so a model cannot learn from metadata.
        archive: the local ``20news-bydate.tar.gz`` (or its extracted folder).
        data_home: scikit-learn's data folder; also holds the extraction cache when given.
        shuffle: shuffle the documents, as scikit-learn does.
        random_state: seed (or ``numpy.random.RandomState``) for the shuffle.

    Returns:
        A :class:`TextData`; unpacks as ``texts, labels, class_names``.

    Raises:
        ValueError: for a bad ``subset``, ``remove`` entry or category name, or an archive that
            is not 20news-bydate (or holds unsafe paths).
        FileNotFoundError: when ``archive`` (or ``$TFCLF_20NG_ARCHIVE``) does not exist, or no
            source above has the data; the message says what was tried.

    Example:
        >>> from tfclf.datasets import load_20newsgroups, NEWSGROUPS_TUTORIAL_CATEGORIES
        >>> train = load_20newsgroups(
        ...     "train", NEWSGROUPS_TUTORIAL_CATEGORIES, archive="20news-bydate.tar.gz"
        ... )  # doctest: +SKIP
        >>> len(train.texts), train.class_names[0]  # doctest: +SKIP
        (2257, 'alt.atheism')
    """
    subset, categories, remove = _check_arguments(subset, categories, remove, shuffle, random_state)
    parts, source = _load_parts(subset, archive, data_home)
    return _select(parts, categories, remove, shuffle, random_state, source)


# --------------------------------------------------------------------------- validation


def _check_arguments(
    subset: Any, categories: Any, remove: Any, shuffle: Any, random_state: Any
) -> tuple[str, list[str] | None, tuple[str, ...]]:
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {list(_SUBSETS)}, got {subset!r}")
    if categories is not None:
        # A bare string would otherwise be read as a list of one-letter category names.
        if isinstance(categories, (str, bytes)):
            raise ValueError(
                f"categories must be a list of names, got the string {categories!r}; "
                f"did you mean [{categories!r}]?"
            )
        categories = [str(c) if isinstance(c, np.str_) else c for c in categories]
        if not categories:
            raise ValueError("categories is empty: pass None to load every newsgroup")
        if not all(isinstance(c, str) for c in categories):
            raise ValueError(f"categories must be strings, got {categories!r}")
        duplicates = sorted({c for c in categories if categories.count(c) > 1})
        if duplicates:
            raise ValueError(f"categories lists {duplicates} more than once")
    if isinstance(remove, (str, bytes)):
        raise ValueError(f"remove must be a tuple such as ({remove!r},), got the string {remove!r}")
    remove = tuple(remove)
    unknown = [r for r in remove if r not in _REMOVABLE]
    if unknown:
        raise ValueError(f"remove may only contain {list(_REMOVABLE)}; got {unknown}")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ValueError(f"shuffle must be True or False, got {shuffle!r}")
    # What sklearn.utils.check_random_state accepts, checked before any slow loading.
    if not (
        random_state is None
        or isinstance(random_state, np.random.RandomState)
        or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool))
    ):
        raise ValueError(
            f"random_state must be None, an int or a numpy RandomState, got {random_state!r}"
        )
    return subset, categories, remove


# --------------------------------------------------------------------------- sources


@dataclass
class _Part:
    """One subset as scikit-learn's ``load_files`` orders it; texts None until read."""

    filenames: np.ndarray
    target: np.ndarray
    target_names: list[str]
    texts: list[str] | None = None


def _load_parts(subset: str, archive: Any, data_home: Any) -> tuple[list[_Part], str]:
    tried: list[str] = []
    wanted = ("train", "test") if subset == "all" else (subset,)

    if archive is not None:
        path = Path(archive).expanduser()
        if not path.exists():
            raise FileNotFoundError(
                f"the 20 Newsgroups archive {str(path)!r} (archive=...) does not exist"
            )
        return _parts_from_archive(path, wanted, data_home)
    tried.append("archive=...: not given")

    env_value = os.environ.get(ARCHIVE_ENV, "").strip()
    if env_value:
        path = Path(env_value).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"${ARCHIVE_ENV} names {str(path)!r}, which does not exist")
        return _parts_from_archive(path, wanted, data_home)
    tried.append(f"${ARCHIVE_ENV}: not set")

    from sklearn.datasets import get_data_home  # sklearn.datasets is slow to import

    sklearn_home = get_data_home(data_home)
    try:
        return _parts_from_sklearn(subset, data_home, download=False), (
            f"scikit-learn's 20 Newsgroups cache in {sklearn_home}"
        )
    except OSError as exc:
        tried.append(f"scikit-learn's cache in {sklearn_home}: {exc}")

    offline_reason = _offline_reason()
    if offline_reason is None:
        try:
            return _parts_from_sklearn(subset, data_home, download=True), (
                f"scikit-learn's download, cached in {sklearn_home}"
            )
        except OSError as exc:  # URLError and HTTPError are OSErrors
            tried.append(f"download through scikit-learn: failed ({exc})")
    else:
        tried.append(f"download through scikit-learn: skipped ({offline_reason})")

    raise FileNotFoundError(
        "Could not find the 20 Newsgroups data. Provide the original "
        f"{ARCHIVE_NAME} (from {ORIGINAL_URL}) in one of these ways:\n"
        f"  - load_20newsgroups(..., archive='path/to/{ARCHIVE_NAME}')\n"
        f"  - export {ARCHIVE_ENV}=path/to/{ARCHIVE_NAME}\n"
        "  - put scikit-learn's cache (20news-bydate_py3.pkz, written by "
        "sklearn.datasets.fetch_20newsgroups) in data_home\n"
        "Tried:\n" + "\n".join(f"  - {t}" for t in tried)
    )


def _parts_from_sklearn(subset: str, data_home: Any, download: bool) -> list[_Part]:
    from sklearn.datasets import fetch_20newsgroups

    # Unfiltered and unshuffled, this is scikit-learn's cached load_files output as-is
    # ('all' = train then test); _select then applies fetch_20newsgroups' own steps.
    bunch = fetch_20newsgroups(
        data_home=data_home, subset=subset, shuffle=False, download_if_missing=download
    )
    return [
        _Part(
            np.asarray(bunch.filenames),
            np.asarray(bunch.target),
            list(bunch.target_names),
            list(bunch.data),
        )
    ]


def _parts_from_archive(
    path: Path, wanted: tuple[str, ...], data_home: Any
) -> tuple[list[_Part], str]:
    from sklearn.datasets import load_files

    if path.is_dir():
        root = path
        _check_layout(root, f"the folder {str(path)!r}")
        source = f"20news-bydate folder {path}"
    else:
        root = _extracted(path, data_home)
        source = f"20news-bydate archive {path} (extracted to {root})"
    parts = []
    for name in wanted:
        # load_files' defaults (shuffle=True, random_state=0) are what scikit-learn's
        # downloader uses, so the order matches its cache. Contents are read later, and only
        # for the documents kept.
        bunch = load_files(str(root / _SUBSET_FOLDERS[name]), load_content=False)
        parts.append(_Part(bunch.filenames, bunch.target, list(bunch.target_names)))
    return parts, source


def _offline_reason() -> str | None:
    for var in ("TFCLF_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return f"{var} is set"
    host = _download_host()
    try:
        with socket.create_connection((host, 443), timeout=_ONLINE_TIMEOUT_S):
            return None
    except OSError as exc:
        return f"{host} unreachable: {exc}"


def _download_host() -> str:
    try:
        from sklearn.datasets._twenty_newsgroups import ARCHIVE

        return urlparse(ARCHIVE.url).hostname or _DEFAULT_DOWNLOAD_HOST
    except (ImportError, AttributeError):
        return _DEFAULT_DOWNLOAD_HOST


# --------------------------------------------------------------------------- extraction


def _cache_root(data_home: Any) -> Path:
    if data_home is not None:
        return Path(data_home).expanduser() / "tfclf_20news"
    if os.environ.get("TFCLF_CACHE"):
        return Path(os.environ["TFCLF_CACHE"]).expanduser() / "20news"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tfclf" / "20news"


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    # Hashing 14 MB costs ~50 ms; remember it while the file is unchanged.
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_MEMO:
        _SHA_MEMO[key] = sha256_file(path)
    return _SHA_MEMO[key]


def _extracted(archive: Path, data_home: Any) -> Path:
    """The archive's extracted folder in the cache, extracting it on first use."""
    root = _cache_root(data_home)
    final = root / f"20news-bydate-{_sha256(archive)[:16]}"
    if final.is_dir():
        return final
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    except OSError as exc:
        raise OSError(
            f"cannot write the 20 Newsgroups extraction cache in {root} ({exc}); "
            "pass data_home=... or set TFCLF_CACHE to a writable folder"
        ) from exc
    try:
        _safe_extract(archive, tmp)
        _check_layout(tmp, f"the archive {str(archive)!r}")
        try:
            # A rename is atomic: readers see either no folder or a complete one.
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # anything but "another process got there first"
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _safe_extract(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, archive)
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: a second line of defence
                tar.extractall(dest, members=members, filter="data")
            else:  # pragma: no cover
                tar.extractall(dest, members=members)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"could not read {str(archive)!r} as a .tar.gz archive: {exc}") from exc


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    name = member.name
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise ValueError(
            f"refusing to extract {str(archive)!r}: member {name!r} points outside "
            "the target folder"
        )
    if not (member.isfile() or member.isdir()):
        # 20news-bydate holds only files and folders; links could escape the cache folder.
        raise ValueError(
            f"refusing to extract {str(archive)!r}: member {name!r} is a link or special file"
        )


def _check_layout(root: Path, what: str) -> None:
    missing = [f for f in _SUBSET_FOLDERS.values() if not (root / f).is_dir()]
    if missing:
        raise ValueError(
            f"{what} is not the 20news-bydate data: it lacks the top-level folder(s) {missing}"
        )


# --------------------------------------------------------------------------- selection


def _select(
    parts: list[_Part],
    categories: list[str] | None,
    remove: tuple[str, ...],
    shuffle: bool,
    random_state: Any,
    source: str,
) -> TextData:
    """Replicates fetch_20newsgroups after its cache is loaded: concatenate, filter, shuffle."""
    from sklearn.datasets._twenty_newsgroups import (
        strip_newsgroup_footer,
        strip_newsgroup_header,
        strip_newsgroup_quoting,
    )
    from sklearn.utils import check_random_state

    # scikit-learn keeps the last subset's names for 'all'; they must agree to make sense.
    target_names = parts[-1].target_names
    if any(p.target_names != target_names for p in parts):
        raise ValueError(
            "the train and test folders hold different newsgroups: "
            f"{parts[0].target_names} vs {target_names}"
        )
    filenames = np.concatenate([np.asarray(p.filenames) for p in parts])
    target = np.array([t for p in parts for t in p.target])
    texts = None
    if all(p.texts is not None for p in parts):
        texts = np.array([t for p in parts for t in p.texts], dtype=object)

    if categories is not None:
        unknown = [c for c in categories if c not in target_names]
        if unknown:
            raise ValueError(f"unknown newsgroup(s) {unknown}; valid names are {target_names}")
        labels = sorted((target_names.index(c), c) for c in categories)
        ids, target_names = [i for i, _ in labels], [c for _, c in labels]
        mask = np.isin(target, ids)
        filenames, target = filenames[mask], np.searchsorted(ids, target[mask])
        texts = texts[mask] if texts is not None else None

    if shuffle:
        indices = np.arange(target.shape[0])
        check_random_state(random_state).shuffle(indices)
        filenames, target = filenames[indices], target[indices]
        texts = texts[indices] if texts is not None else None

    if texts is None:
        # latin-1 decodes any byte, as in scikit-learn's load_files(..., encoding="latin1").
        docs = [Path(f).read_bytes().decode("latin1") for f in filenames]
    else:
        docs = texts.tolist()
    # Stripping is per document, so doing it after filtering gives scikit-learn's result.
    if "headers" in remove:
        docs = [strip_newsgroup_header(d) for d in docs]
    if "footers" in remove:
        docs = [strip_newsgroup_footer(d) for d in docs]
    if "quotes" in remove:
        docs = [strip_newsgroup_quoting(d) for d in docs]

    return TextData(
        texts=docs,
        labels=[target_names[i] for i in target],
        target=target,
        class_names=list(target_names),
        filenames=[str(f) for f in filenames],
        source=source,
    )
