"""Multi-label metrics and decision thresholds.

A multi-label model gives one independent probability per label; a label is predicted when its
probability reaches that label's threshold. 0.5 is rarely the best cut for rare labels, so
`tune_thresholds` searches, on validation data, one global threshold and then one per label that
maximise micro- or macro-F1. A label with no positive example in the validation data keeps the
global threshold: there is nothing to tune it on.

Example:
    >>> import numpy as np
    >>> y = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    >>> p = np.array([[0.9, 0.2], [0.6, 0.4], [0.3, 0.35], [0.1, 0.1]])
    >>> round(multilabel_metrics(y, p)["micro_f1"], 3)     # label 2 is never >= 0.5
    0.667
    >>> tuned = tune_thresholds(y, p, metric="micro_f1")
    >>> tuned.score > tuned.score_at_default, round(tuned.score, 3)
    (True, 1.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

METRICS = ("micro_f1", "macro_f1")
DEFAULT_THRESHOLD = 0.5


def _as_binary(y_true) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 2:
        raise ValueError(f"multi-label targets must be a 2-D 0/1 array (n, labels), got shape {y.shape}")
    return (y >= 0.5).astype(np.int8)


def _check(y_true, probs) -> tuple[np.ndarray, np.ndarray]:
    y = _as_binary(y_true)
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != y.shape:
        raise ValueError(f"probabilities have shape {p.shape}, the targets {y.shape}: they must match")
    if len(y) == 0:
        raise ValueError("no examples: multi-label metrics need at least one row")
    return y, p


def thresholds_array(thresholds, k: int) -> np.ndarray:
    """`thresholds` (one float for all labels, or one per label) as a float array of length `k`."""
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(k, float(t))
    if t.shape != (k,):
        raise ValueError(f"thresholds must be one number or one per label ({k}), got {t.shape[0]} values")
    # Above 1 (never predict the label) or below 0 (always) are allowed; NaN is not.
    if not np.all(np.isfinite(t)):
        raise ValueError(f"thresholds must be finite numbers, got {t.tolist()}")
    return t


def _f1_counts(tp, fp, fn):
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def multilabel_metrics(y_true, probs, thresholds=DEFAULT_THRESHOLD, class_names=None) -> dict:
    """Micro- and macro-F1, Hamming loss, exact-match ratio and per-label precision/recall/F1.

    Args:
        y_true: (n, k) 0/1 targets.
        probs: (n, k) probabilities.
        thresholds: one threshold, or one per label.
        class_names: names for the per-label entries (default "0", "1", ...).

    Returns:
        A dict with ``micro_f1``, ``macro_f1``, ``micro_precision``, ``micro_recall``,
        ``hamming_loss``, ``subset_accuracy`` and ``per_label`` (name -> precision, recall, f1,
        support, threshold). Macro-F1 averages every label, those without support counting 0
        when something is predicted for them and 1 when nothing is (scikit-learn's
        ``zero_division=1`` convention would differ only there; see the note in the code).
    """
    y, p = _check(y_true, probs)
    k = y.shape[1]
    t = thresholds_array(thresholds, k)
    pred = (p >= t).astype(np.int8)
    tp = (pred & y).sum(axis=0).astype(float)
    fp = (pred & (1 - y)).sum(axis=0).astype(float)
    fn = ((1 - pred) & y).sum(axis=0).astype(float)
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
    recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
    f1 = _f1_counts(tp, fp, fn)
    # A label never present and never predicted is handled perfectly: count it as F1 = 1, so that
    # macro-F1 does not punish labels the validation split happens to lack.
    f1 = np.where(tp + fp + fn == 0, 1.0, f1)
    micro_tp, micro_fp, micro_fn = tp.sum(), fp.sum(), fn.sum()
    names = [str(c) for c in class_names] if class_names is not None else [str(j) for j in range(k)]
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names for {k} labels")
    return {
        "micro_f1": float(_f1_counts(micro_tp, micro_fp, micro_fn)),
        "macro_f1": float(f1.mean()),
        "micro_precision": float(micro_tp / max(micro_tp + micro_fp, 1.0)),
        "micro_recall": float(micro_tp / max(micro_tp + micro_fn, 1.0)),
        "hamming_loss": float((pred != y).mean()),
        "subset_accuracy": float(np.all(pred == y, axis=1).mean()),
        "per_label": {
            names[j]: {"precision": float(precision[j]), "recall": float(recall[j]), "f1": float(f1[j]),
                       "support": int(y[:, j].sum()), "threshold": float(t[j])}
            for j in range(k)
        },
    }


@dataclass
class Thresholds:
    """The result of `tune_thresholds`.

    Attributes:
        thresholds: one threshold per label, in the model's output order.
        global_threshold: the best single threshold for all labels.
        metric: what was maximised ("micro_f1" or "macro_f1").
        score: the metric with the per-label thresholds.
        score_global: the metric with `global_threshold` for every label.
        score_at_default: the metric at 0.5 for every label.
    """

    thresholds: list[float]
    global_threshold: float
    metric: str
    score: float
    score_global: float
    score_at_default: float

    def to_json(self) -> dict:
        return asdict(self)


# A fixed grid keeps thresholds at readable values and the search cheap; the midpoints between
# observed probabilities would fit the validation set more tightly than it deserves.
GRID = np.round(np.arange(0.02, 0.981, 0.01), 2)


def _counts(y: np.ndarray, p: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tp, fp, fn of every label at every grid threshold: arrays of shape (labels, thresholds)."""
    pred = p[:, :, None] >= grid[None, None, :]  # (n, k, G)
    pos = y.astype(bool)[:, :, None]
    tp = (pred & pos).sum(axis=0).astype(float)
    fp = (pred & ~pos).sum(axis=0).astype(float)
    fn = (~pred & pos).sum(axis=0).astype(float)
    return tp, fp, fn


def tune_thresholds(y_true, probs, metric: str = "micro_f1", max_passes: int = 3) -> Thresholds:
    """Searches a global threshold, then one per label, that maximise `metric` on `y_true`.

    Thresholds come from a grid (0.02 to 0.98 in steps of 0.01). Per-label thresholds are found
    by coordinate ascent from the global one: each label's threshold in turn is set to its best
    value with the others held, for up to `max_passes` passes (macro-F1 separates by label, so
    one pass is exact for it). Ties keep the value closest to 0.5. Labels with no positive
    example keep the global threshold.

    Args:
        y_true: (n, k) 0/1 validation targets.
        probs: (n, k) the model's validation probabilities.
        metric: "micro_f1" or "macro_f1".
        max_passes: coordinate-ascent passes for micro-F1.

    Returns:
        `Thresholds`.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if isinstance(max_passes, bool) or not isinstance(max_passes, int) or max_passes < 1:
        raise ValueError(f"max_passes must be a positive integer, got {max_passes!r}")
    y, p = _check(y_true, probs)
    k = y.shape[1]
    # The search visits the grid in order of distance from 0.5, so a tie keeps the nearer value.
    grid = GRID[np.argsort(np.abs(GRID - DEFAULT_THRESHOLD), kind="stable")]
    tp, fp, fn = _counts(y, p, grid)
    label_f1 = np.where(tp + fp + fn == 0, 1.0, _f1_counts(tp, fp, fn))  # (k, G), as multilabel_metrics

    def score_of(cols: np.ndarray) -> float:
        rows = np.arange(k)
        if metric == "micro_f1":
            return float(_f1_counts(tp[rows, cols].sum(), fp[rows, cols].sum(), fn[rows, cols].sum()))
        return float(label_f1[rows, cols].mean())

    default_col = int(np.flatnonzero(grid == DEFAULT_THRESHOLD)[0])
    at_default = score_of(np.full(k, default_col))
    global_col, global_score = default_col, at_default
    for g in range(len(grid)):
        s = score_of(np.full(k, g))
        if s > global_score + 1e-12:
            global_col, global_score = g, s
    cols = np.full(k, global_col)
    score = global_score
    has_positives = y.sum(axis=0) > 0
    for _ in range(1 if metric == "macro_f1" else max_passes):
        changed = False
        for j in np.flatnonzero(has_positives):
            best = cols[j]
            for g in range(len(grid)):
                cols[j] = g
                s = score_of(cols)
                if s > score + 1e-12:
                    score, best, changed = s, g, True
            cols[j] = best
        if not changed:
            break
    return Thresholds(thresholds=[float(grid[c]) for c in cols], global_threshold=float(grid[global_col]),
                      metric=metric, score=float(score), score_global=float(global_score),
                      score_at_default=float(at_default))


def tune_binary_threshold(targets, probs) -> Thresholds:
    """A binary single-label model's decision threshold: the positive class's (the second
    column's) probability at which it is predicted, chosen to maximise its F1 on validation data.
    It is the one-label case of `tune_thresholds` (the same grid and tie rule).

    Args:
        targets: class ids (0 / 1) of the validation texts.
        probs: (n, 2) their predicted probabilities.
    """
    y = np.asarray(targets)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or y.shape != (len(p),):
        raise ValueError(f"a binary threshold needs (n, 2) probabilities and n class ids, got {p.shape} and {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("binary targets must be class ids 0 or 1")
    if y.min() == y.max():
        raise ValueError("the validation labels hold one class only: a threshold needs both")
    return tune_thresholds((y == 1).astype(np.int64)[:, None], p[:, 1:2], metric="micro_f1")
