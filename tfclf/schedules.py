"""Learning-rate and momentum schedules as pure functions, and the Keras callback that applies them.

The 1cycle policy (Smith 2018, as in fastai), over ``total`` optimizer steps numbered 0..total-1,
with ``n_up = max(1, round(total * 0.5))`` warm-up steps, capped at ``total - 2`` when
``total >= 3`` so that the peak and the final step are distinct steps:

* step ``i < n_up``: the LR rises from ``max_lr / div_factor`` (lr/10) to ``max_lr`` along half a
  cosine, ``lr(i) = cos_interp(max_lr/10, max_lr, i / n_up)``, so step ``n_up`` is at the peak;
* step ``i >= n_up``: it falls from ``max_lr`` to ``max_lr / final_div`` (lr/1000) along half a
  cosine, reaching it exactly at the last step;
* momentum (Adam's beta_1) mirrors the LR: ``max_momentum`` at the start, ``min_momentum`` at
  the peak, ``max_momentum`` again at the end;

where ``cos_interp(a, b, t) = b + (a - b) * (1 + cos(pi * t)) / 2`` goes from a (t=0) to b (t=1).
Runs too short for the whole cycle: 1 step is at lr/10; 2 steps are lr/10 then the peak.
"""

from __future__ import annotations

import math

import numpy as np

from tfclf._util import base_optimizer

DIV_FACTOR = 10.0
FINAL_DIV = 1000.0
PCT_UP = 0.5


def cos_interp(start: float, end: float, t: float) -> float:
    """Half-cosine interpolation from `start` (t=0) to `end` (t=1)."""
    t = min(max(t, 0.0), 1.0)
    return end + (start - end) * (1.0 + math.cos(math.pi * t)) / 2.0


def _phase(step: int, total: int, pct_up: float) -> tuple[int, float]:
    if total < 1:
        raise ValueError(f"total steps must be >= 1, got {total}")
    if not 0 <= step < total:
        raise ValueError(f"step {step} is outside 0..{total - 1}")
    n_up = max(1, round(total * pct_up))
    if total >= 3:
        # Without the cap, total=3 gives n_up=2 (round(1.5) == 2): the run would end at the peak LR.
        n_up = min(n_up, total - 2)
    if step < n_up:
        return 0, step / n_up
    n_down = total - n_up
    return 1, (step - n_up) / max(n_down - 1, 1)


def onecycle_lr(step: int, total: int, max_lr: float, *, div_factor: float = DIV_FACTOR,
                final_div: float = FINAL_DIV, pct_up: float = PCT_UP) -> float:
    """The 1cycle learning rate at optimizer step `step` of `total` (see the module docstring).

    Example:
        >>> round(onecycle_lr(0, 100, 1e-3), 8), onecycle_lr(50, 100, 1e-3), round(onecycle_lr(99, 100, 1e-3), 9)
        (0.0001, 0.001, 1e-06)
    """
    phase, t = _phase(step, total, pct_up)
    if phase == 0:
        return cos_interp(max_lr / div_factor, max_lr, t)
    return cos_interp(max_lr, max_lr / final_div, t)


def onecycle_momentum(step: int, total: int, *, max_momentum: float = 0.95, min_momentum: float = 0.85,
                      pct_up: float = PCT_UP) -> float:
    """Adam's beta_1 at `step`: opposite to the LR, between the two momentum bounds."""
    phase, t = _phase(step, total, pct_up)
    if phase == 0:
        return cos_interp(max_momentum, min_momentum, t)
    return cos_interp(min_momentum, max_momentum, t)


def triangular_lr(step: int, steps_per_cycle: int, max_lr: float, *, div_factor: float = DIV_FACTOR) -> float:
    """A triangular cycle per `steps_per_cycle` steps: lr/10 up to lr at mid-cycle, then back down.

    Used by `Learner.autofit` (ktrain's default policy there).
    """
    if steps_per_cycle < 1:
        raise ValueError("steps_per_cycle must be >= 1")
    pos = (step % steps_per_cycle) / steps_per_cycle
    frac = 1.0 - abs(2.0 * pos - 1.0)
    low = max_lr / div_factor
    return low + (max_lr - low) * frac


def sgdr_lr(step: int, steps_per_epoch: int, max_lr: float, *, cycle_len: int, cycle_mult: int = 1,
            lr_decay: float = 1.0, min_lr: float = 0.0) -> float:
    """Cosine annealing with warm restarts (SGDR): cycles of `cycle_len` epochs, each `cycle_mult`
    times longer than the last, the peak multiplied by `lr_decay` after each restart."""
    epoch_steps = step
    length = cycle_len * steps_per_epoch
    peak = max_lr
    while epoch_steps >= length:
        epoch_steps -= length
        length *= cycle_mult
        peak *= lr_decay
    return cos_interp(peak, min_lr, epoch_steps / length)


class OneCycle:
    """Pure description of a 1cycle run; `.lrs()` and `.momentums()` give the whole schedule."""

    def __init__(self, max_lr: float, total: int, *, cycle_momentum: bool = True,
                 max_momentum: float = 0.95, min_momentum: float = 0.85):
        if max_lr <= 0:
            raise ValueError(f"lr must be > 0, got {max_lr}")
        if not 0 <= min_momentum <= max_momentum < 1:
            raise ValueError("momentums must satisfy 0 <= min_momentum <= max_momentum < 1")
        self.max_lr, self.total = max_lr, total
        self.cycle_momentum = cycle_momentum
        self.max_momentum, self.min_momentum = max_momentum, min_momentum

    def lr(self, step: int) -> float:
        return onecycle_lr(step, self.total, self.max_lr)

    def momentum(self, step: int) -> float | None:
        if not self.cycle_momentum:
            return None
        return onecycle_momentum(step, self.total, max_momentum=self.max_momentum, min_momentum=self.min_momentum)

    def lrs(self) -> np.ndarray:
        return np.array([self.lr(i) for i in range(self.total)])

    def momentums(self) -> np.ndarray:
        return np.array([self.momentum(i) for i in range(self.total)], dtype=float)


class Constant:
    """One learning rate for every step (`Learner.fit` without `cycle_len`); momentum untouched."""

    def __init__(self, lr: float):
        self.lr_value = lr

    def lr(self, step: int) -> float:
        return self.lr_value

    def momentum(self, step: int) -> None:
        return None


class SGDR:
    """`sgdr_lr` over epochs of `steps_per_epoch` steps (`Learner.fit` with `cycle_len`)."""

    def __init__(self, max_lr: float, steps_per_epoch: int, *, cycle_len: int, cycle_mult: int = 1,
                 lr_decay: float = 1.0):
        self.max_lr, self.steps_per_epoch = max_lr, steps_per_epoch
        self.cycle_len, self.cycle_mult, self.lr_decay = cycle_len, cycle_mult, lr_decay

    def epochs(self, n_cycles: int) -> int:
        """Epochs in `n_cycles` cycles, each `cycle_mult` times longer than the one before."""
        return sum(self.cycle_len * self.cycle_mult**i for i in range(n_cycles))

    def lr(self, step: int) -> float:
        return sgdr_lr(step, self.steps_per_epoch, self.max_lr, cycle_len=self.cycle_len,
                       cycle_mult=self.cycle_mult, lr_decay=self.lr_decay)

    def momentum(self, step: int) -> None:
        return None


class Triangular:
    """`triangular_lr`, one cycle per epoch (`Learner.autofit`), with beta_1 mirrored onto the LR.

    `peak_lr` may be lowered during training (`tfclf.callbacks.PeakReducer` does, on a plateau).
    """

    def __init__(self, peak_lr: float, steps_per_epoch: int, *, cycle_momentum: bool = True,
                 max_momentum: float = 0.95, min_momentum: float = 0.85):
        self.peak_lr, self.steps_per_epoch = peak_lr, steps_per_epoch
        self.cycle_momentum = cycle_momentum
        self.max_momentum, self.min_momentum = max_momentum, min_momentum

    def lr(self, step: int) -> float:
        return triangular_lr(step, self.steps_per_epoch, self.peak_lr)

    def momentum(self, step: int) -> float | None:
        if not self.cycle_momentum:
            return None
        # The LR's position in its cycle (0 at lr/10, 1 at the peak) mirrored onto beta_1.
        frac = (self.lr(step) - self.peak_lr / DIV_FACTOR) / (self.peak_lr * (1 - 1 / DIV_FACTOR))
        return self.max_momentum - (self.max_momentum - self.min_momentum) * frac


def make_schedule_callback(lr_fn, momentum_fn=None, start_step: int = 0):
    """A Keras callback that sets the LR (and Adam's beta_1) before every batch.

    Args:
        lr_fn: step -> learning rate, where step counts batches from the start of this fit.
        momentum_fn: step -> beta_1, or None to leave momentum alone.
        start_step: the step the first batch has (for resumed runs).
    """
    from tfclf._compat import keras

    class ScheduleCallback(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step = start_step

        def on_train_batch_begin(self, batch, logs=None):
            opt = base_optimizer(self.model.optimizer)
            opt.learning_rate.assign(lr_fn(self.step))
            if momentum_fn is not None:
                value = momentum_fn(self.step)
                if value is not None:
                    beta = opt.beta_1
                    if not hasattr(beta, "assign"):
                        raise TypeError(
                            "cycling momentum needs the optimizer's beta_1 to be a tf.Variable; "
                            "compile with tfclf.classifier.compile_classifier or pass cycle_momentum=False"
                        )
                    beta.assign(value)

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1

    return ScheduleCallback()
