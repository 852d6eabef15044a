"""Two fine-tuning options of `Transformer.get_classifier`: label smoothing and layer-wise LR decay.

Both are off by default (ktrain's behaviour); benchmarks/RESULTS.md has what they did on the
20 Newsgroups tutorial.

- ``label_smoothing=e`` trains single-label models against ``(1 - e) * one_hot + e / k`` instead
  of the one-hot target (k classes), and multi-label ones against targets moved ``e / 2`` towards
  0.5: the model is not pushed to ever-larger logits for examples it already gets right.
- ``layer_decay=d`` gives the head and everything above the encoder's last layer the schedule's
  learning rate, the last layer ``d`` times it, the one below ``d**2`` times it, ..., and the
  embeddings ``d**(L+1)`` (L layers): the lower layers, which hold the most general pretrained
  features, move least. ``d`` in (0, 1]; 1 is no decay.

Adam's step does not change when a gradient is scaled (its moments scale with it), so the decay
scales each variable's update instead: `layer_decay_adam` subclasses tfclf's Adam
(`tfclf.fast_ops.adam_class`, Keras' Adam with a one-pass update) and, for a
variable with multiplier m, moves it to ``before + m * (after - before)``. The schedule callbacks
keep setting one learning rate, and the optimizer's variables stay those of plain Adam, so
checkpoints, LR finder restores and tf.distribute work unchanged.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from typing import Any

log = logging.getLogger(__name__)

# A transformer layer's index in a TF variable name: "encoder/layer_._3/..." (BERT, RoBERTa,
# MPNet, ELECTRA), "transformer/layer_._3/..." (DistilBERT), "h_._3/..." (GPT-2).
_LAYER = re.compile(r"(?:^|/)(?:layer|layers|h|block)_\._(\d+)/")
_REPLICA = re.compile(r"/replica_\d+")
# "embeddings/word_embeddings/weight:0", "wte/embeddings:0", MPNet's shared
# "relative_attention_bias/embeddings:0" (a position table every layer reads).
_EMBEDDINGS = re.compile(r"(?:^|/)[^/]*embeddings[^/]*(?:/|:|$)")

def check_label_smoothing(value: Any) -> float:
    """`value` as a float in [0, 1), else a ValueError that says the range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1 or math.isnan(value):
        raise ValueError(f"label_smoothing must be a number in [0, 1), e.g. 0.1; got {value!r}")
    return float(value)


def check_weight_decay(value: Any) -> float | None:
    """None or 0 (no weight decay), or a rate in (0, 1)."""
    if value is None or (not isinstance(value, bool) and isinstance(value, (int, float)) and value == 0):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"weight decay must be a number in [0, 1), e.g. 0.01, got {value!r}")
    return float(value)


def check_layer_decay(value: Any) -> float | None:
    """`value` as a float in (0, 1), or None for no decay (None or 1); else a ValueError that
    says the range. Mapping 1 to None here keeps one test of "no decay" for every caller."""
    if value is None or (value == 1 and not isinstance(value, bool)):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1 or math.isnan(value):
        raise ValueError(f"layer_decay must be a number in (0, 1], e.g. 0.8, or None for no decay; got {value!r}")
    return float(value)


def layer_depths(names: list[str]) -> tuple[dict[str, int], int]:
    """Each variable name's depth: 0 for embeddings, i + 1 for layer i, L + 1 for the rest.

    Returns:
        ``(depths, L)``, L the number of numbered layers found (0 when the architecture does not
        number its layers, e.g. ALBERT's one shared layer).

    Example:
        >>> depths, n = layer_depths(["m/bert/embeddings/w:0", "m/bert/encoder/layer_._1/k:0",
        ...                           "m/bert/encoder/layer_._0/k:0", "m/classifier/kernel:0"])
        >>> n, [depths[k] for k in sorted(depths)]
        (2, [0, 1, 2, 3])
    """
    found = {name: _LAYER.search(name) for name in names}
    n_layers = 1 + max((int(m.group(1)) for m in found.values() if m), default=-1)
    depths = {}
    for name, match in found.items():
        if match:
            depths[name] = int(match.group(1)) + 1
        elif _EMBEDDINGS.search(name):
            depths[name] = 0
        else:
            depths[name] = n_layers + 1
    return depths, n_layers


def layer_lr_multipliers(names: list[str], decay: float) -> dict[str, float]:
    """The learning-rate multiplier of each variable name under layer-wise decay `decay`.

    Example:
        >>> m = layer_lr_multipliers(["m/embeddings/w:0", "m/layer_._0/k:0", "m/classifier/k:0"], 0.5)
        >>> [m[k] for k in ("m/classifier/k:0", "m/layer_._0/k:0", "m/embeddings/w:0")]
        [1.0, 0.5, 0.25]
    """
    decay = check_layer_decay(decay)
    depths, n_layers = layer_depths(names)
    if decay is None:
        return {name: 1.0 for name in names}
    if n_layers == 0:
        log.warning("layer_decay: this model's variable names number no layers (e.g. ALBERT shares one), "
                    "so only the embeddings get a lower learning rate")
    return {name: decay ** (n_layers + 1 - depth) for name, depth in depths.items()}


@functools.lru_cache(maxsize=None)
def _layer_decay_adam_class():
    from tfclf import fast_ops
    from tfclf._compat import tf

    class LayerDecayAdam(fast_ops.adam_class()):
        """Adam whose update of each variable is scaled by that variable's LR multiplier."""

        def __init__(self, multipliers: dict[str, float], **kwargs):
            super().__init__(**kwargs)
            self.multipliers = dict(multipliers)

        def update_step(self, gradient, variable):
            scale = self.multipliers.get(_plain_name(variable.name), 1.0)
            if scale == 1.0:
                return super().update_step(gradient, variable)
            # Automatic control dependencies order these reads and writes of one variable.
            before = tf.identity(variable)
            super().update_step(gradient, variable)
            variable.assign(before + tf.cast(scale, variable.dtype) * (variable - before))

        def get_config(self):
            return {**super().get_config(), "multipliers": self.multipliers}

    return LayerDecayAdam


def _plain_name(name: str) -> str:
    # A replica's copy under MirroredStrategy is named ".../kernel/replica_1:0"; same multiplier.
    return _REPLICA.sub("", name)


def layer_decay_adam(model, decay: float, **adam_kwargs):
    """A Keras Adam for `model` whose per-variable step is scaled by `layer_lr_multipliers`."""
    multipliers = layer_lr_multipliers([v.name for v in model.trainable_variables], decay)
    return _layer_decay_adam_class()(multipliers, **adam_kwargs)


def sparse_smoothed_crossentropy(label_smoothing: float):
    """A from-logits cross-entropy for integer class ids with smoothed one-hot targets.

    Keras' SparseCategoricalCrossentropy has no label smoothing; this one-hot encodes the ids and
    uses the categorical loss's.
    """
    return _smoothed_loss_class()(check_label_smoothing(label_smoothing))


@functools.lru_cache(maxsize=None)
def _smoothed_loss_class():
    from tfclf._compat import keras, tf

    class SparseSmoothedCrossentropy(keras.losses.Loss):
        def __init__(self, label_smoothing: float, **kwargs):
            kwargs.setdefault("name", "sparse_smoothed_crossentropy")
            super().__init__(**kwargs)
            self.label_smoothing = label_smoothing

        def call(self, y_true, y_pred):
            ids = tf.reshape(tf.cast(y_true, tf.int32), [-1])
            target = tf.one_hot(ids, depth=tf.shape(y_pred)[-1], dtype=y_pred.dtype)
            return keras.losses.categorical_crossentropy(target, y_pred, from_logits=True,
                                                         label_smoothing=self.label_smoothing)

        def get_config(self):
            return {**super().get_config(), "label_smoothing": self.label_smoothing}

    return SparseSmoothedCrossentropy
