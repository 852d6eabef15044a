"""The learning-rate range test: an exponential LR sweep callback and named suggestion heuristics.

Each suggestion is a plain function of the recorded ``(lrs, losses)`` curve, so it can be tested
on synthetic curves. Indexing is always into the arrays as given: no skipped prefix is ever
forgotten when mapping an index back to a learning rate (ktrain's off-by-32 bug).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from tfclf._util import base_optimizer


class LRSuggestions(NamedTuple):
    """Learning rates suggested by the range test (None where the curve gives no answer)."""

    valley: float | None
    steepest: float | None
    minimum: float | None  # the LR of the lowest loss, divided by 10

    def __str__(self) -> str:
        def fmt(v):
            return "n/a" if v is None else f"{v:.2E}"

        return f"valley: {fmt(self.valley)}, steepest: {fmt(self.steepest)}, minimum/10: {fmt(self.minimum)}"


def _clean(lrs, losses) -> tuple[np.ndarray, np.ndarray]:
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    if lrs.shape != losses.shape or lrs.ndim != 1:
        raise ValueError("lrs and losses must be 1-D arrays of the same length")
    keep = np.isfinite(losses) & np.isfinite(lrs) & (lrs > 0)
    return lrs[keep], losses[keep]


def suggest_minimum(lrs, losses) -> float | None:
    """The LR at the lowest loss, divided by 10 (the LR finder's classic rule of thumb)."""
    lrs, losses = _clean(lrs, losses)
    if len(lrs) == 0:
        return None
    return float(lrs[int(np.argmin(losses))] / 10.0)


def suggest_steepest(lrs, losses) -> float | None:
    """The LR where the loss falls fastest against log(LR), before the lowest loss."""
    lrs, losses = _clean(lrs, losses)
    if len(losses) < 3:
        return None
    # Central differences over the whole curve, so the point at the minimum is not judged by
    # the one-sided slope of the segment that leads into it.
    slope = np.gradient(losses, np.log(lrs))
    end = int(np.argmin(losses))
    if end < 1:
        return None
    return float(lrs[int(np.argmin(slope[:end]))])


def suggest_valley(lrs, losses) -> float | None:
    """An LR in the middle of the longest descent of the loss (fastai's "valley" idea).

    The longest descent is the longest strictly decreasing subsequence of the losses; the
    suggestion sits about half-way along it, a safe distance from where the loss turns up.
    """
    lrs, losses = _clean(lrs, losses)
    n = len(losses)
    if n < 3:
        return None
    # length[i]: the longest decreasing run ending at i; start[i]: where that run starts.
    length = np.ones(n, dtype=int)
    start = np.arange(n)
    for i in range(1, n):
        earlier = np.flatnonzero(losses[:i] > losses[i])
        if len(earlier):
            j = earlier[np.argmax(length[earlier])]
            length[i] = length[j] + 1
            start[i] = start[j]
    end = int(np.argmax(length))
    if length[end] < 2:
        return None
    begin = int(start[end])
    return float(lrs[begin + int(round((end - begin) * 0.5))])


def suggest(lrs, losses) -> LRSuggestions:
    """All suggestions for one curve."""
    return LRSuggestions(
        valley=suggest_valley(lrs, losses),
        steepest=suggest_steepest(lrs, losses),
        minimum=suggest_minimum(lrs, losses),
    )


def exponential_lrs(start_lr: float, end_lr: float, steps: int) -> np.ndarray:
    """`steps` learning rates spaced evenly in log space from start_lr to end_lr."""
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if steps < 2:
        raise ValueError("the sweep needs at least 2 steps")
    return np.exp(np.linspace(math.log(start_lr), math.log(end_lr), steps))


def smooth(losses, beta: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average (what the sweep's stop rule and plot use)."""
    avg, out = 0.0, []
    for i, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta**i))
    return np.asarray(out)


def make_sweep_callback(lrs: np.ndarray, stop_factor: float | None = 4.0, beta: float = 0.98):
    """A Keras callback that sets the LR to ``lrs[step]`` and stops when the loss diverges.

    It records ``lrs_seen``, ``raw_losses`` and ``losses`` (smoothed). Training stops when the
    smoothed loss exceeds `stop_factor` times the best so far, when the loss is not finite, or
    when the LRs run out.
    """
    from tfclf._compat import keras
    from tfclf.callbacks import BatchLoss

    class LRSweep(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.lrs_seen: list[float] = []
            self.raw_losses: list[float] = []
            self.losses: list[float] = []
            self.best = math.inf
            self.avg = 0.0
            self.unaverage = BatchLoss()

        def on_train_batch_begin(self, batch, logs=None):
            step = len(self.raw_losses)
            if step < len(lrs):
                base_optimizer(self.model.optimizer).learning_rate.assign(float(lrs[step]))

        def on_epoch_begin(self, epoch, logs=None):
            self.unaverage = BatchLoss()

        def on_train_batch_end(self, batch, logs=None):
            step = len(self.raw_losses)
            loss = self.unaverage(batch, logs)
            self.lrs_seen.append(float(lrs[min(step, len(lrs) - 1)]))
            self.raw_losses.append(loss)
            if not math.isfinite(loss):
                self.model.stop_training = True
                return
            self.avg = beta * self.avg + (1 - beta) * loss
            smoothed = self.avg / (1 - beta ** (step + 1))
            self.losses.append(smoothed)
            self.best = min(self.best, smoothed)
            if stop_factor is not None and step > 5 and smoothed > stop_factor * self.best:
                self.model.stop_training = True
            if step + 1 >= len(lrs):
                self.model.stop_training = True

    return LRSweep()
