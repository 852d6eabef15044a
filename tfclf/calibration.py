"""How much to trust a classifier's probabilities, and how to make them honest: the math only.

This module owns, in NumPy (and scikit-learn's SciPy for one 1-D minimisation):

* temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"):
  `fit_temperature` finds the one number T > 0 that minimises the log loss of
  softmax(logits / T) (sigmoid for multi-label) on held-out labeled texts, and `probabilities`
  applies it (the same function does both, so fitting and applying cannot disagree). Dividing
  by T > 0 never changes a single-label argmax nor which side of 0.5 a sigmoid is on;
* the quality of probabilities: `expected_calibration_error`, `reliability_curve`,
  `brier_score`, `log_loss`, and `calibration_report` (all of them, before and after);
* abstaining: `risk_coverage` (accuracy of the texts answered against the fraction answered,
  over confidence thresholds) and `coverage_at_accuracy`; the checks of their inputs, and
  `check_confidence`, are in `tfclf.probability_checks`;
* `calibrate_logits` and `summary`: the fit and its report for a `TextDataset`'s logits, as the
  Learner and the Predictor use them.

Everything here is a pure function of arrays with checked inputs; nothing imports TensorFlow.
Where the predictions come from, and where the temperature is stored, is the predictor's and
the learner's business (the plots are in `tfclf.plots`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tfclf.inference import document_probabilities
from tfclf.probability_checks import (check_bins, check_confidence, check_logits, check_mode, check_probs,
                                      check_targets, check_temperature, check_windows)
from tfclf.labels import MULTICLASS, MULTILABEL
from tfclf.reading import AGGREGATES, MEAN_LOGITS

# The temperature is searched in [T_MIN, T_MAX]: wide enough for any real network (fitted values
# are typically 1 to 3), narrow enough that a degenerate held-out set (every text right and
# confident, so the loss keeps falling as T -> 0) ends at a finite, usable value.
T_MIN, T_MAX = 0.05, 20.0
# Probabilities are clipped to [EPS, 1 - EPS] in the log loss (a wrong answer costs at most
# -log(1e-7) ~= 16): one mislabeled held-out text cannot dominate the fit, and the fitted and
# the reported log loss are the same function, so "after" can never exceed "before".
EPS = 1e-7
DEFAULT_BINS = 15
# The default risk-coverage grid: every distinct top probability, thinned to this many quantiles.
MAX_THRESHOLDS = 101


# --------------------------------------------------------------------------- temperature scaling


def probabilities(logits: np.ndarray, mode: str, temperature: float = 1.0, doc_ids: np.ndarray | None = None,
                  n_docs: int | None = None, aggregate: str = MEAN_LOGITS) -> np.ndarray:
    """Per-document probabilities from per-row logits at `temperature`.

    Each row's logits are divided by `temperature`; then softmax ("multiclass") or sigmoid
    ("multilabel"). When rows are windows of longer texts (`doc_ids[r]` is row r's document,
    `n_docs` documents, default ``max(doc_ids) + 1``), a document's probabilities are
    softmax(mean of its windows' logits / T) for aggregate "mean_logits", or the mean of its
    windows' softmax(logits / T) for "mean_probs" -- as `tfclf.inference` predicts.

    Returns:
        float64 array (documents, classes).
    """
    mode = check_mode(mode)
    z = check_logits(logits, mode)
    t = check_temperature(temperature)
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
    if doc_ids is None:
        return _probabilities(z, mode, t, None, None, aggregate)
    ids, n = check_windows(doc_ids, len(z), n_docs)
    return _probabilities(z, mode, t, ids, n, aggregate)


def _probabilities(z: np.ndarray, mode: str, t: float, doc_ids: np.ndarray | None, n_docs: int | None,
                   aggregate: str) -> np.ndarray:
    """`probabilities` on checked inputs (the fit calls it once per candidate temperature): the
    predictor's own path, so fitting and predicting cannot disagree."""
    return document_probabilities(z, mode, t, doc_ids=doc_ids, n_docs=n_docs, aggregate=aggregate)


def fit_temperature(logits: np.ndarray, targets: np.ndarray, mode: str, doc_ids: np.ndarray | None = None,
                    n_docs: int | None = None, aggregate: str = MEAN_LOGITS) -> float:
    """The temperature T > 0 minimising the log loss of ``probabilities(logits, mode, T, ...)``.

    Args:
        logits: (rows, classes) logits of held-out labeled texts (or of their windows).
        targets: one per document: class ids ("multiclass"), or 0 / 1 rows ("multilabel", whose
            loss is the binary cross-entropy averaged over labels and documents).
        mode: "multiclass" or "multilabel".
        doc_ids, n_docs, aggregate: windows, as in `probabilities`.

    The search is over log T in [log 0.05, log 20]: a grid of 49 points (T = 1 among them), then
    bounded Brent around the best grid point. The grid makes it robust where the loss is not
    convex in T ("mean_probs"); the result never has a higher loss than T = 1.

    Raises:
        ValueError: regression, NaN / infinite logits, lengths that differ, fewer than 2
            documents, targets of a single class (or multi-label targets all 0 or all 1).
    """
    from scipy.optimize import minimize_scalar  # scikit-learn's dependency; imported when fitting

    mode = check_mode(mode)
    z = check_logits(logits, mode)
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
    ids, n = check_windows(doc_ids, len(z), n_docs) if doc_ids is not None else (None, len(z))
    if n < 2:
        raise ValueError(f"calibration needs at least 2 held-out texts, got {n}")
    y = check_targets(targets, mode, n, z.shape[1])
    if mode == MULTICLASS and len(np.unique(y)) < 2:
        raise ValueError("calibration needs held-out texts of at least two classes; "
                         f"all {n} are of class {int(y[0])}")
    if mode == MULTILABEL and (y.min() == y.max()):
        raise ValueError(f"calibration needs held-out targets with both 0 and 1; all are {int(y[0, 0])}")

    def loss(log_t: float) -> float:
        return _log_loss(_probabilities(z, mode, math.exp(log_t), ids, n, aggregate), y, mode)

    lo, hi = math.log(T_MIN), math.log(T_MAX)
    # 24 steps of ~0.125 in log T on each side of 0, so T = 1 itself is a candidate.
    grid = np.concatenate([np.linspace(lo, 0.0, 25), np.linspace(0.0, hi, 25)[1:]])
    losses = np.array([loss(g) for g in grid])
    best = int(np.argmin(losses))
    left, right = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    result = minimize_scalar(loss, bounds=(left, right), method="bounded", options={"xatol": 1e-6})
    log_t = float(result.x) if result.fun <= losses[best] else float(grid[best])
    return float(np.clip(math.exp(log_t), T_MIN, T_MAX))


# --------------------------------------------------------------------------- quality of probabilities


def _log_loss(p: np.ndarray, y: np.ndarray, mode: str) -> float:
    if mode == MULTILABEL:
        q = np.clip(p, EPS, 1 - EPS)
        return float(-(y * np.log(q) + (1 - y) * np.log(1 - q)).mean())
    return float(-np.log(np.clip(p[np.arange(len(p)), y], EPS, 1.0)).mean())


def log_loss(probs: np.ndarray, targets: np.ndarray, mode: str) -> float:
    """Mean negative log-likelihood, probabilities clipped to [1e-7, 1 - 1e-7].

    Single-label: the mean over texts of -log p[target]; multi-label: the binary cross-entropy
    averaged over every (text, label) cell.
    """
    mode = check_mode(mode)
    p, y = _probs_and_targets(probs, targets, mode)
    return _log_loss(p, y, mode)


def brier_score(probs: np.ndarray, targets: np.ndarray, mode: str) -> float:
    """The Brier score (lower is better).

    Single-label: the mean over texts of the sum over classes of (p - one_hot(target))^2 (from 0
    to 2; for two classes this is twice scikit-learn's binary `brier_score_loss`).
    Multi-label: the mean of (p - target)^2 over every (text, label) cell.
    """
    mode = check_mode(mode)
    p, y = _probs_and_targets(probs, targets, mode)
    return _brier(p, y, mode)


def _brier(p: np.ndarray, y: np.ndarray, mode: str) -> float:
    if mode == MULTILABEL:
        return float(((p - y) ** 2).mean())
    onehot = np.zeros_like(p)
    onehot[np.arange(len(p)), y] = 1.0
    return float(((p - onehot) ** 2).sum(axis=1).mean())


def _accuracy(p: np.ndarray, y: np.ndarray, mode: str) -> float:
    if mode == MULTILABEL:
        # Per (text, label) cell at 0.5: a temperature never moves a sigmoid across 0.5.
        return float(((p >= 0.5) == (y == 1)).mean())
    return float((p.argmax(axis=1) == y).mean())


def _probs_and_targets(probs, targets, mode: str, name: str = "probs") -> tuple[np.ndarray, np.ndarray]:
    """Checked probabilities (at least one text) and targets of the same texts."""
    p = check_probs(probs, mode, name)
    if len(p) < 1:
        raise ValueError("no texts: the probabilities are empty")
    return p, check_targets(targets, mode, len(p), p.shape[1])


def _confidence_outcome(p: np.ndarray, y: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """What the bins sort and what they average: single-label, the top-class probability and
    whether that class is right; multi-label, every cell's probability and its 0 / 1 target."""
    if mode == MULTILABEL:
        return p.ravel(), y.ravel()
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)


def _bins(confidence: np.ndarray, outcome: np.ndarray, n_bins: int) -> dict:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin b is (edges[b], edges[b + 1]]: the count of inner edges strictly below a confidence.
    # The first bin also takes a confidence of exactly 0 (possible for a multi-label cell).
    index = np.searchsorted(edges[1:-1], confidence, side="left")
    count = np.bincount(index, minlength=n_bins)
    conf_sum = np.bincount(index, weights=confidence, minlength=n_bins)
    out_sum = np.bincount(index, weights=outcome, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, conf_sum / count, np.nan)
        mean_out = np.where(count > 0, out_sum / count, np.nan)
    filled = count > 0
    ece = float((count[filled] / count.sum() * np.abs(mean_out[filled] - mean_conf[filled])).sum())
    return {"lower": edges[:-1], "upper": edges[1:], "count": count, "confidence": mean_conf,
            "accuracy": mean_out, "ece": ece}


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, mode: str,
                               n_bins: int = DEFAULT_BINS) -> float:
    """Expected calibration error with `n_bins` equal-width bins (default 15).

    Single-label: each text's top-class probability (its confidence) falls in one of the bins
    (0, 1/n], (1/n, 2/n], ..., ((n-1)/n, 1]; ECE = sum over bins of (texts in bin / texts) *
    |accuracy of the bin's texts - their mean confidence|. Multi-label: the same over every
    (text, label) probability, "accuracy" being the fraction of the bin's cells whose target is 1.
    0 is perfectly calibrated; 1 is the worst.
    """
    mode = check_mode(mode)
    n_bins = check_bins(n_bins)
    p, y = _probs_and_targets(probs, targets, mode)
    return _bins(*_confidence_outcome(p, y, mode), n_bins)["ece"]


def reliability_curve(probs: np.ndarray, targets: np.ndarray, mode: str, n_bins: int = DEFAULT_BINS) -> dict:
    """The bins of `expected_calibration_error`, for a reliability diagram (`tfclf.plots.reliability_plot`).

    Returns:
        ``{"mode", "n_bins", "ece", "lower", "upper", "count", "confidence", "accuracy"}``: per bin
        (lists of length `n_bins`, every bin kept), its lower and upper edge, how many texts (cells,
        multi-label) fell in it, their mean confidence and accuracy (fraction of 1 targets,
        multi-label); both means are NaN for an empty bin.
    """
    mode = check_mode(mode)
    n_bins = check_bins(n_bins)
    p, y = _probs_and_targets(probs, targets, mode)
    bins = _bins(*_confidence_outcome(p, y, mode), n_bins)
    return {"mode": mode, "n_bins": n_bins, "ece": bins["ece"],
            "lower": [float(v) for v in bins["lower"]], "upper": [float(v) for v in bins["upper"]],
            "count": [int(v) for v in bins["count"]], "confidence": [float(v) for v in bins["confidence"]],
            "accuracy": [float(v) for v in bins["accuracy"]]}


def _metrics(p: np.ndarray, y: np.ndarray, mode: str, n_bins: int) -> dict:
    return {"ece": _bins(*_confidence_outcome(p, y, mode), n_bins)["ece"], "log_loss": _log_loss(p, y, mode),
            "brier": _brier(p, y, mode), "accuracy": _accuracy(p, y, mode)}


def calibration_report(probs_before: np.ndarray, probs_after: np.ndarray | None, targets: np.ndarray, mode: str,
                       n_bins: int = DEFAULT_BINS) -> dict:
    """ECE, log loss, Brier score and accuracy of the same texts' probabilities before and after.

    Accuracy is single-label top-class accuracy; multi-label, the fraction of (text, label)
    cells right at 0.5.

    Returns:
        ``{"n_bins", "before": {"ece", "log_loss", "brier", "accuracy"}, "after": {...} or None}``.
    """
    mode = check_mode(mode)
    n_bins = check_bins(n_bins)
    before, y = _probs_and_targets(probs_before, targets, mode, "probs_before")
    after = None
    if probs_after is not None:
        after = check_probs(probs_after, mode, "probs_after")
        if after.shape != before.shape:
            raise ValueError(f"probs_before and probs_after have different shapes: {before.shape} and {after.shape}")
    return {"n_bins": n_bins, "before": _metrics(before, y, mode, n_bins),
            "after": None if after is None else _metrics(after, y, mode, n_bins)}


def calibrate_logits(logits: np.ndarray, data: Any, n_bins: int = DEFAULT_BINS) -> dict:
    """Fits a temperature to the logits of a labeled `TextDataset` and reports before and after.

    `data` gives the mode, the per-document targets and the windows (``mode``, ``doc_targets``,
    ``doc_ids``, ``n_docs``, ``aggregate``); `logits` are its rows' logits.

    Returns:
        ``{"temperature", "n_bins", "before", "after"}`` (see `calibration_report`).
    """
    mode = check_mode(data.mode)
    n_bins = check_bins(n_bins)
    targets = data.doc_targets
    if targets is None:
        raise ValueError("calibration needs labeled texts; this data has no labels")
    windows = {"doc_ids": data.doc_ids, "n_docs": data.n_docs if data.doc_ids is not None else None,
               "aggregate": getattr(data, "aggregate", MEAN_LOGITS)}
    temperature = fit_temperature(logits, targets, mode, **windows)
    before = probabilities(logits, mode, 1.0, **windows)
    after = probabilities(logits, mode, temperature, **windows)
    return {"temperature": temperature, **calibration_report(before, after, targets, mode, n_bins)}


def summary(report: dict) -> str:
    """One line for `calibrate_logits`' report: the temperature and each measure before -> after."""
    before, after = report["before"], report.get("after")
    parts = [f"temperature {report['temperature']:.4g}"] if "temperature" in report else []
    names = (("ece", f"ECE ({report['n_bins']} bins)"), ("log_loss", "log loss"), ("brier", "Brier"),
             ("accuracy", "accuracy"))
    for key, name in names:
        parts.append(f"{name} {before[key]:.4f}" + ("" if after is None else f" -> {after[key]:.4f}"))
    return ", ".join(parts)


# --------------------------------------------------------------------------- abstaining


def risk_coverage(probs: np.ndarray, targets: np.ndarray, mode: str = MULTICLASS, thresholds=None) -> dict:
    """Accuracy of the texts answered against the fraction answered, when texts whose top
    probability is below a threshold p get no label (``predict(..., min_confidence=p)``).

    Args:
        probs: (texts, classes) single-label probabilities (calibrated or not).
        targets: class ids.
        thresholds: the p values (each in [0, 1]); default 0 and every distinct top probability,
            thinned to 101 evenly spaced quantiles of them when there are more.

    Returns:
        ``{"n", "threshold", "coverage", "answered", "accuracy"}``: lists over the thresholds in
        increasing order (coverage never increases): the fraction and the number of texts with top
        probability >= p, and the accuracy of those (NaN when none is answered). At p = 0 coverage
        is 1 and accuracy is the plain accuracy.
    """
    mode = check_mode(mode)
    if mode != MULTICLASS:
        raise ValueError("risk_coverage is for single-label probabilities (the top class is the answer)")
    p, y = _probs_and_targets(probs, targets, mode)
    top = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    if thresholds is None:
        distinct = np.unique(top)
        if len(distinct) > MAX_THRESHOLDS:
            distinct = distinct[np.unique(np.round(np.linspace(0, len(distinct) - 1, MAX_THRESHOLDS)).astype(int))]
        grid = np.unique(np.concatenate([[0.0], distinct]))
    else:
        values = np.atleast_1d(np.asarray(thresholds, dtype=object))
        if values.size == 0:
            raise ValueError("thresholds is empty")
        grid = np.unique([check_confidence(v, "every threshold") for v in values])
    # Texts sorted by decreasing confidence: the answered ones at p are a prefix of that order.
    order = np.argsort(-top, kind="stable")
    hits = np.concatenate([[0.0], np.cumsum(correct[order])])
    answered = len(top) - np.searchsorted(np.sort(top), grid, side="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(answered > 0, hits[answered] / answered, np.nan)
    return {"n": int(len(top)), "threshold": [float(v) for v in grid],
            "coverage": [float(v) for v in answered / len(top)], "answered": [int(v) for v in answered],
            "accuracy": [float(v) for v in accuracy]}


def coverage_at_accuracy(curve: dict, target: float = 0.99) -> float | None:
    """The largest coverage of `curve` (from `risk_coverage`) whose answered texts reach
    accuracy >= `target`; None if no threshold does."""
    target = check_confidence(target, "target")
    coverage = np.asarray(curve["coverage"], dtype=np.float64)
    accuracy = np.asarray(curve["accuracy"], dtype=np.float64)
    if coverage.shape != accuracy.shape:
        raise ValueError("the curve's coverage and accuracy have different lengths")
    ok = (coverage > 0) & ~np.isnan(accuracy) & (accuracy >= target)
    return float(coverage[ok].max()) if ok.any() else None
