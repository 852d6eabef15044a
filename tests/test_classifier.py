"""`tfclf.classifier`: one builder for fresh, pretrained, saved and rebuilt models; what a model
needs to be rebuilt lives in its configuration, not on the Keras object."""

from __future__ import annotations

import json

import numpy as np
import pytest

import helpers

import tfclf
from tfclf import classifier, text
from tfclf.labels import LabelCodec


def test_configure_writes_labels_problem_type_and_pooling():
    config = helpers.tiny_distilbert_config()
    codec = LabelCodec().fit([["a", "c"], ["b"]])
    classifier.configure(config, codec, "mean")
    assert config.num_labels == 3 and config.id2label == {0: "a", 1: "b", 2: "c"}
    assert config.problem_type == "multi_label_classification" and config.tfclf_pooling == "mean"
    assert classifier.mode_of(config) == "multilabel"
    with pytest.raises(ValueError, match="pooling='mean' is not available"):
        classifier.configure(_gpt2(), codec, "mean")


def _gpt2():
    from tfclf._compat import transformers

    return transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2)


def test_options_and_thresholds_live_in_the_config(tiny_distilbert_dir, tmp_path):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(*helpers.toy_sentiment(16, seed=0), verbose=0)
    model = t.get_classifier(label_smoothing=0.1, layer_decay=0.5)
    assert classifier.training_options(model.config) == {"label_smoothing": 0.1, "layer_decay": 0.5,
                                                             "weight_decay": None}
    assert not [k for k in vars(model) if k.startswith("_tfclf")]  # nothing stuck on the Keras object
    classifier.set_thresholds(model, [0.4, 0.6])
    assert classifier.thresholds_of(model) == [0.4, 0.6]
    model.save_pretrained(str(tmp_path))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["tfclf_training"] == {"label_smoothing": 0.1, "layer_decay": 0.5}
    assert saved["tfclf_thresholds"] == [0.4, 0.6]
    with pytest.raises(TypeError, match="configuration"):
        classifier.set_thresholds(object(), [0.5])


def test_models_built_from_one_transformer_keep_their_own_config(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(*helpers.toy_sentiment(16, seed=0), verbose=0)
    smoothed = t.get_classifier(label_smoothing=0.1)
    classifier.set_thresholds(smoothed, [0.3, 0.7])
    plain = t.get_classifier(attention_dropout=0.0)
    assert smoothed.config is not plain.config
    assert classifier.training_options(smoothed.config)["label_smoothing"] == 0.1
    assert classifier.training_options(plain.config)["label_smoothing"] == 0.0
    assert classifier.thresholds_of(smoothed) == [0.3, 0.7] and classifier.thresholds_of(plain) is None
    assert smoothed.config.attention_dropout == 0.1 and plain.config.attention_dropout == 0.0


def test_rebuild_compiles_as_built(tiny_distilbert_dir):
    from tfclf._compat import tf
    from tfclf._util import base_optimizer

    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(*helpers.toy_sentiment(16, seed=0), verbose=0)
    model = t.get_classifier(label_smoothing=0.2, layer_decay=0.5)
    copy = classifier.rebuild_in_scope(model, tf.distribute.get_strategy())
    assert copy is not model and type(copy) is type(model)
    assert type(base_optimizer(copy.optimizer)).__name__ == "LayerDecayAdam"
    assert classifier.training_options(copy.config) == {"label_smoothing": 0.2, "layer_decay": 0.5,
                                                            "weight_decay": None}
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_compile_defaults_to_the_configs_mode(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(["a", "b"], [0.5, 2.0], verbose=0)
    model = t.get_classifier()
    assert classifier.mode_of(model.config) == "regression"
    classifier.compile_classifier(model)
    assert type(model.loss.inner).__name__ == "MeanSquaredError"


def test_load_classifier_reads_a_saved_predictor_in_the_asked_precision(trained, tmp_path):
    folder = tfclf.get_predictor(trained.learner.model, trained.t).save(tmp_path / "p")
    model = classifier.load_classifier(folder, "float32")
    assert model.dtype_policy.name == "float32"
    for a, b in zip(trained.learner.model.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b)
