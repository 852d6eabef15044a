"""Multi-label metrics, threshold tuning, stratified splits and label lists: NumPy only, plus one
tiny-model run through Learner.tune_thresholds and the Predictor's save / load."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

import helpers
from tfclf.datasets import split_indices, train_test_split
from tfclf.datasets.split import iterative_stratification
from tfclf.labels import MULTILABEL, LabelCodec
from tfclf.multilabel import multilabel_metrics, thresholds_array, tune_thresholds


CUTS = np.array([0.15, 0.2, 0.25, 0.3, 0.7])


def _noisy(n=600, k=5, seed=0, prevalence=(0.05, 0.1, 0.2, 0.3, 0.5)):
    """Scores that separate each label's positives from its negatives near a label-specific cut
    (`CUTS`), with a little overlap: no single threshold suits every label, and 0.5 suits few."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < np.asarray(prevalence)[:k]).astype(int)
    cut = CUTS[:k]
    negatives = rng.random((n, k)) * cut
    positives = cut - 0.05 + rng.random((n, k)) * 0.3
    return y, np.clip(np.where(y == 1, positives, negatives), 0, 1)


# --------------------------------------------------------------------------- metrics


@pytest.mark.parametrize("threshold", [0.5, 0.3, [0.2, 0.3, 0.4, 0.5, 0.6]])
def test_metrics_match_scikit_learn(threshold):
    y, p = _noisy()
    pred = (p >= thresholds_array(threshold, 5)).astype(int)
    m = multilabel_metrics(y, p, threshold, class_names=list("abcde"))
    assert m["micro_f1"] == pytest.approx(skm.f1_score(y, pred, average="micro"))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert m["hamming_loss"] == pytest.approx(skm.hamming_loss(y, pred))
    assert m["subset_accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["micro_precision"] == pytest.approx(skm.precision_score(y, pred, average="micro"))
    assert m["micro_recall"] == pytest.approx(skm.recall_score(y, pred, average="micro"))
    per = skm.precision_recall_fscore_support(y, pred, zero_division=0)
    for j, name in enumerate("abcde"):
        assert m["per_label"][name]["precision"] == pytest.approx(per[0][j])
        assert m["per_label"][name]["recall"] == pytest.approx(per[1][j])
        assert m["per_label"][name]["f1"] == pytest.approx(per[2][j])
        assert m["per_label"][name]["support"] == per[3][j]


def test_label_absent_and_never_predicted_counts_as_perfect_in_macro_f1():
    y = np.array([[1, 0], [0, 0], [1, 0]])
    p = np.array([[0.9, 0.1], [0.2, 0.1], [0.8, 0.2]])
    assert multilabel_metrics(y, p)["macro_f1"] == 1.0
    # ...but predicting it anyway costs: F1 0 for that label.
    assert multilabel_metrics(y, p, [0.5, 0.15])["macro_f1"] == 0.5


def test_metrics_reject_bad_shapes_and_thresholds():
    y, p = _noisy(n=10)
    with pytest.raises(ValueError, match="shape"):
        multilabel_metrics(y, p[:, :3])
    with pytest.raises(ValueError, match="2-D"):
        multilabel_metrics(y[:, 0], p[:, 0])
    with pytest.raises(ValueError, match="one per label"):
        multilabel_metrics(y, p, [0.5, 0.5])
    with pytest.raises(ValueError, match="finite"):
        multilabel_metrics(y, p, float("nan"))


# --------------------------------------------------------------------------- threshold tuning


@pytest.mark.parametrize("metric", ["micro_f1", "macro_f1"])
def test_tuned_thresholds_beat_one_half_and_are_what_they_claim(metric):
    y, p = _noisy()
    result = tune_thresholds(y, p, metric=metric)
    assert result.metric == metric and len(result.thresholds) == 5
    assert result.score_at_default == pytest.approx(multilabel_metrics(y, p, 0.5)[metric])
    assert result.score_global == pytest.approx(multilabel_metrics(y, p, result.global_threshold)[metric])
    assert result.score == pytest.approx(multilabel_metrics(y, p, result.thresholds)[metric])
    # Label-specific cuts: per-label thresholds beat the best single one, which beats 0.5.
    assert result.score > result.score_global > result.score_at_default
    # Each label's threshold lands at its cut (within the 0.05 overlap of the two classes).
    assert np.abs(np.array(result.thresholds) - CUTS).max() <= 0.06


def test_macro_f1_thresholds_are_each_labels_own_best():
    y, p = _noisy(seed=3)
    result = tune_thresholds(y, p, metric="macro_f1")
    grid = np.round(np.arange(0.02, 0.981, 0.01), 2)
    for j, t in enumerate(result.thresholds):
        f1s = [skm.f1_score(y[:, j], p[:, j] >= g, zero_division=0) for g in grid]
        assert skm.f1_score(y[:, j], p[:, j] >= t) == pytest.approx(max(f1s))


def test_perfectly_separable_labels_keep_one_half_and_unseen_labels_keep_the_global_cut():
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    p = np.array([[0.9, 0.1, 0.3], [0.2, 0.8, 0.1], [0.7, 0.9, 0.2], [0.1, 0.2, 0.4]])
    result = tune_thresholds(y, p)
    # 0.5 is already perfect; ties keep the value nearest 0.5.
    assert result.score == result.score_at_default == 1.0 and result.thresholds == [0.5, 0.5, 0.5]
    # A label with no positives is not tuned towards "never": it keeps the global threshold.
    y2, p2 = _noisy(n=200, k=3, prevalence=(0.3, 0.3, 0.0))
    r2 = tune_thresholds(y2, p2)
    assert r2.thresholds[2] == r2.global_threshold


def test_tune_thresholds_rejects_an_unknown_metric():
    y, p = _noisy(n=10)
    with pytest.raises(ValueError, match="micro_f1"):
        tune_thresholds(y, p, metric="accuracy")


# --------------------------------------------------------------------------- splits


def test_iterative_stratification_keeps_every_labels_share():
    y, _ = _noisy(n=2000, k=5, seed=1)
    test = iterative_stratification(y, 500, seed=0)
    assert test.sum() == 500
    share = y[test].sum(axis=0) / y.sum(axis=0)
    assert np.abs(share - 0.25).max() < 0.02
    # Seeds change which rows, not the sizes.
    other = iterative_stratification(y, 500, seed=1)
    assert other.sum() == 500 and (other != test).any()


def test_multilabel_split_sends_single_occurrence_labels_to_training():
    x = [f"doc {i}" for i in range(40)]
    y = [["a"] if i % 2 else ["b"] for i in range(38)] + [["a", "rare"], []]
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, seed=0)
    assert len(x_te) == 10 and len(x_tr) == 30
    assert "doc 38" in x_tr and all("rare" not in labels for labels in y_te)
    assert sorted(x_tr + x_te) == sorted(x) and set(x_tr).isdisjoint(x_te)
    # The same seed gives the same split; labels stay paired with their texts.
    assert train_test_split(x, y, test_size=0.25, seed=0)[1] == x_te
    assert all(y[x.index(doc)] == lab for doc, lab in zip(x_te, y_te))


def test_multi_hot_array_split_returns_arrays():
    y, _ = _noisy(n=100, k=3)
    x = np.array([f"t{i}" for i in range(100)])
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, seed=4)
    assert isinstance(y_te, np.ndarray) and y_te.shape == (20, 3) and x_te.shape == (20,)


def test_single_label_split_is_stratified_and_keeps_singletons_in_training():
    labels = ["a"] * 60 + ["b"] * 30 + ["c"] * 9 + ["d"]
    train, test = split_indices(labels, test_size=0.2, seed=0)
    assert len(test) == 20 and 99 in train
    got = {c: sum(labels[i] == c for i in test) for c in "abcd"}
    assert got == {"a": 12, "b": 6, "c": 2, "d": 0}


@pytest.mark.parametrize("test_size", [0, 1.0, 1.5, 100, -3])
def test_split_rejects_impossible_sizes(test_size):
    with pytest.raises(ValueError, match="test_size"):
        split_indices(["a", "b"] * 50, test_size=test_size)


def test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="one label"):
        train_test_split(["a", "b", "c"], ["x", "y"])


# --------------------------------------------------------------------------- label lists


def test_lists_of_class_names_are_multilabel_targets():
    codec = LabelCodec().fit([["sports", "politics"], [], ["tech"]])
    assert codec.mode_ == MULTILABEL and codec.classes_ == ["politics", "sports", "tech"]
    np.testing.assert_array_equal(codec.encode([["tech"], ["politics", "tech"]]), [[0, 0, 1], [1, 0, 1]])
    named = LabelCodec(class_names=["tech", "sports", "politics"]).fit([["sports"], ["tech"]])
    assert named.classes_ == ["tech", "sports", "politics"]
    with pytest.raises(ValueError, match="unknown label 'cooking'"):
        codec.encode([["cooking"]])
    with pytest.raises(ValueError, match="multilabel=False"):
        LabelCodec(multilabel=False).fit([["a"], ["b"]])
    assert codec.decode(np.array([[0.9, 0.2, 0.6]]), threshold=[0.95, 0.1, 0.5]) == [["sports", "tech"]]


# --------------------------------------------------------------------------- end to end


def test_tuned_thresholds_flow_from_learner_to_saved_predictor(tiny_distilbert_dir, tmp_path, capsys):
    import tfclf
    from tfclf import text

    x, y = helpers.toy_multilabel(256, seed=3)
    vx, vy = helpers.toy_multilabel(96, seed=4)
    names = helpers.MULTILABEL_CLASSES
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32, class_names=names)
    trn = t.preprocess_train(x, y, verbose=0)
    val = t.preprocess_test(vx, vy, verbose=0)
    tfclf.set_seed(0)
    learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=16, seed=0)
    # One short epoch: the ranking is learned before the probabilities cross 0.5 (measured).
    learner.fit_onecycle(1e-3, 1, verbose=0)
    before = learner.metrics()
    result = learner.tune_thresholds(metric="micro_f1")
    assert "with per-label thresholds" in capsys.readouterr().out
    after = learner.metrics()
    assert after["micro_f1"] == pytest.approx(result.score) and before["micro_f1"] == pytest.approx(
        result.score_at_default)
    assert result.score > result.score_at_default
    assert learner.thresholds_ == result.thresholds
    report_cm = learner.validate()
    out = capsys.readouterr().out
    assert "micro-F1" in out and "Hamming loss" in out and "(tuned thresholds)" in out
    assert report_cm.shape == (3, 2, 2)
    # get_predictor(learner.model, t) sees the thresholds although it never sees the Learner.
    predictor = tfclf.get_predictor(learner.model, t)
    assert predictor.threshold == result.thresholds
    labels = predictor.predict(vx)
    expected = [[c for c, p, th in zip(names, row, result.thresholds) if p >= th] for row in predictor.predict_proba(vx)]
    assert labels == expected
    loaded = tfclf.load_predictor(predictor.save(tmp_path / "tuned"))
    assert loaded.threshold == result.thresholds and loaded.predict(vx) == labels
    # The Predictor can tune too, from texts and lists of class names.
    name_lists = [[names[j] for j in np.flatnonzero(row)] for row in vy]
    again = loaded.tune_thresholds(vx, name_lists, metric="macro_f1", verbose=0)
    assert loaded.threshold == again.thresholds and again.score >= again.score_at_default
    with pytest.raises(ValueError, match="one number or one per label"):
        tfclf.get_predictor(learner.model, t).__class__(learner.model, t, threshold=[0.5, 0.5])
