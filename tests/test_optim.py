"""get_classifier's label_smoothing and layer_decay: the depth rule on constructed variable names,
the smoothed loss against its formula, each variable's Adam step scaled by its multiplier, and
both options through training, the LR finder and argument checks."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

import helpers

import tfclf
from tfclf import text
from tfclf.classifier import training_options
from tfclf.optim import (_plain_name, check_label_smoothing, check_layer_decay, layer_depths,
                         layer_lr_multipliers, sparse_smoothed_crossentropy)

BERT_NAMES = [
    "tf_bert_for_sequence_classification/bert/embeddings/word_embeddings/weight:0",
    "tf_bert_for_sequence_classification/bert/embeddings/LayerNorm/gamma:0",
    "tf_bert_for_sequence_classification/bert/encoder/layer_._0/attention/self/query/kernel:0",
    "tf_bert_for_sequence_classification/bert/encoder/layer_._1/output/dense/bias:0",
    "tf_bert_for_sequence_classification/bert/encoder/layer_._11/output/dense/bias:0",
    "tf_bert_for_sequence_classification/bert/pooler/dense/kernel:0",
    "tf_bert_for_sequence_classification/classifier/kernel:0",
]


def test_depths_number_embeddings_layers_and_head():
    depths, n = layer_depths(BERT_NAMES)
    assert n == 12  # the highest layer index found, plus one (not a count of the names)
    assert [depths[k] for k in BERT_NAMES] == [0, 0, 1, 2, 12, 13, 13]


@pytest.mark.parametrize("names, expected", [
    # DistilBERT: transformer/layer_._i; the pre-classifier is head.
    (["m/distilbert/embeddings/position_embeddings/embeddings:0",
      "m/distilbert/transformer/layer_._0/ffn/lin1/kernel:0",
      "m/distilbert/transformer/layer_._1/ffn/lin1/kernel:0", "m/pre_classifier/kernel:0"], [0.125, 0.25, 0.5, 1.0]),
    # GPT-2 numbers its blocks h_._i; wte/wpe are its embeddings (named "embeddings" in TF).
    (["m/transformer/wte/embeddings:0", "m/transformer/h_._0/attn/c_attn/weight:0", "m/score/weight:0"],
     [0.25, 0.5, 1.0]),
    # "layer_._1" inside a longer word is not a layer number.
    (["m/encoder/albert_layer_._1/k:0", "m/encoder/layer_._0/k:0"], [1.0, 0.5]),
])
def test_multipliers_fall_by_the_decay_per_layer(names, expected):
    got = layer_lr_multipliers(names, 0.5)
    assert [got[n] for n in names] == pytest.approx(expected)


def test_no_decay_is_one_everywhere():
    assert set(layer_lr_multipliers(BERT_NAMES, 1.0).values()) == {1.0}
    assert set(layer_lr_multipliers(BERT_NAMES, None).values()) == {1.0}


def test_unnumbered_layers_warn_and_only_embeddings_are_decayed(caplog):
    names = ["m/albert/embeddings/word_embeddings/weight:0",
             "m/albert/encoder/albert_layer_groups_._0/albert_layers_._0/ffn/kernel:0", "m/classifier/kernel:0"]
    with caplog.at_level(logging.WARNING, logger="tfclf.optim"):
        got = layer_lr_multipliers(names, 0.8)
    assert [got[n] for n in names] == pytest.approx([0.8, 1.0, 1.0])
    assert "number no layers" in caplog.text


def test_replica_copies_share_the_variables_multiplier():
    assert _plain_name("m/encoder/layer_._0/k/kernel/replica_1:0") == "m/encoder/layer_._0/k/kernel:0"
    assert _plain_name("m/encoder/layer_._0/k/kernel:0") == "m/encoder/layer_._0/k/kernel:0"


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, math.nan, True, "0.1", None])
def test_label_smoothing_must_be_in_zero_one(bad):
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\)"):
        check_label_smoothing(bad)


@pytest.mark.parametrize("bad", [0, -0.5, 1.01, math.nan, False, "0.8"])
def test_layer_decay_must_be_in_zero_one(bad):
    with pytest.raises(ValueError, match=r"layer_decay must be a number in \(0, 1\]"):
        check_layer_decay(bad)


def test_smoothed_loss_matches_the_formula():
    logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0], [-2.0, 1.0, 0.0]], dtype=np.float32)
    ids = np.array([0, 2, 1])
    eps, k = 0.1, 3
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    target = (1 - eps) * np.eye(k)[ids] + eps / k
    expected = -(target * log_p).sum(axis=1).mean()
    assert float(sparse_smoothed_crossentropy(eps)(ids, logits)) == pytest.approx(expected, rel=1e-5)
    # Column-vector labels (as Keras may pass them) give the same loss.
    assert float(sparse_smoothed_crossentropy(eps)(ids[:, None], logits)) == pytest.approx(expected, rel=1e-5)


def _model(folder, labels, precision="float32", **options):
    t = text.Transformer(str(folder), maxlen=16, precision=precision)
    x = ["good great", "bad awful", "love song", "hate boring"]
    trn = t.preprocess_train(x, labels, verbose=0)
    tfclf.set_seed(0)
    return t, trn, t.get_classifier(**options)


@pytest.fixture(scope="module")
def no_dropout_dir(tmp_path_factory):
    # Without dropout two models from the same weights see the same gradients.
    return helpers.save_tiny_distilbert(tmp_path_factory.mktemp("tiny-nodropout"), seed=0, dropout=0.0,
                                        attention_dropout=0.0, seq_classif_dropout=0.0)


def _one_step(model, trn):
    from tfclf._compat import keras

    from tfclf._util import base_optimizer

    # A large rate, so that float32 rounding of weight + step is small against the step.
    keras.backend.set_value(base_optimizer(model.optimizer).learning_rate, 1e-2)
    before = [v.numpy().copy() for v in model.trainable_variables]
    batch = next(iter(trn.to_tf(4)))
    model.train_on_batch(*batch[:2])
    return [v.numpy() - b for v, b in zip(model.trainable_variables, before)]


# Mixed precision keeps float32 variables; under mixed_float16 Keras wraps the optimizer in a
# LossScaleOptimizer, which must still reach the scaled step.
@pytest.mark.parametrize("precision", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_each_variables_step_is_scaled_by_its_multiplier(no_dropout_dir, precision):
    from tfclf._util import base_optimizer

    labels = ["pos", "neg", "pos", "neg"]
    _, trn, plain = _model(no_dropout_dir, labels, precision)
    _, _, decayed = _model(no_dropout_dir, labels, precision, layer_decay=0.5)
    for a, b in zip(plain.get_weights(), decayed.get_weights()):
        np.testing.assert_array_equal(a, b)  # same seed: same starting weights
    opt = base_optimizer(decayed.optimizer)
    assert type(opt).__name__ == "LayerDecayAdam"
    multipliers = [opt.multipliers[v.name] for v in decayed.trainable_variables]
    # 2 layers: embeddings 0.5**3, layer 0 0.5**2, layer 1 0.5, the head 1.
    assert sorted(set(multipliers)) == [0.125, 0.25, 0.5, 1.0]
    for step_plain, step_decayed, m, v in zip(_one_step(plain, trn), _one_step(decayed, trn), multipliers,
                                              decayed.trainable_variables):
        # Same weights, same batch, same gradients: the steps differ by exactly the multiplier,
        # also for the embeddings' sparse (IndexedSlices) gradient (atol: float32 rounding of a
        # weight near 1 plus its step).
        np.testing.assert_allclose(step_decayed, m * step_plain, rtol=1e-4, atol=2e-7, err_msg=v.name)
    assert any(np.abs(s).max() > 1e-3 for s in _one_step(plain, trn))  # the steps were not all zero
    assert training_options(decayed.config) == {"label_smoothing": 0.0, "layer_decay": 0.5, "weight_decay": None}


def test_layer_decay_of_one_is_plain_adam(tiny_distilbert_dir):
    _, _, model = _model(tiny_distilbert_dir, ["pos", "neg", "pos", "neg"], layer_decay=1.0)
    from tfclf import fast_ops

    assert type(model.optimizer) is fast_ops.adam_class()  # not the layer-decay subclass


def test_label_smoothing_is_the_training_loss(tiny_distilbert_dir):
    _, trn, model = _model(tiny_distilbert_dir, ["pos", "neg", "mid", "neg"], label_smoothing=0.2)
    # An untrained head predicts about uniformly, where smoothing changes nothing: spread its logits.
    kernel = model.classifier.kernel
    kernel.assign(kernel * 300.0)
    x, y = next(iter(trn.to_tf(4)))[:2]
    logits = model(x, training=False).logits.numpy()
    assert np.ptp(logits, axis=1).min() > 1.0
    expected = float(sparse_smoothed_crossentropy(0.2)(y.numpy(), logits))
    assert float(model.evaluate(x, y, verbose=0)[0]) == pytest.approx(expected, rel=1e-5)
    from tfclf._compat import keras

    unsmoothed = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y.numpy(), logits))
    assert abs(unsmoothed - expected) > 0.01 * expected


def test_multilabel_label_smoothing_moves_targets_towards_one_half(tiny_distilbert_dir):
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    _, trn, model = _model(tiny_distilbert_dir, y, label_smoothing=0.2)
    model.classifier.kernel.assign(model.classifier.kernel * 300.0)
    x, targets = next(iter(trn.to_tf(4)))[:2]
    logits = model(x, training=False).logits.numpy().astype(np.float64)
    smoothed = targets.numpy() * 0.8 + 0.1
    p = 1 / (1 + np.exp(-logits))
    expected = -(smoothed * np.log(p) + (1 - smoothed) * np.log(1 - p)).mean()
    assert float(model.evaluate(x, targets, verbose=0)[0]) == pytest.approx(expected, rel=1e-4)


def test_regression_rejects_label_smoothing(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16, precision="float32")
    t.preprocess_train(["a", "b", "c"], [0.5, 1.5, 2.0], verbose=0)
    with pytest.raises(ValueError, match="regression"):
        t.get_classifier(label_smoothing=0.1)
    with pytest.raises(ValueError, match="layer_decay"):
        t.get_classifier(layer_decay=2)


def test_both_options_train_the_toy_task_and_the_lr_finder_restores(tiny_distilbert_dir, toy_data):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32, precision="float32")
    trn = t.preprocess_train(*toy_data["train"], verbose=0)
    val = t.preprocess_test(*toy_data["val"], verbose=0)
    tfclf.set_seed(0)
    learner = tfclf.get_learner(t.get_classifier(label_smoothing=0.1, layer_decay=0.8), trn, val,
                                batch_size=16, seed=0)
    weights = [w.copy() for w in learner.model.get_weights()]
    learner.lr_find(max_steps=8, verbose=0)
    for a, b in zip(weights, learner.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    learner.fit_onecycle(helpers.ONECYCLE_LR, helpers.ONECYCLE_EPOCHS, verbose=0)
    assert learner.metrics()["accuracy"] >= 0.9
    # The schedule sets the one learning rate; the multipliers sit on top of it.
    assert max(learner.recorder.lrs) == pytest.approx(helpers.ONECYCLE_LR, rel=1e-3)
