"""pooling="mean": the head reads the mean of the real tokens' last hidden states, for every
supported architecture, through training, saving, reloading and a distribution strategy."""

from __future__ import annotations

import json

import numpy as np
import pytest

import helpers

import tfclf
from tfclf import text
from tfclf.pooling import classifier_class, masked_mean


@pytest.fixture(scope="module", params=helpers.ARCHITECTURES)
def encoder_dir(request, tmp_path_factory):
    return request.param, helpers.save_tiny_encoder(request.param, tmp_path_factory.mktemp(f"pool-{request.param}"))


def _classifier(folder, pooling, texts, labels, **kwargs):
    t = text.Transformer(str(folder), maxlen=32, pooling=pooling, precision="float32", **kwargs)
    trn = t.preprocess_train(texts, labels, verbose=0)
    tfclf.set_seed(0)
    return t, trn, t.get_classifier()


def test_masked_mean_averages_only_the_real_tokens():
    hidden = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    got = masked_mean(hidden, mask).numpy()
    np.testing.assert_allclose(got[0], hidden[0, :2].mean(axis=0))
    np.testing.assert_allclose(got[1], hidden[1].mean(axis=0))
    # An all-padding row gives zeros, not NaN.
    assert np.all(masked_mean(hidden, np.zeros((2, 4))).numpy() == 0)


def _head_input(model, kind, ids, mask):
    encoder = getattr(model, model.base_model_prefix)
    hidden = encoder(input_ids=ids, attention_mask=mask, training=False).last_hidden_state.numpy()
    m = mask[:, :, None].astype(np.float32)
    return (hidden * m).sum(axis=1) / m.sum(axis=1)


def test_mean_pooling_feeds_the_models_own_head_and_ignores_padding(encoder_dir):
    kind, folder = encoder_dir
    texts, labels = helpers.toy_sentiment(16, seed=3)
    _, _, model = _classifier(folder, "mean", texts, labels)
    assert type(model).__name__.startswith("MeanPooled") and model.config.tfclf_pooling == "mean"
    ids = np.array([[2, 10, 11, 12, 3, 0, 0, 0], [2, 13, 14, 15, 16, 17, 3, 0]])
    mask = (ids != 0).astype(np.int32)
    logits = model(input_ids=ids, attention_mask=mask, training=False).logits.numpy()
    pooled = _head_input(model, kind, ids, mask)
    if kind == "distilbert":
        expected = model.classifier(model.pre_classifier(pooled)).numpy()
    elif kind == "roberta":
        expected = model.classifier(pooled[:, None, :], training=False).numpy()
    else:
        expected = model.classifier(pooled).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    # More padding (masked out) changes nothing.
    padded = np.pad(ids, ((0, 0), (0, 8)))
    more = model(input_ids=padded, attention_mask=(padded != 0).astype(np.int32), training=False).logits.numpy()
    np.testing.assert_allclose(more, logits, atol=1e-5)


def test_mean_pooled_model_trains_saves_and_reloads_with_its_pooling(encoder_dir, tmp_path):
    kind, folder = encoder_dir
    texts, labels = helpers.toy_sentiment(32, seed=5)
    t, trn, model = _classifier(folder, "mean", texts, labels)
    learner = tfclf.get_learner(model, trn, batch_size=8, seed=0)
    before = learner.model.trainable_weights[-1].numpy().copy()
    learner.fit(1e-3, 1, verbose=0)
    assert not np.allclose(before, learner.model.trainable_weights[-1].numpy())
    predictor = tfclf.get_predictor(learner.model, t)
    probs = predictor.predict_proba(texts[:6])
    saved = predictor.save(tmp_path / f"mean-{kind}")
    assert json.loads((saved / "config.json").read_text())["tfclf_pooling"] == "mean"
    reloaded = tfclf.load_predictor(saved)
    assert type(reloaded.model) is type(learner.model) and reloaded.preproc.pooling == "mean"
    np.testing.assert_allclose(reloaded.predict_proba(texts[:6]), probs, atol=1e-6)


def test_cls_pooling_is_the_models_own_class(tiny_distilbert_dir, toy_data):
    _, _, model = _classifier(tiny_distilbert_dir, "cls", *toy_data["train"])
    from tfclf._compat import transformers

    assert type(model) is transformers.TFDistilBertForSequenceClassification
    assert classifier_class(model.config) is type(model)


def test_mean_pooling_survives_a_strategy_rebuild(tiny_distilbert_dir, toy_data):
    from tfclf._compat import tf

    _, trn, model = _classifier(tiny_distilbert_dir, "mean", *toy_data["train"])
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    learner = tfclf.get_learner(model, trn, batch_size=8, strategy=strategy)
    assert learner.model is not model and type(learner.model) is type(model)
    np.testing.assert_allclose(learner.model.get_weights()[0], model.get_weights()[0])


def test_pooling_errors(tmp_path):
    with pytest.raises(ValueError, match="pooling must be one of"):
        text.Transformer("some-model", pooling="max")
    from tfclf._compat import transformers
    from tfclf.pooling import check_supported

    with pytest.raises(ValueError, match="not available for model_type 'gpt2'"):
        check_supported(transformers.GPT2Config(), "mean")
    check_supported(transformers.GPT2Config(), "cls")  # the model's own head is always there
