"""MPNet (the architecture of all-mpnet-base-v2, issue 29) through the whole workflow on a tiny
config with sentence-transformers' pooling files: preprocess, train with mean pooling under a
distribution strategy, predict, explain both ways, save and reload, export to ONNX, cross-validate."""

from __future__ import annotations

import json

import numpy as np
import pytest

import helpers

import tfclf
from tfclf import text


@pytest.fixture(scope="module")
def mpnet_dir(tmp_path_factory):
    folder = helpers.save_tiny_encoder("mpnet", tmp_path_factory.mktemp("tiny-mpnet"))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}))
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    return folder


def test_mpnet_trains_predicts_explains_saves_and_exports(mpnet_dir, tmp_path):
    from tfclf._compat import tf, transformers

    texts, labels = helpers.toy_sentiment(48, seed=2)
    t = text.Transformer(str(mpnet_dir), maxlen=32)  # pooling="auto": mean, from the pooling files
    trn = t.preprocess_train(texts[:40], labels[:40], verbose=0)
    val = t.preprocess_test(texts[40:], labels[40:], verbose=0)
    model = t.get_classifier()
    assert isinstance(model, transformers.TFMPNetPreTrainedModel)
    learner = tfclf.get_learner(model, trn, val, batch_size=8, seed=0, strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))
    before = [w.numpy().copy() for w in learner.model.trainable_weights]
    learner.fit_onecycle(3e-3, 2, verbose=0)
    assert all(not np.allclose(b, w.numpy()) for b, w in zip(before[-2:], learner.model.trainable_weights[-2:]))

    predictor = tfclf.get_predictor(learner.model, t)
    probs = predictor.predict_proba(texts[40:])
    assert probs.shape == (8, 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    lime = predictor.explain(texts[40], num_samples=40)
    gradients = predictor.explain(texts[40], method="gradients", steps=32)
    assert lime.method == "lime" and gradients.method == "gradients" and gradients.completeness_error < 0.05

    saved = predictor.save(tmp_path / "mpnet")
    assert json.loads((saved / "config.json").read_text())["tfclf_pooling"] == "mean"
    reloaded = tfclf.load_predictor(saved)
    np.testing.assert_allclose(reloaded.predict_proba(texts[40:]), probs, atol=1e-5)

    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    exported = tfclf.load_predictor(reloaded.export(tmp_path / "mpnet-onnx", format="onnx"))
    assert exported.predict(texts[40:]) == reloaded.predict(texts[40:])
    np.testing.assert_allclose(exported.predict_proba(texts[40:]), probs, atol=1e-3)


def test_mpnet_cross_validates(mpnet_dir):
    texts, labels = helpers.toy_sentiment(24, seed=4)
    cv = tfclf.cross_validate(texts, labels, str(mpnet_dir), n_splits=2, seed=0, lr=3e-3, epochs=1, maxlen=32,
                              verbose=0)
    assert len(cv.folds) == 2 and all(0 <= f["accuracy"] <= 1 for f in cv.folds)
