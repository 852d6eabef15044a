"""Keras callbacks the Learner attaches to every fit: the per-step recorder and checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

from tfclf._compat import keras


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
        opt = self.model.optimizer
        self.lrs.append(float(keras.backend.get_value(opt.learning_rate)))
        beta = getattr(opt, "beta_1", None)
        self.momentums.append(float(keras.backend.get_value(beta)) if beta is not None else math.nan)
        self.losses.append(self._unaverage(batch, logs))


class EpochCheckpoint(keras.callbacks.Callback):
    """Writes the model's weights to ``folder/weights-EE.h5`` at the end of every epoch."""

    def __init__(self, folder: str | Path):
        super().__init__()
        self.folder = Path(folder)

    def on_train_begin(self, logs=None):
        self.folder.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        self.model.save_weights(str(self.folder / f"weights-{epoch + 1:02d}.h5"))
