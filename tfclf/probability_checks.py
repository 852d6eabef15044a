"""Checks of what calibration and abstaining are given: modes, logits, probabilities, targets,
windows, temperatures and confidence thresholds, each with an error that names the argument."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tfclf.labels import MULTICLASS, MULTILABEL, REGRESSION


def check_mode(mode: Any) -> str:
    if mode == REGRESSION:
        raise ValueError("calibration needs class probabilities; this model predicts numbers (regression)")
    if mode not in (MULTICLASS, MULTILABEL):
        raise ValueError(f"mode must be {MULTICLASS!r} or {MULTILABEL!r}, got {mode!r}")
    return mode


def check_bins(n_bins: Any) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    return int(n_bins)


def _finite_matrix(values: Any, mode: str, name: str, rows: str) -> np.ndarray:
    """A finite float64 (rows, classes) array with at least 2 columns for single-label."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array ({rows}, classes), got shape {a.shape}")
    if mode == MULTICLASS and a.shape[1] < 2:
        raise ValueError(f"single-label {name} need at least 2 columns (one per class), got {a.shape[1]}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contain {int((~np.isfinite(a)).sum())} NaN or infinite values")
    return a


def check_logits(logits: Any, mode: str) -> np.ndarray:
    return _finite_matrix(logits, mode, "logits", "rows")


def check_probs(probs: Any, mode: str, name: str = "probs") -> np.ndarray:
    p = _finite_matrix(probs, mode, name, "texts")
    # float32 softmax outputs can stray a hair outside [0, 1]; anything more is not a probability.
    if p.size and (p.min() < -1e-6 or p.max() > 1 + 1e-6):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{p.min():.4g}, {p.max():.4g}]")
    return np.clip(p, 0.0, 1.0)


def check_targets(targets: Any, mode: str, n: int, k: int, what: str = "texts") -> np.ndarray:
    """Single-label: n class ids in [0, k); multi-label: an (n, k) array of 0 / 1."""
    y = np.asarray(targets)
    if y.ndim == 0 or len(y) != n:
        got = "a scalar" if y.ndim == 0 else f"{len(y)}"
        raise ValueError(f"{n} {what} but {got} targets: the probabilities and the targets have different lengths")
    if mode == MULTICLASS:
        if y.ndim != 1:
            raise ValueError(f"single-label targets must be one class id per text, got shape {y.shape}")
        if y.dtype.kind not in "iub":
            yf = _as_floats(y, "single-label targets must be integer class ids")
            if not (np.isfinite(yf).all() and (yf == np.round(yf)).all()):
                raise ValueError("single-label targets must be integer class ids")
            y = yf
        y = y.astype(np.int64)
        if n and (y.min() < 0 or y.max() >= k):
            raise ValueError(f"single-label targets must be class ids in [0, {k}), got [{y.min()}, {y.max()}]")
        return y
    if y.shape != (n, k):
        raise ValueError(f"multi-label targets must be an ({n}, {k}) array of 0 / 1, got shape {y.shape}")
    yf = _as_floats(y, "multi-label targets must be 0 or 1")
    if not np.isin(yf, (0.0, 1.0)).all():
        raise ValueError("multi-label targets must be 0 or 1")
    return yf


def _as_floats(y: np.ndarray, message: str) -> np.ndarray:
    try:
        return y.astype(np.float64)
    except (TypeError, ValueError):  # class names, None: the caller must encode labels first
        raise ValueError(f"{message}, got {y.dtype} values such as {y.ravel()[:1].tolist()}") from None


def check_windows(doc_ids: Any, n_rows: int, n_docs: Any) -> tuple[np.ndarray, int]:
    ids = np.asarray(doc_ids)
    if ids.ndim != 1 or len(ids) != n_rows:
        raise ValueError(f"{n_rows} logit rows but {ids.size} doc_ids: they have different lengths")
    if n_rows and ids.dtype.kind not in "iu":
        raise ValueError(f"doc_ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if n_rows and ids.min() < 0:
        raise ValueError("doc_ids must be >= 0")
    if n_docs is None:
        n_docs = int(ids.max()) + 1 if n_rows else 0
    elif isinstance(n_docs, bool) or not isinstance(n_docs, (int, np.integer)) or n_docs < 0:
        raise ValueError(f"n_docs must be a non-negative integer, got {n_docs!r}")
    if n_rows and ids.max() >= n_docs:
        raise ValueError(f"doc_ids go up to {int(ids.max())} but n_docs is {n_docs}")
    return ids, int(n_docs)


def check_temperature(temperature: Any) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)):
        raise TypeError(f"temperature must be a number, got {temperature!r}")
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    return float(temperature)


def check_confidence(value: Any, name: str = "min_confidence") -> float:
    """`value` as a float if it is a number in [0, 1] (a probability to abstain below), else a
    TypeError / ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)
