"""Keras callbacks the Learner attaches to its fits: the per-step recorder, the NaN guard,
checkpoints, and the plateau reducer of autofit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from tfclf._compat import keras
from tfclf._util import base_optimizer


class BatchLoss:
    """Recovers each batch's own loss from Keras' batch logs, which hold the epoch's running mean.

    With running means m_0, m_1, ... the k-th batch's loss is ``(k+1) m_k - k m_(k-1)`` (exact for
    equal batch sizes; the short last batch of an epoch is approximate).
    """

    def __init__(self):
        self.previous_mean = 0.0

    def __call__(self, batch: int, logs: dict | None) -> float:
        mean = float((logs or {}).get("loss", math.nan))
        loss = (batch + 1) * mean - batch * self.previous_mean if batch > 0 else mean
        self.previous_mean = mean
        return loss


class Recorder(keras.callbacks.Callback):
    """Records the LR, Adam's beta_1 and the batch loss at every optimizer step, across fits."""

    def __init__(self):
        super().__init__()
        self.lrs: list[float] = []
        self.momentums: list[float] = []
        self.losses: list[float] = []
        self._unaverage = BatchLoss()

    def on_epoch_begin(self, epoch, logs=None):
        self._unaverage = BatchLoss()

    def on_train_batch_end(self, batch, logs=None):
        opt = base_optimizer(self.model.optimizer)
        self.lrs.append(float(keras.backend.get_value(opt.learning_rate)))
        beta = getattr(opt, "beta_1", None)
        self.momentums.append(float(keras.backend.get_value(beta)) if beta is not None else math.nan)
        self.losses.append(self._unaverage(batch, logs))


class BestWeightsGuard(keras.callbacks.Callback):
    """Stops training on a NaN or infinite batch loss and restores the best weights seen.

    "Best" is the lowest `monitor` (val_loss, else loss) at an epoch's end; before the first
    epoch ends it is the weights training started from. Optimizer slots poisoned by the bad
    step are zeroed, so training can go on (with a lower learning rate) from a clean state.
    """

    def __init__(self, monitor: str = "val_loss"):
        super().__init__()
        self.monitor = monitor
        self.tripped = False

    def on_train_begin(self, logs=None):
        self.best = math.inf
        self.best_weights = self.model.get_weights()
        self.tripped = False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor, logs.get("loss"))
        if value is not None and math.isfinite(value) and value < self.best:
            self.best = value
            self.best_weights = self.model.get_weights()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        self.model.stop_training = True
        self.tripped = True
        self.model.set_weights(self.best_weights)
        for var in self.model.optimizer.variables:
            if not np.all(np.isfinite(var.numpy())):
                var.assign(np.zeros(var.shape, var.dtype.as_numpy_dtype))
        print(
            f"\ntraining stopped: the loss became {loss} at batch {batch + 1}; the best weights seen "
            "are restored. Try a lower learning rate."
        )


class EpochCheckpoint(keras.callbacks.Callback):
    """Writes a resumable checkpoint at the end of every epoch.

    ``folder/weights-EE.h5`` holds the model's weights (loadable with ``model.load_weights``),
    ``folder/optimizer-EE.npz`` the optimizer's variables as plain arrays (no pickle), and
    ``folder/state-EE.json`` what a resumed run must match (the schedule, batch size, data size,
    seed) and where it was (epochs and steps done).
    """

    def __init__(self, folder: str | Path, run_info: dict | None = None, steps_per_epoch: int | None = None):
        super().__init__()
        self.folder = Path(folder)
        self.run_info = dict(run_info or {})
        self.steps_per_epoch = steps_per_epoch

    def on_train_begin(self, logs=None):
        self.folder.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        from tfclf.distribute import is_chief

        if not is_chief():  # every worker holds the same weights; one writes them
            return
        tag = f"{epoch + 1:02d}"
        self.model.save_weights(str(self.folder / f"weights-{tag}.h5"))
        arrays = {f"v{i:05d}": v.numpy() for i, v in enumerate(self.model.optimizer.variables)}
        np.savez(self.folder / f"optimizer-{tag}.npz", **arrays)
        state = {
            **self.run_info,
            "epochs_done": epoch + 1,
            "steps_done": (epoch + 1) * self.steps_per_epoch if self.steps_per_epoch else None,
            "logs": {k: float(v) for k, v in (logs or {}).items()},
        }
        (self.folder / f"state-{tag}.json").write_text(json.dumps(state, indent=2) + "\n")


def latest_checkpoint(folder: str | Path, run_info: dict) -> dict | None:
    """The newest complete checkpoint in `folder` written by a run like `run_info`, or None."""
    folder = Path(folder)
    for state_file in sorted(folder.glob("state-*.json"), reverse=True):
        tag = state_file.stem.split("-", 1)[1]
        weights, opt = folder / f"weights-{tag}.h5", folder / f"optimizer-{tag}.npz"
        if not (weights.is_file() and opt.is_file()):
            continue
        state = json.loads(state_file.read_text())
        if all(state.get(k) == v for k, v in run_info.items()):
            return {"state": state, "weights": weights, "optimizer": opt}
    return None


def restore_checkpoint(model, checkpoint: dict) -> None:
    """Loads a checkpoint's weights and optimizer variables into `model` (building the optimizer)."""
    from tfclf.distribute import scope_of

    with scope_of(model):
        _restore_checkpoint(model, checkpoint)


def _restore_checkpoint(model, checkpoint: dict) -> None:
    model.load_weights(str(checkpoint["weights"]))
    opt = model.optimizer
    if not opt.variables or len(opt.variables) <= 1:
        opt.build(model.trainable_variables)
    with np.load(checkpoint["optimizer"], allow_pickle=False) as saved:
        arrays = [saved[k] for k in sorted(saved.files)]
    if len(arrays) != len(opt.variables):
        raise ValueError(
            f"checkpoint {checkpoint['optimizer']} has {len(arrays)} optimizer variables; this model's "
            f"optimizer has {len(opt.variables)}: it was written for another model"
        )
    for var, value in zip(opt.variables, arrays):
        var.assign(value)


class PeakReducer(keras.callbacks.Callback):
    """Divides a policy's ``peak_lr`` by `factor` when `monitor` stops improving for `patience`
    epochs (`Learner.autofit`, with `tfclf.schedules.Triangular`)."""

    def __init__(self, policy, monitor: str, patience: int, factor: float):
        super().__init__()
        self.policy, self.monitor, self.patience, self.factor = policy, monitor, patience, factor
        self.best, self.wait = math.inf, 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        if value < self.best:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.policy.peak_lr /= self.factor
            self.wait = 0
            print(f"\nreducing the peak learning rate to {self.policy.peak_lr:.2E}")
