"""Cheaper forms of ops a transformer spends CPU training time on, with the same results.

The step profile of issue 26 (benchmarks/RESULTS.md, "Where a training step's time goes") found
two element-wise ops among the largest costs of a MiniLM training step under bf16:

* **GELU**: Keras writes the exact GELU as ``0.5 * x * erfc(-x / sqrt(2))``, and TensorFlow's
  ``Erfc`` kernel (and its gradient) is far slower on CPU than ``Erf``. transformers' own
  ``0.5 * x * (1 + erf(x / sqrt(2)))`` is the same function; `apply` makes the model use it.
* **Dropout**, above all on the attention probabilities: ``tf.nn.dropout`` draws one float32
  random number per element of each (batch, heads, length, length) attention matrix. `MaskDropout` draws 16 random bits per element
  instead (two per 32-bit word of a counter-based generator) and keeps an element when they are at
  least ``round(rate * 65536)``: the drop probability is the rate to within 1/131072 (0.1 becomes
  0.100006), and kept elements are scaled by the exact inverse of the keep probability.

A third change is to the optimizer, not the model: Keras runs Adam's update as a handful of
element-wise TensorFlow ops per variable (m, v and the weight each read and written in separate
passes). `adam_class` is Keras' Adam with each update done by TensorFlow's one-pass
``ResourceApplyAdam`` kernel, the same formula: for MiniLM's 22.7M weights on a 2-core CPU it takes
a third of the time of Keras' ops and holds about 210 MB less (`benchmarks/experiments/adam_update.py`,
issue 26). Until 2026-12-05 the update was compiled with XLA instead, a little slower than the
kernel, but XLA's compiler keeps about 170-200 MB resident in any process that uses it; the kernel
needs no compilation.

`apply` is called wherever tfclf builds a model and `fused_update_enabled` wherever it compiles
one (`tfclf.classifier`); setting `ENABLED` to False before that keeps transformers' and Keras' own
ops (benchmarks compare the two this way).
"""

from __future__ import annotations

ENABLED = True
_BITS = 16


def gelu_sites(model) -> list[tuple[object, str, object]]:
    """Every ``(layer, attribute, function)`` of `model` that holds Keras' or TensorFlow's exact
    GELU, which the erf formula can replace."""
    from tf_keras import activations
    from transformers import activations_tf

    from tfclf._compat import tf

    exact = {activations.gelu, tf.nn.gelu, activations_tf.get_tf_activation("gelu")}
    return _sites(model, lambda name, value: callable(value) and not isinstance(value, tf.Module)
                  and _is_one_of(value, exact))


def _sites(model, wanted) -> list[tuple[object, str, object]]:
    """Every ``(layer, attribute, value)`` among `model`'s layers' attributes where
    ``wanted(attribute, value)``."""
    return [(layer, name, value) for layer in model.submodules for name, value in list(vars(layer).items())
            if wanted(name, value)]


def _is_one_of(value, functions) -> bool:
    try:
        return value in functions
    except TypeError:  # unhashable callables
        return False


def erf_gelu_function():
    """transformers' erf-based exact GELU."""
    from transformers import activations_tf

    return activations_tf._gelu


def dropout_sites(model) -> list[tuple[object, str, object]]:
    """Every ``(parent layer, attribute, Dropout layer)`` of `model` that `MaskDropout` can
    replace: plain Keras Dropout layers (not subclasses), without a noise shape, rate in (0, 1)."""
    from tf_keras.layers import Dropout

    return _sites(model, lambda name, value: type(value) is Dropout and value.noise_shape is None
                  and 0 < float(value.rate) < 1 and not name.startswith("_"))


def apply(model) -> dict[str, int]:
    """Switches `model` (a transformers TF model) to the erf GELU and to `MaskDropout`, in place;
    returns how many sites of each changed. Does nothing when `ENABLED` is False.

    Nothing is saved differently: the weights and configuration are untouched, and a model
    reloaded by tfclf gets the same ops again.
    """
    if not ENABLED:
        return {"gelu": 0, "dropout": 0}
    gelu = erf_gelu_function()
    changed = {"gelu": 0, "dropout": 0}
    for layer, name, _ in gelu_sites(model):
        # object.__setattr__: Keras' attribute tracking has nothing to track in a function
        object.__setattr__(layer, name, gelu)
        changed["gelu"] += 1
    for layer, name, dropout in dropout_sites(model):
        object.__setattr__(layer, name, mask_dropout(dropout))
        changed["dropout"] += 1
    return changed


def fused_update_enabled() -> bool:
    """Whether the optimizers tfclf compiles from now on update weights with the one-pass kernel."""
    return ENABLED


def adam_class():
    """`FusedAdam`: Keras' Adam whose update of a variable is one ``ResourceApplyAdam`` kernel
    call when built with ``fused=True``."""
    if _ADAM:
        return _ADAM[0]
    from tfclf._compat import keras, tf

    class FusedAdam(keras.optimizers.Adam):
        """Keras' Adam; with ``fused=True`` a gradient updates m, v and the weight in one pass of
        TensorFlow's Adam kernel. A sparse gradient (an embedding's) is made dense first: Keras'
        own sparse update also decays every row's m and v, so the result is the same, in fewer
        passes over the table. AMSGrad and the adaptive epsilon, which the kernel does not do, keep
        Keras' ops. The optimizer's variables are Keras Adam's, so checkpoints and the LR finder's
        restore are unchanged."""

        def __init__(self, *args, fused: bool = True, **kwargs):
            super().__init__(*args, **kwargs)
            self.fused = bool(fused)

        def update_step(self, gradient, variable):
            if not self.fused or self.amsgrad or self.adaptive_epsilon or gradient.dtype != variable.dtype:
                return super().update_step(gradient, variable)
            if isinstance(gradient, tf.IndexedSlices):
                # rows repeated in a batch are summed, as scatter_add does
                gradient = tf.math.unsorted_segment_sum(gradient.values, gradient.indices, tf.shape(variable)[0])
            dtype = variable.dtype
            step = tf.cast(self.iterations + 1, dtype)
            beta_1 = tf.cast(self.beta_1, dtype)  # a variable when 1cycle cycles the momentum
            beta_2 = tf.cast(self.beta_2, dtype)
            index = self._index_dict[self._var_key(variable)]
            # Keras' formula exactly: lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)
            return tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
                beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
                lr=tf.cast(self.learning_rate, dtype), beta1=beta_1, beta2=beta_2,
                epsilon=tf.cast(self.epsilon, dtype), grad=gradient, use_locking=False)

        def get_config(self):
            return {**super().get_config(), "fused": self.fused}

    _ADAM.append(FusedAdam)
    return FusedAdam


_ADAM: list = []


def mask_dropout(dropout):
    """A `MaskDropout` with `dropout`'s rate, name and dtype policy."""
    return _mask_dropout_class()(float(dropout.rate), name=dropout.name, dtype=dropout.dtype_policy)


_CLASS: list = []


def _mask_dropout_class():
    # Built on first use: defining a Keras layer at import time would import TensorFlow with tfclf.
    if _CLASS:
        return _CLASS[0]
    import tf_keras

    from tfclf._compat import tf

    class MaskDropout(tf_keras.layers.Dropout):
        """Inverted dropout from 16-bit random masks (see the module docstring). A Keras Dropout
        subclass, so code that finds dropout layers by type, or sets ``rate`` (0 turns it off),
        works on it as on the layer it replaced."""

        def call(self, inputs, training=None):
            if training is None:
                training = tf_keras.backend.learning_phase()
            threshold = int(round(float(self.rate) * (1 << _BITS)))  # read when traced, as Keras reads rate
            if threshold == 0:
                return tf.identity(inputs)
            if isinstance(training, bool):
                return self._drop(inputs, threshold) if training else tf.identity(inputs)
            return tf.__internal__.smart_cond.smart_cond(training, lambda: self._drop(inputs, threshold),
                                                         lambda: tf.identity(inputs))

        @staticmethod
        def _drop(inputs, threshold: int):
            n = tf.size(inputs)
            # A stateful draw of the seed keeps runs repeatable under tf.random.set_seed, as
            # Keras' Dropout is; the bulk comes from the counter-based stateless generator,
            # which can give full-range 32-bit words.
            seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
            words = tf.random.stateless_uniform([(n + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32)
            bits = tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:n]
            keep = tf.reshape(bits >= tf.constant(threshold, tf.uint16), tf.shape(inputs))
            scale = tf.cast((1 << _BITS) / ((1 << _BITS) - threshold), inputs.dtype)
            return tf.where(keep, inputs * scale, tf.zeros_like(inputs))

    _CLASS.append(MaskDropout)
    return MaskDropout
