"""`Evaluation`: scores and inspections read from one prediction pass, against scikit-learn and by
hand; the Learner's delegates predict once and predict again only when the model changes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from tfclf.data import TextDataset
from tfclf.evaluation import Evaluation
from tfclf.inference import to_probabilities


def _data(targets, mode="multiclass", texts=None):
    n = len(targets)
    return TextDataset([[1, 2, 3]] * n, np.asarray(targets), texts=texts, maxlen=8, mode=mode)


def test_single_label_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    probs = to_probabilities(rng.normal(size=(50, 3)), "multiclass")
    y = rng.integers(0, 3, size=50)
    ev = Evaluation(probs, _data(y), class_names=["a", "b", "c"])
    pred = probs.argmax(1)
    assert ev.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert ev.metrics["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert ev.metrics["log_loss"] == pytest.approx(skm.log_loss(y, probs, labels=[0, 1, 2]))
    np.testing.assert_array_equal(ev.confusion_matrix(), skm.confusion_matrix(y, pred, labels=[0, 1, 2]))
    assert "a" in ev.report() and "macro avg" in ev.report()


def test_top_losses_rank_by_the_training_loss_with_names_and_text(capsys):
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95]])
    y = [0, 0, 1, 1]
    ev = Evaluation(probs, _data(y, texts=["fine", "wrong and sure", "wrong, unsure", "right"]),
                    class_names=["neg", "pos"])
    top = ev.top_losses(2, class_names=["neg", "pos"])
    assert [i for i, *_ in top] == [1, 2]
    assert top[0][1] == pytest.approx(-np.log(0.2)) and top[0][2:] == ("neg", "pos")
    assert ev.top_losses((1, 3))[0][0] == 2 and ev.top_losses(1)[0][2:] == (0, 1)  # ids without names
    ev.view_top_losses(1, class_names=["neg", "pos"])
    out = capsys.readouterr().out
    assert "id:1" in out and "wrong and sure" in out
    with pytest.raises(ValueError, match="positive int or a"):
        ev.top_losses((3, 1))


def test_multilabel_uses_its_thresholds():
    probs = np.array([[0.6, 0.3], [0.4, 0.7], [0.2, 0.35]])
    y = np.array([[1, 0], [0, 1], [0, 1]])
    plain = Evaluation(probs, _data(y, "multilabel"), class_names=["x", "y"])
    tuned = Evaluation(probs, _data(y, "multilabel"), class_names=["x", "y"], thresholds=[0.5, 0.32])
    assert plain.metrics["subset_accuracy"] == pytest.approx(2 / 3) and tuned.metrics["subset_accuracy"] == 1.0
    assert "(threshold 0.5)" in plain.report() and "(tuned thresholds)" in tuned.report()
    assert tuned.confusion_matrix().shape == (2, 2, 2)
    with pytest.raises(ValueError, match="single-label"):
        tuned.plot_confusion_matrix(show=False)


def test_regression_scores():
    values = np.array([[1.0], [2.5], [4.0]])
    ev = Evaluation(values, _data(np.array([1.0, 2.0, 5.0], dtype=np.float32), "regression"))
    assert ev.metrics["mae"] == pytest.approx(0.5) and ev.metrics["mse"] == pytest.approx((0.25 + 1) / 3)
    assert ev.validate(print_report=False) == {"mae": ev.metrics["mae"], "mse": ev.metrics["mse"]}
    with pytest.raises(ValueError, match="class labels"):
        ev.confusion_matrix()


def test_class_names_must_fit_the_outputs():
    ev = Evaluation(np.array([[0.5, 0.5]]), _data([0]))
    assert ev.class_names == ["0", "1"]
    with pytest.raises(ValueError, match="has 3 names; the model has 2 outputs"):
        ev.report(["a", "b", "c"])


def test_unlabeled_data_is_refused():
    with pytest.raises(ValueError, match="labeled data"):
        Evaluation(np.array([[0.5, 0.5]]), TextDataset([[1, 2]], None, maxlen=8))


def test_learner_inspections_predict_once_until_the_model_changes(trained, monkeypatch, capsys):
    from tfclf import evaluation

    learner = trained.learner
    calls = []
    real = evaluation.predict_logits

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "predict_logits", counting)
    learner._predicted = None  # whatever an earlier test left
    cm = learner.validate(print_report=False)
    learner.top_losses(3)
    learner.view_top_losses(2, preproc=trained.t)
    scores = learner.metrics()
    fig = learner.plot_confusion_matrix(show=False)
    assert len(calls) == 1, "validate, top_losses, view_top_losses, metrics and the plot share one pass"
    ev = learner.evaluation()
    np.testing.assert_array_equal(ev.confusion_matrix(), cm)
    assert ev.metrics == scores and fig is not None
    probs = learner.predict()
    probs[:] = 0  # the caller's copy: the kept pass is untouched
    assert learner.metrics() == scores and len(calls) == 1
    # New weights (set by hand, no optimizer step) mean a new pass.
    weights = learner.model.get_weights()
    try:
        learner.model.set_weights([w * 0.5 if w.ndim == 2 and w.shape[-1] == 2 else w for w in weights])
        learner.metrics()
        assert len(calls) == 2
    finally:
        learner.model.set_weights(weights)
    learner.metrics()
    assert len(calls) == 3
    capsys.readouterr()


def test_calibration_views_read_the_same_probabilities(tmp_path):
    from tfclf import calibration

    rng = np.random.default_rng(1)
    probs = to_probabilities(3 * rng.normal(size=(200, 3)), "multiclass")
    y = rng.integers(0, 3, size=200)
    ev = Evaluation(probs, _data(y))
    scores = ev.calibration(n_bins=10)
    assert scores["ece"] == pytest.approx(calibration.expected_calibration_error(probs, y, "multiclass", 10))
    assert scores["accuracy"] == pytest.approx(ev.metrics["accuracy"])
    assert scores["log_loss"] == pytest.approx(ev.metrics["log_loss"], abs=1e-6)
    assert ev.reliability_curve(10)["n_bins"] == 10
    curve = ev.risk_coverage()
    assert curve["coverage"][0] == 1.0 and curve["accuracy"][0] == pytest.approx(ev.metrics["accuracy"])
    assert ev.plot_reliability(show=False, save_path=tmp_path / "r.png") is not None
    assert ev.plot_risk_coverage(show=False, save_path=tmp_path / "rc.png") is not None
    assert (tmp_path / "r.png").stat().st_size > 0 and (tmp_path / "rc.png").stat().st_size > 0
