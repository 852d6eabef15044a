"""Acting on a model's view of the data: label issues from out-of-fold probabilities, train/test
overlap from embeddings, `embed`, and the binary decision threshold."""

from __future__ import annotations

import numpy as np
import pytest

import helpers

import tfclf
from tfclf.classifier import set_thresholds, thresholds_of
from tfclf.cross_validation import CVResult
from tfclf.label_issues import find_label_issues
from tfclf.multilabel import tune_binary_threshold
from tfclf.overlap import find_overlap


def _noisy_set(n=400, k=4, flips=20, seed=0):
    """Probabilities of a good model (confident in the true class, sometimes unsure), and given
    labels with `flips` of them changed to another class at random."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += rng.uniform(2.5, 6, n)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    given = true.copy()
    flipped = rng.choice(n, flips, replace=False)
    given[flipped] = (true[flipped] + rng.integers(1, k, flips)) % k
    return probs, given, flipped


# --------------------------------------------------------------------------- label issues


def test_flipped_labels_rank_first():
    probs, given, flipped = _noisy_set()
    issues = find_label_issues(probs, given, ["a", "b", "c", "d"])
    at_k = issues.precision_recall(flipped, k=len(flipped))
    assert at_k["precision"] >= 0.9 and at_k["recall"] >= 0.9
    assert set(flipped) <= set(issues.flagged.tolist()) | set(issues.top(30).tolist())
    assert sorted(issues.order.tolist()) == list(range(len(probs)))  # every text ranked once
    assert issues.likely[flipped[0]] != issues.given[flipped[0]]
    # the flagged texts come first, each with a positive margin
    assert issues.order[: len(issues)].tolist() == issues.flagged.tolist()
    assert (issues.margin[issues.flagged] > 0).all()


def test_clean_labels_flag_little():
    probs, given, _ = _noisy_set(flips=0)
    issues = find_label_issues(probs, given, ["a", "b", "c", "d"])
    assert len(issues) <= 0.03 * len(probs)


def test_cv_result_finds_and_shows_label_issues(capsys):
    probs, given, flipped = _noisy_set(n=60, flips=3, seed=4)
    classes = ["w", "x", "y", "z"]
    cv = CVResult(folds=[], mean={}, std={}, oof_proba=probs, fold_of=np.zeros(60, int), classes_=classes,
                  mode="multiclass", targets=given)
    issues = cv.label_issues()
    texts = [f"text number {i}" for i in range(60)]
    issues.view(texts, n=2)
    out = capsys.readouterr().out
    first = int(issues.top(1)[0])
    assert f"id:{first} |" in out and f"given:{classes[given[first]]}" in out and f"text number {first}" in out
    with pytest.raises(ValueError, match="pass the texts given to cross_validate"):
        issues.view(texts[:10])
    with pytest.raises(ValueError, match="single-label"):
        CVResult(folds=[], mean={}, std={}, oof_proba=probs, fold_of=np.zeros(60, int), classes_=classes,
                 mode="multilabel", targets=given).label_issues()


def test_cross_validate_records_the_given_labels(tiny_distilbert_dir, toy_data):
    x, y = toy_data["train"]
    cv = tfclf.cross_validate(x[:40], y[:40], str(tiny_distilbert_dir), n_splits=2, epochs=1, maxlen=16,
                              batch_size=16, verbose=0)
    assert [cv.classes_[i] for i in cv.targets] == y[:40]
    issues = cv.label_issues()
    assert len(issues.order) == 40


@pytest.mark.parametrize("probs, labels, message", [
    (np.full((3, 2), 0.5), np.array([0, 1]), "class indices"),
    (np.full((3, 3), 1 / 3), np.array([0, 1, 2]), "one column per class"),
    (np.full((3, 2), 0.5), np.array([0, 1, 2]), "between 0 and 1"),
    (np.full((3, 2), 0.5), np.array([0.0, 1.0, 1.0]), "class indices"),
    (np.array([[0.5, np.nan]] * 3), np.array([0, 1, 1]), "finite"),
])
def test_label_issues_bad_inputs(probs, labels, message):
    with pytest.raises(ValueError, match=message):
        find_label_issues(probs, labels, ["a", "b"])


# --------------------------------------------------------------------------- embeddings and overlap


@pytest.fixture(scope="module")
def predictor(trained):
    return tfclf.get_predictor(trained.learner.model, trained.t, batch_size=16)


def test_embed_shape_and_determinism(predictor, toy_data):
    x = toy_data["val"][0][:9]
    first, again = predictor.embed(x), predictor.embed(list(reversed(x)))[::-1]
    dim = predictor.model.config.dim
    assert first.shape == (9, dim) and first.dtype == np.float32
    np.testing.assert_allclose(first, again, atol=1e-5)  # batch composition does not matter
    np.testing.assert_allclose(predictor.embed(x[0]), first[0], atol=1e-5)
    assert not np.allclose(first[0], first[1])


def test_embed_is_what_the_head_reads(predictor, toy_data):
    """DistilBERT's head (pre-classifier, then classifier) applied to the embedding gives the logits."""
    x = toy_data["val"][0][:5]
    vectors = predictor.embed(x)
    model = predictor.model
    logits = model.classifier(model.pre_classifier(vectors)).numpy()
    np.testing.assert_allclose(logits, helpers.logits_of(model, predictor.preproc, x), atol=1e-4)


def test_embed_averages_windows(tiny_distilbert_dir, toy_data):
    from tfclf import text

    x, y = toy_data["train"]
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=8, max_windows=4, pooling="mean")
    t.preprocess_train(x, y, verbose=0)
    p = tfclf.get_predictor(t.get_classifier(), t)
    long = [" ".join(x[:3]), x[3]]
    assert len(t.dataset(long)) > 2 and p.embed(long).shape == (2, 32)


def test_an_export_cannot_embed(predictor, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    loaded = tfclf.load_predictor(predictor.export(tmp_path / "onnx"))
    with pytest.raises(NotImplementedError, match="saved \\(TensorFlow\\) predictor"):
        loaded.embed(["a text"])


class _FixedVectors:
    """A stand-in predictor whose embeddings are given per text."""

    def __init__(self, table):
        self.table = table

    def embed(self, texts):
        return np.array([self.table[t] for t in texts], dtype=np.float32)


def test_overlap_finds_exact_and_near_copies():
    train = ["The cat sat.", "Dogs bark loudly at night", "Unrelated words here"]
    test = ["the  CAT sat.", "Dogs bark loudly at noon", "Something else entirely", "Other words there"]
    table = {"The cat sat.": [1, 0, 0], "Dogs bark loudly at night": [0, 1, 0], "Unrelated words here": [0, 0, 1],
             "the  CAT sat.": [1, 0, 0], "Dogs bark loudly at noon": [0.05, 1, 0], "Something else entirely": [1, 1, 1],
             "Other words there": [0, 0.01, 1]}  # as close as a copy, but shares one word of five: not one
    found = find_overlap(train, test, predictor=_FixedVectors(table), threshold=0.95)
    assert found.exact == [(0, 0)]
    assert [(i, j) for i, j, _, _ in found.near] == [(1, 1)] and found.near[0][2] > 0.99
    assert found.near[0][3] == pytest.approx(4 / 6)
    assert found.test_indices() == [0, 1]
    assert sorted(j for _, j, _, _ in find_overlap(train, test, predictor=_FixedVectors(table), min_jaccard=0).near) == [1, 3]
    assert "1 of 4 test texts have an exact copy" in found.summary()
    assert find_overlap(train, test).near == []  # no predictor: exact copies only


def test_overlap_with_a_real_predictor(predictor, toy_data):
    train = toy_data["train"][0][:30]
    test = [train[3].upper(), train[5] + " ", toy_data["val"][0][0]]
    found = find_overlap(train, test, predictor=predictor, threshold=0.999)
    assert (3, 0) in found.exact and (5, 1) in found.exact


@pytest.mark.parametrize("threshold", [0, 1.5, -0.2, True, "high"])
def test_overlap_refuses_bad_thresholds(threshold):
    with pytest.raises(ValueError, match="cosine similarity"):
        find_overlap(["a"], ["b"], threshold=threshold)
    with pytest.raises(ValueError, match="share of words"):
        find_overlap(["a"], ["b"], min_jaccard=threshold if threshold != 0 else -1)


# --------------------------------------------------------------------------- binary threshold


def test_tune_binary_threshold_finds_the_f1_optimum():
    # positives score 0.3-0.45, negatives 0.0-0.2: 0.5 finds none, a lower cut finds them all
    p1 = np.r_[np.linspace(0.3, 0.45, 10), np.linspace(0.0, 0.2, 30)]
    probs = np.c_[1 - p1, p1]
    targets = np.r_[np.ones(10, int), np.zeros(30, int)]
    result = tune_binary_threshold(targets, probs)
    assert result.score_at_default == 0 and result.score == 1.0 and 0.2 < result.thresholds[0] <= 0.3
    with pytest.raises(ValueError, match="one class only"):
        tune_binary_threshold(np.zeros(40, int), probs)
    with pytest.raises(ValueError, match="\\(n, 2\\)"):
        tune_binary_threshold(targets, np.c_[probs, probs])


def test_a_binary_threshold_decides_is_saved_and_travels(predictor, toy_data, tmp_path):
    x = toy_data["val"][0]
    probs = predictor.predict_proba(x)
    positive = predictor.get_classes()[1]
    cut = float(np.sort(probs[:, 1])[len(x) // 2 + 4])  # a few positives fall under it
    p = tfclf.get_predictor(predictor.model, predictor.preproc)
    p.threshold = cut
    want = [positive if q >= cut else predictor.get_classes()[0] for q in probs[:, 1]]
    assert p.predict(x) == want and want != predictor.predict(x)
    reloaded = tfclf.load_predictor(p.save(tmp_path / "saved"))
    assert reloaded.threshold == cut and reloaded.predict(x) == want
    pytest.importorskip("tf2onnx")
    assert tfclf.load_predictor(p.export(tmp_path / "onnx")).predict(x) == want


def test_tuning_a_binary_threshold_through_learner_and_predictor(trained, predictor, toy_data):
    model = trained.learner.model
    assert thresholds_of(model) is None
    try:
        result = trained.learner.tune_thresholds(verbose=0)
        assert thresholds_of(model) == list(result.thresholds) and len(result.thresholds) == 1
        assert tfclf.get_predictor(model, trained.t).threshold == result.thresholds[0]
    finally:
        set_thresholds(model, None)  # the fixture is shared
    p = tfclf.get_predictor(model, trained.t)
    result = p.tune_thresholds(*toy_data["val"], verbose=0)
    assert p.threshold == result.thresholds[0] and 0 < p.threshold < 1


def test_tune_thresholds_refuses_multiclass_with_more_than_two_classes(tiny_distilbert_dir):
    from tfclf import text

    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(["a", "b", "c"], ["x", "y", "z"], verbose=0)
    p = tfclf.get_predictor(t.get_classifier(), t)
    with pytest.raises(ValueError, match="multi-label and binary"):
        p.tune_thresholds(["a", "b", "c"], ["x", "y", "z"])
