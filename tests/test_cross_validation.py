"""cross_validate on the tiny model: folds, out-of-fold predictions, scores and memory release."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

import helpers
import tfclf


@pytest.fixture(scope="module")
def data():
    return helpers.toy_sentiment(360, seed=5)


def test_cross_validate_scores_every_fold_and_releases_each_model(tiny_distilbert_dir, data, monkeypatch, capsys):
    from tfclf import preprocess

    texts, labels = data
    built = []
    original = preprocess.Transformer.get_classifier

    def spy(self, *args, **kwargs):
        model = original(self, *args, **kwargs)
        built.append(weakref.ref(model))
        return model

    monkeypatch.setattr(preprocess.Transformer, "get_classifier", spy)
    # 240 training texts per fold, 3 epochs: 45 steps, as many as the shared `trained` fixture takes.
    cv = tfclf.cross_validate(texts, labels, str(tiny_distilbert_dir), n_splits=3, seed=0, lr=5e-3, epochs=3,
                              batch_size=16, maxlen=32, precision="float32")
    out = capsys.readouterr().out
    assert out.count("fold ") == 3 and "accuracy:" in out and "±" in out
    assert cv.mode == "multiclass" and cv.classes_ == ["neg", "pos"]
    assert [f["fold"] for f in cv.folds] == [0, 1, 2]
    assert sum(f["n_val"] for f in cv.folds) == len(texts)
    # Every text is held out exactly once, and its out-of-fold row is a probability row.
    assert sorted(np.bincount(cv.fold_of).tolist()) == [120, 120, 120]
    assert cv.oof_proba.shape == (360, 2) and np.allclose(cv.oof_proba.sum(axis=1), 1, atol=1e-5)
    # The scores are scikit-learn's on each fold's held-out rows.
    y = np.array([cv.classes_.index(v) for v in labels])
    for f in cv.folds:
        rows = cv.fold_of == f["fold"]
        assert f["accuracy"] == pytest.approx(accuracy_score(y[rows], cv.oof_proba[rows].argmax(axis=1)))
        assert f["log_loss"] == pytest.approx(log_loss(y[rows], cv.oof_proba[rows], labels=[0, 1]), rel=1e-4)
    assert cv.mean["accuracy"] == pytest.approx(np.mean([f["accuracy"] for f in cv.folds]))
    assert cv.std["accuracy"] == pytest.approx(np.std([f["accuracy"] for f in cv.folds], ddof=1))
    # A chance model scores 0.5; the shared fixture's run reaches 1.0 with as many steps.
    print(cv.summary())
    assert cv.mean["accuracy"] >= 0.9
    # Each fold's model was freed: nothing keeps the three of them alive.
    gc.collect()
    assert len(built) == 3 and all(ref() is None for ref in built)
    assert set(cv.to_json()) >= {"folds", "mean", "std", "settings"}


def test_cross_validate_multilabel_uses_iterative_folds(tiny_distilbert_dir):
    x, y = helpers.toy_multilabel(120, seed=3)
    cv = tfclf.cross_validate(x, y, str(tiny_distilbert_dir), n_splits=2, seed=1, lr=5e-3, epochs=1,
                              batch_size=16, maxlen=32, verbose=0, class_names=helpers.MULTILABEL_CLASSES,
                              precision="float32")
    assert cv.mode == "multilabel" and set(cv.mean) == {"micro_f1", "macro_f1", "hamming_loss"}
    assert cv.oof_proba.shape == (120, 3) and not np.isnan(cv.oof_proba).any()
    # Iterative stratification: each fold holds half of every label's positives (60 of 120 rows).
    for fold in (0, 1):
        assert abs(int(y[cv.fold_of == fold].sum(axis=0)[0]) - int(y[:, 0].sum()) // 2) <= 1


def test_cross_validate_rejects_bad_arguments(tiny_distilbert_dir, data):
    texts, labels = data
    with pytest.raises(ValueError, match="n_splits"):
        tfclf.cross_validate(texts, labels, str(tiny_distilbert_dir), n_splits=1)
    with pytest.raises(TypeError, match="unexpected argument 'epochz'"):
        tfclf.cross_validate(texts, labels, str(tiny_distilbert_dir), epochz=3)
    with pytest.raises(ValueError, match="fewer than n_splits"):
        tfclf.cross_validate(texts[:10], ["a"] * 9 + ["b"], str(tiny_distilbert_dir), n_splits=3)
    with pytest.raises(ValueError, match="labels"):
        tfclf.cross_validate(texts, labels[:-1], str(tiny_distilbert_dir))
