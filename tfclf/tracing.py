"""The graph every export traces: a float32 copy of the model, int64 ``input_ids`` and
``attention_mask`` in, ``logits`` out, GELU written with ``erf``. Shared by `tfclf.export` (ONNX,
OpenVINO) and `tfclf.string_model` (the raw-string SavedModel)."""

from __future__ import annotations

import contextlib
from pathlib import Path

INPUTS = ("input_ids", "attention_mask")
OUTPUT = "logits"


def float32_copy(model, scratch: Path):
    """The model rebuilt in float32 (a predictor may run in bfloat16 or float16): exports carry
    float32 weights and each engine picks its own precision."""
    from tfclf.classifier import load_classifier

    path = scratch / "float32"
    model.save_pretrained(str(path))
    return load_classifier(path, "float32")


@contextlib.contextmanager
def erf_gelu(model):
    """Traces GELU as transformers' erf formula instead of Keras' erfc one: tf2onnx writes TF's
    ``Erfc`` as an invalid node (ONNX Runtime: INVALID_GRAPH), while ``Erf`` is a standard op.
    The two formulas are the same function. Models tfclf builds already use it (`tfclf.fast_ops`);
    this covers the rest."""
    from tfclf.fast_ops import erf_gelu_function, gelu_sites

    swapped = gelu_sites(model)
    for layer, name, _ in swapped:
        object.__setattr__(layer, name, erf_gelu_function())
    try:
        yield len(swapped)
    finally:
        for layer, name, value in swapped:
            object.__setattr__(layer, name, value)


def forward_function(model):
    """``tf.function(input_ids, attention_mask) -> logits`` with the export's int64 inputs."""
    from tfclf._compat import tf

    spec = [tf.TensorSpec((None, None), tf.int64, name=name) for name in INPUTS]

    @tf.function(input_signature=spec)
    def forward(input_ids, attention_mask):
        out = model({"input_ids": tf.cast(input_ids, tf.int32), "attention_mask": tf.cast(attention_mask, tf.int32)},
                    training=False)
        return {OUTPUT: tf.cast(out.logits, tf.float32)}

    return forward
