"""The learning-rate range test: the sweep (which saves and restores the model around itself), its
callback, and named suggestion heuristics.

Each suggestion is a plain function of the recorded ``(lrs, losses)`` curve, so it can be tested
on synthetic curves. Indexing is always into the arrays as given: no skipped prefix is ever
forgotten when mapping an index back to a learning rate (ktrain's off-by-32 bug).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfclf._util import base_optimizer
from tfclf._util import positive_int as _check_positive_int
from tfclf._util import positive_number as _check_lr
from tfclf._util import smooth  # noqa: F401 - the curve's smoothing, part of this module's API
from tfclf.distribute import scope_of

DEFAULT_SWEEP_STEPS = 100


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


def sweep(model, dataset, lrs: np.ndarray, *, steps_per_epoch: int, stop_factor: float | None = 4.0,
          verbose: int = 1) -> dict:
    """Trains `model` on the repeated `dataset` with the LR rising through `lrs`, then puts its
    weights and optimizer state back exactly as they were (also on Ctrl-C or an error).

    Returns:
        The curve: ``{"lrs", "losses" (smoothed), "raw_losses"}`` as arrays.
    """
    callback = make_sweep_callback(lrs, stop_factor=stop_factor)
    saved = snapshot(model)
    try:
        # Epochs no longer than the sweep, so the progress bar ends where the sweep does.
        per_epoch = min(steps_per_epoch, len(lrs))
        model.fit(dataset.repeat(), steps_per_epoch=per_epoch, epochs=math.ceil(len(lrs) / per_epoch),
                  callbacks=[callback], verbose=verbose)
    finally:
        restore(model, saved)
    return {"lrs": np.array(callback.lrs_seen[: len(callback.losses)]), "losses": np.array(callback.losses),
            "raw_losses": np.array(callback.raw_losses)}


def snapshot(model) -> dict:
    """The model's weights and its optimizer's state and hyperparameters, as NumPy copies."""
    from tfclf._compat import keras

    with scope_of(model):
        opt = base_optimizer(model.optimizer)
        return {
            "weights": [w.copy() for w in model.get_weights()],
            # the wrapper's variables: under mixed_float16 they include the loss scale
            "optimizer": [v.numpy().copy() for v in model.optimizer.variables],
            "lr": float(keras.backend.get_value(opt.learning_rate)),
            "beta_1": (float(keras.backend.get_value(opt.beta_1))
                       if hasattr(getattr(opt, "beta_1", None), "assign") else None),
        }


def restore(model, saved: dict) -> None:
    """Puts weights and optimizer state back as `snapshot` found them.

    An optimizer that had no state yet gets its new slots zeroed and its step count reset,
    which is exactly the state a fresh Adam starts from.
    """
    with scope_of(model):
        model.set_weights(saved["weights"])
        opt = base_optimizer(model.optimizer)
        for i, var in enumerate(model.optimizer.variables):
            var.assign(saved["optimizer"][i] if i < len(saved["optimizer"])
                       else np.zeros(var.shape, var.dtype.as_numpy_dtype))
        opt.learning_rate.assign(saved["lr"])
        if saved["beta_1"] is not None:
            opt.beta_1.assign(saved["beta_1"])


_suggest = suggest  # for methods whose `suggest` argument hides the function


class LRFinderMixin:
    """`Learner.lr_find` and the views of its curve. Uses the Learner's model, training data,
    batch size and seed; keeps the last curve as ``lr_finder_``."""

    def lr_find(self, start_lr: float = 1e-7, end_lr: float = 10, max_epochs: int | None = None,
                stop_factor: float | None = 4, show_plot: bool = False, suggest: bool = False,
                verbose: int = 1, max_steps: int | None = None):
        """Sweeps the LR exponentially from `start_lr` to `end_lr`, recording the smoothed loss.

        The sweep stops when the smoothed loss exceeds `stop_factor` times its minimum, and the
        model's weights and optimizer state are restored exactly afterwards (also on Ctrl-C).

        Args:
            max_epochs: sweep length in epochs; None sweeps `max_steps` batches
                (default 100, enough to cross 1e-7..10 in steps of about x1.2).
            max_steps: sweep length in batches (overrides max_epochs).
            show_plot: draw the curve when done (`lr_plot`).
            suggest: print (and, with show_plot, mark) the suggested learning rates.

        Returns:
            The `LRSuggestions` (valley, steepest, minimum/10).
        """
        start_lr, end_lr = _check_lr(start_lr, "start_lr"), _check_lr(end_lr, "end_lr")
        spe = self._steps_per_epoch()
        if max_steps is not None:
            steps = _check_positive_int(max_steps, "max_steps")
        elif max_epochs is not None:
            steps = _check_positive_int(max_epochs, "max_epochs") * spe
        else:
            steps = DEFAULT_SWEEP_STEPS
        lrs = exponential_lrs(start_lr, end_lr, max(steps, 2))
        if verbose:
            print(f"simulating training for LRs from {start_lr:.1E} to {end_lr:.1E} over at most {len(lrs)} steps...")
        self.lr_finder_ = sweep(self.model, self.train_data.to_tf(self.batch_size, shuffle=True, seed=self.seed),
                                          lrs, steps_per_epoch=spe, stop_factor=stop_factor, verbose=verbose)
        if verbose:
            print("done. Visually inspect loss plot and select learning rate associated with falling loss")
        suggestions = self.lr_suggestions()
        if show_plot:
            self.lr_plot(suggest=suggest)
        elif suggest:
            print(f"suggested learning rates: {suggestions}")
        return suggestions

    def _lr_curve(self, n_skip_beginning: int, n_skip_end: int) -> tuple[np.ndarray, np.ndarray]:
        if self.lr_finder_ is None:
            raise RuntimeError("run learner.lr_find() first")
        lrs, losses = self.lr_finder_["lrs"], self.lr_finder_["losses"]
        end = len(lrs) - n_skip_end if n_skip_end else len(lrs)
        if end - n_skip_beginning < 3:  # too short to skip anything: use the whole curve
            return lrs, losses
        return lrs[n_skip_beginning:end], losses[n_skip_beginning:end]

    def lr_suggestions(self, n_skip_beginning: int = 10, n_skip_end: int = 5) -> LRSuggestions:
        """The suggested learning rates for the last `lr_find` curve."""
        return suggest(*self._lr_curve(n_skip_beginning, n_skip_end))

    def lr_estimate(self) -> tuple:
        """ktrain's ``lr_estimate()``: ``(steepest, minimum / 10, valley)``, in ktrain's order.

        The same three values as `lr_suggestions` (a named tuple, the clearer spelling).
        """
        s = self.lr_suggestions()
        return (s.steepest, s.minimum, s.valley)

    def lr_plot(self, n_skip_beginning: int = 10, n_skip_end: int = 5, suggest: bool = False,
                return_fig: bool = False, show: bool = True, save_path: str | Path | None = None):
        """Plots loss vs LR (log scale) from the last `lr_find`, with the suggestions marked.

        The figure is saved to `save_path` when given (PNG, SVG or PDF by its suffix).

        Returns:
            The `LRSuggestions` when `suggest` is True (and `return_fig` False); the figure when
            `return_fig` is True.
        """
        from tfclf import plots

        lrs, losses = self._lr_curve(n_skip_beginning, n_skip_end)
        # `suggest` is the argument here; the function of that name is _suggest.
        suggestions = _suggest(lrs, losses) if suggest else None
        fig = plots.lr_finder_plot(lrs, losses, suggestions, show=show, save_path=save_path)
        if suggestions is not None:
            print(f"suggested learning rates: {suggestions}")
        if return_fig:
            return fig
        return suggestions

