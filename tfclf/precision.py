"""Mixed precision: which Keras dtype policy a model is built under, decided once per model.

"auto" picks what the hardware runs fastest without hurting accuracy (the choice was measured,
see benchmarks/RESULTS.md): float16 with loss scaling on an NVIDIA GPU, bfloat16 on a CPU with
AMX or AVX512-BF16 matrix instructions, float32 otherwise. Under either mixed policy the
variables stay float32; tfclf casts the logits to float32 before the loss and before softmax, so
the loss, the metrics and the probabilities are computed in float32.

The environment variable ``TFCLF_PRECISION`` (one of `PRECISIONS`) overrides "auto", e.g. to
turn mixed precision off for a whole run without editing code: ``TFCLF_PRECISION=float32``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

AUTO = "auto"
FLOAT32 = "float32"
BFLOAT16 = "mixed_bfloat16"
FLOAT16 = "mixed_float16"
PRECISIONS = (AUTO, FLOAT32, BFLOAT16, FLOAT16)
_ALIASES = {"fp32": FLOAT32, "bf16": BFLOAT16, "bfloat16": BFLOAT16, "fp16": FLOAT16, "float16": FLOAT16,
            "off": FLOAT32, "none": FLOAT32}
# CPU flags (Linux /proc/cpuinfo names) of instructions that multiply bfloat16 matrices natively.
_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux reports them (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_nvidia_gpu() -> bool:
    from tfclf._compat import tf

    return bool(tf.config.list_physical_devices("GPU"))


def auto_precision() -> str:
    """The policy "auto" stands for on this machine (see the module docstring)."""
    if has_nvidia_gpu():
        return FLOAT16
    if cpu_flags() & set(_BF16_CPU_FLAGS):
        return BFLOAT16
    return FLOAT32


def resolve_precision(precision: str | None = AUTO) -> str:
    """A Keras policy name for `precision` ("auto", "float32", "mixed_bfloat16", "mixed_float16").

    None and "auto" mean ``$TFCLF_PRECISION`` if set, else `auto_precision()`. Short names
    ("bf16", "fp16", "fp32", "off") are accepted.

    Example:
        >>> resolve_precision("fp32")
        'float32'
    """
    if precision is None:
        precision = AUTO
    if not isinstance(precision, str):
        raise TypeError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    name = _ALIASES.get(precision.strip().lower(), precision.strip().lower())
    if name == AUTO:
        env = os.environ.get("TFCLF_PRECISION", "").strip()
        if env:
            name = _ALIASES.get(env.lower(), env.lower())
            if name not in PRECISIONS or name == AUTO:
                raise ValueError(f"TFCLF_PRECISION={env!r} is not one of {PRECISIONS[1:]}")
            return name
        return auto_precision()
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} (or bf16/fp16/fp32), got {precision!r}")
    return name


@contextlib.contextmanager
def policy_scope(name: str) -> Iterator[None]:
    """Builds layers under Keras policy `name`, then puts the previous global policy back.

    A layer keeps the policy it was created with, so a model built inside the scope stays mixed
    while code outside it (the user's own models) is unaffected.
    """
    from tfclf._compat import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def model_precision(model) -> str:
    """The policy name a built Keras model computes with."""
    policy = getattr(model, "dtype_policy", None)
    return getattr(policy, "name", FLOAT32) or FLOAT32
