"""Predictor: predictions, the pickle-free saved format (manifest, checksums, refusals), reloading
in a fresh process, and LIME explanations."""

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
from tfclf.explain import Explanation
from tfclf.predictor import FORMAT_VERSION, MANIFEST, PredictorFormatError, read_manifest

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
    with pytest.raises(PredictorFormatError, match="format version 99; this tfclf reads version 1"):
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


# --------------------------------------------------------------------------- explain


def test_explain(predictor):
    # A positive and a negative word. How the tiny model weighs the two against each other varies
    # between training runs (measured: sometimes "awful" wins outright, sometimes "great"), so the
    # expected answer comes from the model itself: the word whose removal moves P(pos) most.
    doc = "the movie was great and the ending was awful"
    exp = predictor.explain(doc, num_samples=100, class_name="pos")
    assert isinstance(exp, Explanation)
    assert exp.class_name == "pos" and exp.predicted == predictor.predict(doc) and exp.num_samples == 100
    assert exp.probability == pytest.approx(predictor.predict_proba(doc)[1])
    weights = exp.as_list()
    assert all(isinstance(w, str) and isinstance(v, float) for w, v in weights)
    assert sorted(w for w, _ in weights) == sorted(set(doc.split()))  # 7 words, all weighed
    by_word = dict(weights)
    p_pos = predictor.predict_proba(doc)[1]
    effect = {w: p_pos - predictor.predict_proba(" ".join(x for x in doc.split() if x != w))[1] for w in by_word}
    dominant = max(effect, key=lambda w: abs(effect[w]))
    assert dominant in ("great", "awful")  # the model uses the sentiment words, nothing else
    assert max(by_word, key=lambda w: abs(by_word[w])) == dominant  # LIME finds that word...
    assert np.sign(by_word[dominant]) == np.sign(effect[dominant])  # ...and which way it pushes
    assert by_word["great"] > by_word["awful"]
    html = exp._repr_html_()
    assert "great" in html and "awful" in html and "<span" in html and "pos" in html
    text = str(exp)
    assert text.startswith("Explanation of class 'pos'") and "great" in text and "LIME, 100 samples" in text
    assert exp.as_dict()["weights"][0][0] == weights[0][0]
    # Repeatable: the same seed gives the same weights.
    assert predictor.explain(doc, num_samples=100, class_name="pos").as_list() == weights
    # Without class_name, the predicted class is explained.
    assert predictor.explain("bad awful", num_samples=50).class_name == "neg"


def test_explanation_shows_every_class_probability(predictor, tmp_path):
    doc = "great acting but an awful ending"
    exp = predictor.explain(doc, num_samples=60)
    probs = predictor.predict_proba(doc)
    assert list(exp.probabilities) == predictor.get_classes()
    np.testing.assert_allclose(list(exp.probabilities.values()), probs)
    html = exp.to_html()
    for name, p in exp.probabilities.items():
        assert f">{p:.3f}<" in html and name in html
    assert "towards the class" in html and "against it" in html
    assert "probabilities: neg" in str(exp)
    exp.save_html(tmp_path / "e.html")
    page = (tmp_path / "e.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<span" in page


def test_explanation_stability_compares_seeds(predictor, monkeypatch):
    import tfclf
    import tfclf.explain as E

    rows = tfclf.explanation_stability(predictor, ["bad awful film", "great fun great cast"],
                                       num_samples=(20, 40), seeds=(0, 1, 2), top_k=3)
    assert [r["num_samples"] for r in rows] == [20, 40]
    for r in rows:
        assert 0.0 <= r["min_overlap"] <= r["mean_overlap"] <= 1.0 and 0.0 <= r["identical_fraction"] <= 1.0
        assert r["seconds"] > 0
    # With every word weighed (top_k >= words), any two seeds pick the same set of words.
    assert all(r["mean_overlap"] == 1.0 and r["changed_words"] == 0 for r in rows)

    # Against a fake explainer whose top words are fixed per seed, the overlap is computed exactly.
    fake = {0: ["a", "b", "c"], 1: ["a", "b", "d"], 2: ["a", "e", "f"]}
    monkeypatch.setattr(E, "explain_text", lambda p, doc, num_features, num_samples, seed: E.Explanation(
        text=doc, class_name="x", probability=1.0, predicted="x", weights=[(w, 1.0) for w in fake[seed]]))
    (row,) = E.explanation_stability(predictor, ["doc"], num_samples=(10,), top_k=3)
    # pairs: (0,1) share 2 of 3, (0,2) share 1, (1,2) share 1
    assert row["mean_overlap"] == round((2 + 1 + 1) / 9, 4) and row["min_overlap"] == round(1 / 3, 4)
    assert row["changed_words"] == round((1 + 2 + 2) / 3, 3) and row["identical_fraction"] == 0.0
    with pytest.raises(ValueError, match="two seeds"):
        E.explanation_stability(predictor, ["doc"], seeds=(0,))


def test_explain_predicts_each_distinct_perturbation_once(predictor, monkeypatch):
    from lime.lime_text import LimeTextExplainer

    doc = "bad awful film"  # 3 words: at most 2**3 distinct perturbations, whatever num_samples is
    seen = []
    forward = predictor._forward

    def spy(texts):
        seen.append(list(texts))
        return forward(texts)

    monkeypatch.setattr(predictor, "_forward", spy)
    exp = predictor.explain(doc, num_samples=300, class_name="neg")
    lime_batch = max(seen, key=len)
    assert len(lime_batch) == len(set(lime_batch)) <= 8
    monkeypatch.setattr(predictor, "_forward", forward)
    # Same weights as LIME predicting all 300 samples one by one.
    naive = LimeTextExplainer(class_names=predictor.get_classes(), random_state=0, bow=True).explain_instance(
        doc, lambda ts: np.stack([predictor.predict_proba(t) for t in ts]), labels=[0], num_features=10,
        num_samples=300)
    got, want = dict(exp.as_list()), dict(naive.as_list(label=0))
    assert got.keys() == want.keys()
    for word in got:
        assert got[word] == pytest.approx(want[word], abs=1e-5)


def test_explain_other_classes(predictor):
    doc = "awful plot but great music"
    neg = predictor.explain(doc, num_samples=100, class_name="neg", num_features=3)
    assert neg.class_name == "neg" and len(neg.as_list()) <= 3
    both = predictor.explain(doc, num_samples=100, all_targets=True)
    assert [e.class_name for e in both] == ["neg", "pos"]
    # In a two-class softmax the two explanations mirror each other.
    pos_weights = dict(both[1].as_list())
    for word, weight in both[0].as_list():
        assert weight == pytest.approx(-pos_weights[word], abs=1e-6)


def test_explain_errors(predictor, tmp_path):
    with pytest.raises(ValueError, match="at least one word"):
        predictor.explain("   ")
    with pytest.raises(TypeError, match="one text"):
        predictor.explain(["good"])
    with pytest.raises(ValueError, match="class_name 'maybe'"):
        predictor.explain("good", class_name="maybe")
    with pytest.raises(ValueError, match="num_samples"):
        predictor.explain("good", num_samples=0)
    exp = predictor.explain("good movie", n_samples=50)  # ktrain's name for num_samples
    assert exp.num_samples == 50
    exp.save_html(tmp_path / "e.html")
    assert "good" in (tmp_path / "e.html").read_text()


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
