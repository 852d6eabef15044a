"""Building, compiling and rebuilding a classifier: the one place a Keras model comes to be.

Every model tfclf makes is built here, under a precision policy (`tfclf.precision`) and, when
given, inside a `tf.distribute` strategy's scope (`tfclf.distribute`):

* `build_classifier`: a new model for a configuration, with pretrained weights from a folder or
  randomly initialised, compiled (what `Transformer.get_classifier` returns);
* `load_classifier`: a model saved by `Predictor.save`, for prediction (`load_predictor`);
* `rebuild_in_scope`: the same model again inside a strategy's scope (`get_learner(strategy=)`).

Each gets the cheaper GELU and dropout ops of `tfclf.fast_ops` (same results), and
`compile_classifier` its one-pass Adam update (`tfclf.fast_ops.adam_class`).

What a model needs to be rebuilt or handed on lives in its configuration, which transformers
saves as config.json: the labels and problem type, the pooling (`tfclf.pooling`), the training
options of `get_classifier` (`training_options`), tuned multi-label thresholds (`thresholds_of`)
and a calibration temperature (`temperature_of`). Nothing is kept as an attribute on the Keras object.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any

from tfclf import fast_ops
from tfclf.labels import MULTICLASS, MULTILABEL, REGRESSION

OPTIONS_KEY = "tfclf_training"
# weights that decoupled weight decay leaves alone, by name (as BERT's AdamW recipe does)
NO_WEIGHT_DECAY = ("bias", "LayerNorm", "layer_norm", "layernorm")
THRESHOLDS_KEY = "tfclf_thresholds"
TEMPERATURE_KEY = "tfclf_temperature"
_PROBLEM_TYPES = {MULTICLASS: "single_label_classification", MULTILABEL: "multi_label_classification",
                  REGRESSION: "regression"}


def configure(config, codec, pooling: str, tokenizer=None) -> None:
    """Writes into `config` what the classifier is built for: the labels of `codec` (names, number
    of outputs, problem type), the concrete `pooling`, and, for a model trained from scratch
    (`tokenizer` given), a vocabulary and padding id that fit the tokenizer."""
    from tfclf.pooling import CONFIG_KEY, check_supported

    config.num_labels = codec.num_outputs
    config.id2label = {i: c for i, c in enumerate(codec.classes_)}
    config.label2id = {c: i for i, c in enumerate(codec.classes_)}
    config.problem_type = _PROBLEM_TYPES[codec.mode_]
    check_supported(config, pooling)
    setattr(config, CONFIG_KEY, pooling)
    if tokenizer is not None:
        # The embedding table must cover every id the tokenizer can give; the pad id must match.
        config.vocab_size = len(tokenizer)
        if tokenizer.pad_token_id is not None:
            config.pad_token_id = tokenizer.pad_token_id


# transformers' names for the dropout rate on the attention probabilities (BERT, RoBERTa, ELECTRA,
# ALBERT, MPNet, Longformer, DeBERTa: the first; DistilBERT, Funnel: the second)
ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")


def set_attention_dropout(config, rate: float | None) -> None:
    """Sets the dropout rate on the attention probabilities in `config` (None: the model's own).

    The attention dropouts draw one random number per (head, position, position), the largest
    element-wise cost of a CPU training step (issue 26); 0 removes them and keeps the hidden-state
    dropout. The rate goes into the configuration, so config.json says how the model was trained.
    """
    if rate is None:
        return
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"attention_dropout must be a rate in [0, 1) or None (the model's own), got {rate!r}")
    keys = [k for k in ATTENTION_DROPOUT_KEYS if hasattr(config, k)]
    if not keys:
        raise ValueError(f"attention_dropout: a {type(config).__name__} names no attention-dropout rate "
                         f"(none of {', '.join(ATTENTION_DROPOUT_KEYS)}); leave it None for this model")
    for key in keys:
        setattr(config, key, float(rate))


def mode_of(config) -> str:
    """The label mode a configuration's problem type stands for (single-label when unset)."""
    by_type = {v: k for k, v in _PROBLEM_TYPES.items()}
    return by_type.get(getattr(config, "problem_type", None), MULTICLASS)


def training_options(config) -> dict:
    """`get_classifier`'s label smoothing and layer decay, and `Learner.set_weight_decay`'s weight
    decay, as recorded in `config` (else the defaults)."""
    recorded = getattr(config, OPTIONS_KEY, None) or {}
    return {"label_smoothing": float(recorded.get("label_smoothing", 0.0)),
            "layer_decay": recorded.get("layer_decay"), "weight_decay": recorded.get("weight_decay")}


def thresholds_of(model) -> list[float] | None:
    """The multi-label thresholds tuned for `model` (`Learner.tune_thresholds`), or None."""
    values = getattr(getattr(model, "config", None), THRESHOLDS_KEY, None)
    return None if values is None else [float(v) for v in values]


def _record(model, key: str, value, what: str) -> None:
    config = getattr(model, "config", None)
    if config is None:
        raise TypeError(f"{what} recorded in a transformers model's configuration; "
                        "this model has none (build it with Transformer.get_classifier())")
    setattr(config, key, value)


def set_thresholds(model, thresholds: list[float] | None) -> None:
    """Records tuned multi-label thresholds in `model`'s configuration (None forgets them)."""
    _record(model, THRESHOLDS_KEY, None if thresholds is None else [float(t) for t in thresholds],
            "thresholds are")


def temperature_of(model) -> float:
    """The temperature `Learner.calibrate` fitted for `model` (1.0: the probabilities as trained)."""
    return float(getattr(getattr(model, "config", None), TEMPERATURE_KEY, None) or 1.0)


def set_temperature(model, temperature: float) -> None:
    """Records a fitted temperature in `model`'s configuration."""
    _record(model, TEMPERATURE_KEY, float(temperature), "the temperature is")


def strategy_scope(strategy):
    """`strategy`'s scope, or no scope for None (one device)."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _fresh(config):
    """A model of `config`'s shape with random weights, its variables created."""
    from tfclf.pooling import classifier_class

    model = classifier_class(config)(config)
    model(model.dummy_inputs, training=False)
    return model


def build_classifier(config, *, pretrained: Path | None, precision: str, strategy=None,
                     weights_file: str | None = None, metrics: Any = None, label_smoothing: float = 0.0,
                     layer_decay: float | None = None):
    """A compiled classifier for `config` (labels, pooling and vocabulary already set in it).

    Args:
        config: the model's transformers configuration.
        pretrained: a folder whose encoder weights to load (`tfclf.models.load_pretrained`), or
            None for random initialisation (a model trained from scratch).
        precision: a Keras policy name (`tfclf.precision.resolve_precision`).
        strategy: a `tf.distribute.Strategy` whose scope holds the variables and the optimizer.
        weights_file: weights (from `Learner.save_model`) to load after building.
        metrics, label_smoothing, layer_decay: as `compile_classifier`.
    """
    from tfclf.distribute import check_strategy
    from tfclf.models import load_pretrained
    from tfclf.optim import check_label_smoothing, check_layer_decay
    from tfclf.pooling import classifier_class
    from tfclf.precision import policy_scope

    setattr(config, OPTIONS_KEY, {"label_smoothing": check_label_smoothing(label_smoothing),
                                  "layer_decay": check_layer_decay(layer_decay)})
    with strategy_scope(check_strategy(strategy)):
        with policy_scope(precision):
            model = _fresh(config) if pretrained is None else load_pretrained(classifier_class(config), pretrained,
                                                                              config)
        if weights_file is not None:
            model.load_weights(weights_file)
        fast_ops.apply(model)
        compile_classifier(model, metrics=metrics)
    return model


def load_classifier(folder: Path, precision: str):
    """The model a saved predictor holds (config.json + tf_model.h5), for prediction."""
    from tfclf.models import load_config
    from tfclf.pooling import classifier_class
    from tfclf.precision import policy_scope

    config = load_config(folder)
    with policy_scope(precision):
        # The config says which pooling the model was trained with (tfclf.pooling).
        model = classifier_class(config).from_pretrained(str(folder), config=config, local_files_only=True)
    fast_ops.apply(model)
    return model


def rebuild_in_scope(model, strategy, metrics: Any = None):
    """A copy of the transformers TF `model` whose variables and optimizer are `strategy`'s.

    The copy has the same class, configuration (and so labels, pooling, training options and
    thresholds), dtype policy and weights, and is compiled as `build_classifier` compiles.
    """
    from tfclf.precision import model_precision, policy_scope

    config = getattr(model, "config", None)
    if config is None:
        raise TypeError("get_learner(strategy=...) can rebuild only transformers models from get_classifier(); "
                        "build other models inside strategy.scope()")
    weights = model.get_weights()
    with strategy.scope():
        with policy_scope(model_precision(model)):
            copy = type(model)(config)
            copy(copy.dummy_inputs, training=False)
        copy.set_weights(weights)
        fast_ops.apply(copy)
        compile_classifier(copy, metrics=metrics)
    return copy


def compile_classifier(model, mode: str | None = None, metrics: Any = None, learning_rate: float = 5e-5,
                       label_smoothing: float | None = None, layer_decay: float | None = None,
                       weight_decay: float | None = None, distillation: tuple[int, float, float] | None = None) -> None:
    """Compiles `model` with Adam, a from-logits loss that matches `mode`, and default metrics.

    `mode` defaults to the one the model's configuration records. `label_smoothing`,
    `layer_decay` (see `tfclf.optim`) and `weight_decay` (decoupled, AdamW-style; biases and
    layer norms excluded; 0 is none) default to those recorded in the configuration; values given
    here are recorded in turn, so that a rebuild compiles the model the same way.

    Adam's beta_1 is a variable so that the one-cycle policy can move momentum during training
    without retracing the train step. The loss casts the logits to float32 first, so a model
    that computes in bfloat16 or float16 still gets a float32 loss (Keras would compute it in
    the logits' dtype). Under mixed_float16 Keras wraps Adam in a LossScaleOptimizer itself.

    `distillation` = ``(n_classes, temperature, alpha)`` compiles a student for targets that carry
    a teacher's soft probabilities beside the labels (`tfclf.distillation`); it is not recorded.
    """
    from tfclf._compat import keras, tf
    from tfclf.optim import (check_label_smoothing, check_layer_decay, check_weight_decay, layer_decay_adam,
                             sparse_smoothed_crossentropy)

    config = getattr(model, "config", None)
    mode = mode or (mode_of(config) if config is not None else MULTICLASS)
    recorded = training_options(config) if config is not None else {"label_smoothing": 0.0, "layer_decay": None,
                                                                     "weight_decay": None}
    label_smoothing = check_label_smoothing(recorded["label_smoothing"] if label_smoothing is None
                                            else label_smoothing)
    layer_decay = check_layer_decay(recorded["layer_decay"] if layer_decay is None else layer_decay)
    weight_decay = check_weight_decay(recorded["weight_decay"] if weight_decay is None else weight_decay)
    if config is not None:
        setattr(config, OPTIONS_KEY, {"label_smoothing": label_smoothing, "layer_decay": layer_decay,
                                      **({"weight_decay": weight_decay} if weight_decay else {})})
    if mode == MULTILABEL:
        loss = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing)
        default_metrics = [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)]
    elif mode == REGRESSION:
        loss = keras.losses.MeanSquaredError()
        default_metrics = [keras.metrics.MeanAbsoluteError(name="mae")]
    else:
        loss = (sparse_smoothed_crossentropy(label_smoothing) if label_smoothing
                else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        default_metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    beta_1 = tf.Variable(0.9, trainable=False, dtype=tf.float32, name="adam_beta_1")
    adam = dict(learning_rate=learning_rate, beta_1=beta_1, epsilon=1e-8, fused=fast_ops.fused_update_enabled(),
                **({"weight_decay": weight_decay} if weight_decay else {}))
    optimizer = (layer_decay_adam(model, layer_decay, **adam) if layer_decay is not None
                 else fast_ops.adam_class()(**adam))
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    metrics = default_metrics if metrics is None else metrics
    if distillation is not None:
        from tfclf.distillation import distillation_loss_and_metrics

        loss, metrics = distillation_loss_and_metrics(loss, list(metrics), mode, *distillation)
    model.compile(optimizer=optimizer, loss=Float32Loss(loss), metrics=metrics)


@functools.lru_cache(maxsize=None)
def _float32_loss_class():
    from tfclf._compat import keras, tf

    class Float32Loss(keras.losses.Loss):
        """`inner` computed on float32 logits (a no-op cast for a float32 model)."""

        def __init__(self, inner, **kwargs):
            kwargs.setdefault("name", inner.name)
            kwargs.setdefault("reduction", inner.reduction)
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, y_true, y_pred):
            return self.inner.call(y_true, tf.cast(y_pred, tf.float32))

        def get_config(self):
            return self.inner.get_config()

    return Float32Loss


def Float32Loss(inner):  # noqa: N802 - reads as the class it builds (Keras is imported lazily)
    """Wraps a Keras loss so that it is computed on float32 logits; see `compile_classifier`."""
    return _float32_loss_class()(inner)
