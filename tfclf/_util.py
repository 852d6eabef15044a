"""Small checks and helpers shared across modules; imports nothing heavy (no TensorFlow)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np


def positive_int(value: Any, name: str) -> int:
    """`value` as an int if it is a whole number >= 1, else a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def int_in_range(value: Any, name: str, low: int, high: int, high_text: str) -> int:
    """`value` as an int if it is a whole number in [low, high), else a ValueError naming `name`
    and the range as ``[low, high_text)``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value < high:
        raise ValueError(f"{name} must be an integer in [{low}, {high_text}), got {value!r}")
    return int(value)


def class_names(value: Any, name: str = "class_names") -> list[str] | None:
    """A list of distinct non-empty strings, or None for None / empty; else a clear error."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not a single string")
    if not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list of strings, not {value!r}")
    names = list(value)
    if not names:
        return None
    for n in names:
        if not isinstance(n, str) or not n:
            raise TypeError(f"{name} must be non-empty strings; got {n!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{name} has duplicates: {names}")
    return names


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def base_optimizer(optimizer: Any) -> Any:
    """The optimizer that holds the hyperparameters: the inner one of a LossScaleOptimizer
    (which mixed_float16 puts around Adam), else `optimizer` itself."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def positive_number(value: Any, name: str = "lr") -> float:
    """`value` as a float if it is a finite number > 0 (a learning rate), else a TypeError or
    ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def smooth(losses, beta: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average: the LR sweep's curve and the training-loss plot."""
    avg, out = 0.0, []
    for i, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta**i))
    return np.asarray(out)
