"""Predictor: predictions, the pickle-free saved format (manifest, checksums, refusals), and reloading
in a fresh process. Its LIME explanations (`Predictor.explain`, tfclf.explain) are in test_explain.py."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfclf
from tfclf.manifest import FORMAT_VERSION, MANIFEST, PredictorFormatError, read_manifest

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "the movie was good and i love it",
    "awful plot , i hate this film",
    "",
    " ".join(["great"] * 80),  # longer than maxlen: truncated
    "terrible",
    "a wonderful story with a bad ending and great music",
]


@pytest.fixture(scope="module")
def predictor(trained):
    return tfclf.get_predictor(trained.learner.model, trained.t, batch_size=4)


@pytest.fixture(scope="module")
def saved(predictor, tmp_path_factory) -> Path:
    return predictor.save(tmp_path_factory.mktemp("predictors") / "toy")


def _copy(saved: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(saved, dst)
    return dst


# --------------------------------------------------------------------------- predicting


def test_predict_one_string_gives_one_label(predictor):
    assert predictor.predict("good great love") == "pos"
    assert predictor.predict("bad awful hate") == "neg"
    assert predictor.get_classes() == ["neg", "pos"] == predictor.classes_


def test_predict_list_gives_a_list(predictor):
    labels = predictor.predict(TEXTS)
    assert isinstance(labels, list) and len(labels) == len(TEXTS)
    assert labels[:2] == ["pos", "neg"] and labels[4] == "neg"
    assert set(labels) <= {"neg", "pos"}
    assert predictor.predict(("good", "bad")) == ["pos", "neg"]  # any sequence of str


def test_predict_proba_rows_sum_to_one(predictor):
    probs = predictor.predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert np.all((probs >= 0) & (probs <= 1))
    assert [predictor.get_classes()[i] for i in probs.argmax(axis=1)] == predictor.predict(TEXTS)
    single = predictor.predict_proba(TEXTS[0])
    assert single.shape == (2,)
    np.testing.assert_allclose(predictor.predict(TEXTS[0], return_proba=True), single)


def test_empty_string_has_a_defined_result(predictor):
    probs = predictor.predict_proba("")
    assert np.all(np.isfinite(probs)) and probs.sum() == pytest.approx(1.0)
    assert predictor.predict("") in ("neg", "pos")
    assert predictor.predict_proba(" ") == pytest.approx(probs)  # whitespace only: the same tokens


def test_results_do_not_depend_on_batching(predictor, trained):
    # Documents are sorted by length into batches and put back in order; padding must not leak.
    alone = np.stack([predictor.predict_proba(t) for t in TEXTS])
    big_batches = tfclf.get_predictor(trained.learner.model, trained.t, batch_size=64).predict_proba(TEXTS)
    np.testing.assert_allclose(predictor.predict_proba(TEXTS), alone, atol=1e-5)
    np.testing.assert_allclose(big_batches, alone, atol=1e-5)


def test_predict_input_errors(predictor, trained):
    with pytest.raises(TypeError):
        predictor.predict(None)
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        predictor.predict(["good", 3])
    with pytest.raises(ValueError, match="batch_size"):
        tfclf.get_predictor(trained.learner.model, trained.t, batch_size=0)
    from tfclf import text

    with pytest.raises(RuntimeError, match="preprocess_train"):
        tfclf.get_predictor(trained.learner.model, text.Transformer("unused-name"))
    with pytest.raises(TypeError, match="Transformer"):
        tfclf.get_predictor(trained.learner.model, "preproc")


# --------------------------------------------------------------------------- saving


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_saved_folder_has_a_complete_manifest(saved, trained):
    manifest = json.loads((saved / MANIFEST).read_text())
    assert manifest["format"] == "tfclf-predictor" and manifest["format_version"] == FORMAT_VERSION == 1
    assert manifest["labels"] == {"mode": "multiclass", "classes": ["neg", "pos"]}
    assert manifest["maxlen"] == 32
    assert manifest["model_type"] == "distilbert"
    assert manifest["versions"]["tfclf"] == tfclf.__version__
    others = sorted(p.name for p in saved.iterdir() if p.name != MANIFEST)
    assert sorted(manifest["files"]) == others  # every other file, and only those
    assert {"config.json", "tf_model.h5", "tokenizer.json"} <= set(others)
    for name, digest in manifest["files"].items():
        assert digest == _sha256(saved / name)
    assert read_manifest(saved)["maxlen"] == 32


def test_saved_folder_has_no_pickle(saved):
    for p in saved.iterdir():
        assert p.suffix not in (".pkl", ".pickle", ".bin", ".pt", ".joblib", ".preproc"), p.name
        head = p.read_bytes()[:2]
        assert not (head[:1] == b"\x80" and 2 <= head[1] <= 5), f"{p.name} starts like a pickle"


def test_load_predictor_in_a_fresh_process_from_another_directory(saved, predictor, tmp_path):
    # A new interpreter, another working directory, offline, sockets refused, and the model name
    # made unresolvable: everything must come from the saved folder.
    moved = tmp_path / "elsewhere" / "predictor"
    shutil.copytree(saved, moved)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    out = tmp_path / "probs.npy"
    script = f"""
import socket, sys
def refuse(*a, **k):
    raise RuntimeError("network access while loading a saved predictor")
socket.socket.connect = refuse
socket.create_connection = refuse
import numpy as np
import tfclf, tfclf.models
def unresolvable(*a, **k):
    raise RuntimeError("load_predictor resolved the original model name")
tfclf.models.resolve_model = unresolvable
p = tfclf.load_predictor({str(moved)!r})
np.save({str(out)!r}, p.predict_proba({TEXTS!r}))
print("classes", p.get_classes(), "labels", p.predict({TEXTS[:2]!r}))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", script], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "classes ['neg', 'pos'] labels ['pos', 'neg']" in done.stdout
    np.testing.assert_allclose(np.load(out), predictor.predict_proba(TEXTS), atol=1e-6, rtol=0)


def test_load_predictor_in_process(saved, predictor):
    loaded = tfclf.load_predictor(saved)
    assert loaded.get_classes() == predictor.get_classes() and loaded.mode == "multiclass"
    assert loaded.preproc.maxlen == 32 and loaded.batch_size == 4
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), predictor.predict_proba(TEXTS), atol=1e-6, rtol=0)
    assert tfclf.load_predictor(saved, batch_size=2).batch_size == 2


@pytest.mark.parametrize("name, content", [("preproc.pkl", b"anything"), ("extra.dat", b"\x80\x04\x95 pickled"),
                                           ("pytorch_model.bin", b"PK\x03\x04")])
def test_a_folder_with_a_pickle_is_refused(saved, tmp_path, name, content):
    folder = _copy(saved, tmp_path)
    (folder / name).write_bytes(content)
    with pytest.raises(PredictorFormatError, match=rf"contains {name}, which is or may be a pickle"):
        tfclf.load_predictor(folder)


@pytest.mark.parametrize("name", ["config.json", "tf_model.h5", "tokenizer.json"])
def test_a_tampered_file_is_refused_by_name(saved, tmp_path, name):
    folder = _copy(saved, tmp_path)
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(PredictorFormatError, match=rf"{name} does not match its checksum"):
        tfclf.load_predictor(folder)


def test_a_truncated_or_missing_file_is_refused(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    weights = folder / "tf_model.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(PredictorFormatError, match="tf_model.h5 does not match"):
        tfclf.load_predictor(folder)
    weights.unlink()
    with pytest.raises(PredictorFormatError, match="incomplete: tf_model.h5 is missing"):
        tfclf.load_predictor(folder)


def _edit_manifest(folder: Path, **changes) -> None:
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest.update(changes)
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_unknown_format_version_is_refused(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    _edit_manifest(folder, format_version=99)
    with pytest.raises(PredictorFormatError, match="format version 99; this tfclf reads versions 1, 2"):
        tfclf.load_predictor(folder)


def test_bad_manifests_are_refused(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    _edit_manifest(folder, files={"../outside.json": "0" * 64})
    with pytest.raises(PredictorFormatError, match="outside the folder"):
        tfclf.load_predictor(folder)
    _edit_manifest(folder, format="something-else")
    with pytest.raises(PredictorFormatError, match="not a tfclf-predictor manifest"):
        tfclf.load_predictor(folder)
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(PredictorFormatError, match="not valid JSON"):
        tfclf.load_predictor(folder)
    (folder / MANIFEST).unlink()
    with pytest.raises(FileNotFoundError, match="manifest.json is missing"):
        tfclf.load_predictor(folder)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tfclf.load_predictor(tmp_path / "nothing")


def test_save_over_an_existing_predictor_replaces_it(predictor, saved, tmp_path):
    target = tmp_path / "pred"
    predictor.save(target)
    (target / "stale.txt").write_text("left from an older save")
    first = json.loads((target / MANIFEST).read_text())
    predictor.threshold = 0.7  # something that shows in the new manifest
    try:
        predictor.save(target)
    finally:
        predictor.threshold = 0.5
    assert not (target / "stale.txt").exists()  # replaced, not merged
    second = read_manifest(target)
    assert second["threshold"] == 0.7 and first["threshold"] == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred"]  # no temporary folders left behind
    assert tfclf.load_predictor(target).threshold == 0.7


@pytest.mark.parametrize("fault", [RuntimeError("crash midway"), OSError(28, "No space left on device")])
def test_an_interrupted_save_leaves_nothing_loadable_and_keeps_the_old_predictor(predictor, saved, tmp_path,
                                                                                  monkeypatch, fault):
    import shutil

    target = tmp_path / "p"
    shutil.copytree(saved, target)
    old = tfclf.load_predictor(target).predict_proba(["good movie"])

    def fail(*args, **kwargs):  # the tokenizer is written after the model: a crash midway
        raise fault

    monkeypatch.setattr(predictor.preproc.get_tokenizer(), "save_pretrained", fail)
    with pytest.raises(type(fault)):
        predictor.save(target)
    # The old predictor is untouched and still loads; no half-written folder is left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]
    np.testing.assert_allclose(tfclf.load_predictor(target).predict_proba(["good movie"]), old, atol=1e-7)
    with pytest.raises(type(fault)):
        predictor.save(tmp_path / "new")
    assert not (tmp_path / "new").exists()
