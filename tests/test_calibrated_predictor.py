"""Calibration and abstaining through every path: Learner, Predictor, save / load, streaming,
the CLI and the HTTP service apply one temperature; labels never change; min_confidence abstains."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tfclf
from tfclf import cli
from tfclf.classifier import set_temperature, temperature_of
from tfclf.inference import to_probabilities

TEXTS = ["the movie was good and i love it", "awful plot , i hate this film", "", "a film", "good but awful"]
T = 2.5


def _at_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    # softmax(log p / T) = softmax(z / T): the log-sum-exp of z is a constant per row.
    return to_probabilities(np.log(probs) / temperature, "multiclass")


@pytest.fixture(scope="module")
def calibrated(trained, tmp_path_factory):
    """The shared model's predictor as trained, and at temperature T saved and reloaded."""
    plain = tfclf.get_predictor(trained.learner.model, trained.t)
    hot = tfclf.get_predictor(trained.learner.model, trained.t)
    hot.temperature = T
    folder = hot.save(tmp_path_factory.mktemp("calibrated") / "p")
    return plain, hot, str(folder)


def test_every_path_applies_the_saved_temperature_and_keeps_the_labels(calibrated, tmp_path, capsys):
    plain, hot, folder = calibrated
    expected = _at_temperature(plain.predict_proba(TEXTS), T)
    np.testing.assert_allclose(hot.predict_proba(TEXTS), expected, atol=1e-6)
    assert hot.predict(TEXTS) == plain.predict(TEXTS)
    reloaded = tfclf.load_predictor(folder, precision="float32")
    assert reloaded.temperature == T and reloaded.manifest_["temperature"] == T
    np.testing.assert_allclose(reloaded.predict_proba(TEXTS), expected, atol=2e-2)  # float32 vs the model's policy
    out = tmp_path / "out.jsonl"
    (tmp_path / "in.txt").write_text("\n".join(TEXTS[:2]) + "\n")
    reloaded.predict_file(str(tmp_path / "in.txt"), str(out), progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    streamed = np.array([[r["probabilities"]["neg"], r["probabilities"]["pos"]] for r in rows])
    np.testing.assert_allclose(streamed, reloaded.predict_proba(TEXTS[:2]), atol=1e-5)
    assert cli.main(["predict", folder, TEXTS[0], "--proba"]) == 0
    line = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose([line["probabilities"]["neg"], line["probabilities"]["pos"]],
                               tfclf.load_predictor(folder).predict_proba(TEXTS[0]), atol=1e-5)
    assert cli.main(["info", folder]) == 0 and "temperature 2.5" in capsys.readouterr().out


def test_predictor_calibrate_fits_reports_and_keeps_labels(calibrated, toy_data):
    plain, _, _ = calibrated
    predictor = tfclf.get_predictor(plain.model, plain.preproc)
    texts, labels = toy_data["val"]
    before = predictor.predict(texts)
    report = predictor.calibrate(texts, labels, verbose=0)
    assert report["temperature"] == predictor.temperature > 0 and report["n_bins"] == 15
    assert report["after"]["log_loss"] <= report["before"]["log_loss"] + 1e-9
    assert report["after"]["accuracy"] == report["before"]["accuracy"]
    assert predictor.predict(texts) == before
    with pytest.raises(ValueError, match="different lengths"):
        predictor.calibrate(texts, labels[:-1], verbose=0)
    with pytest.raises(ValueError, match="two classes"):
        predictor.calibrate(["good", "great"], ["pos", "pos"], verbose=0)


def test_learner_calibrate_records_the_temperature_for_get_predictor(trained, capsys):
    learner = trained.learner
    before = learner.metrics()
    try:
        report = learner.calibrate()
        assert "ECE" in capsys.readouterr().out
        assert temperature_of(learner.model) == report["temperature"]
        after = learner.metrics()
        assert after["accuracy"] == before["accuracy"]
        assert after["log_loss"] == pytest.approx(report["after"]["log_loss"], abs=1e-4)
        assert tfclf.get_predictor(learner.model, trained.t).temperature == report["temperature"]
    finally:
        set_temperature(learner.model, 1.0)  # the shared model stays as trained for other tests
    assert learner.metrics()["log_loss"] == pytest.approx(before["log_loss"])


def test_min_confidence_abstains_in_python_and_the_cli(calibrated, capsys):
    plain, _, folder = calibrated
    probs = plain.predict_proba(TEXTS)
    cut = float(np.sort(probs.max(1))[2])  # the two least sure texts fall below it
    labels = plain.predict(TEXTS, min_confidence=cut)
    assert [lab is None for lab in labels] == list(probs.max(1) < cut) and labels.count(None) >= 1
    assert [lab for lab in labels if lab is not None] == [lab for lab, p in zip(plain.predict(TEXTS), probs.max(1))
                                                           if p >= cut]
    assert plain.predict(TEXTS, min_confidence=0.0) == plain.predict(TEXTS)
    assert plain.predict(TEXTS[2], min_confidence=float(probs[2].max()) + 1e-9) is None
    for bad in (-0.1, 1.5, float("nan"), True, "0.5"):
        with pytest.raises((ValueError, TypeError), match="min_confidence"):
            plain.predict(TEXTS, min_confidence=bad)
    saved_probs = tfclf.load_predictor(folder).predict_proba(TEXTS[:2])
    cut = float(saved_probs.max(1).min()) + 1e-9  # above the least sure of the two
    assert cli.main(["predict", folder, *TEXTS[:2], "--min-confidence", str(cut)]) == 0
    out = capsys.readouterr().out.split("\n")[:2]
    assert out.count("") == 1 and set(out) - {""} <= {"pos", "neg"}  # the abstention is an empty line
    assert cli.main(["predict", folder, TEXTS[0], "--min-confidence", "2"]) == 1
    assert "min_confidence" in capsys.readouterr().err


def test_min_confidence_over_http(calibrated):
    from fastapi.testclient import TestClient

    from tfclf import serve

    plain, _, _ = calibrated
    cut = float(np.sort(plain.predict_proba(TEXTS).max(1))[2])
    with TestClient(serve.create_app(plain, batch_wait_ms=0)) as client:
        body = client.post("/predict", json={"texts": TEXTS, "min_confidence": cut}).json()
        assert body["labels"] == plain.predict(TEXTS, min_confidence=cut) and None in body["labels"]
        body = client.post("/predict", json={"texts": TEXTS, "min_confidence": 0}).json()
        assert body["labels"] == plain.predict(TEXTS)
        assert client.post("/predict", json={"texts": TEXTS, "min_confidence": 1.5}).status_code == 422


def test_regression_cannot_abstain(tiny_distilbert_dir):
    from tfclf import text

    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(["a", "b"], [0.5, 2.0], verbose=0)
    predictor = tfclf.get_predictor(t.get_classifier(), t)
    with pytest.raises(ValueError, match="regression"):
        predictor.predict(["a"], min_confidence=0.5)
    with pytest.raises(ValueError, match="regression"):
        predictor.calibrate(["a", "b"], [0.5, 2.0], verbose=0)
