"""tfclf.callbacks on small Keras models: the per-step Recorder (and the batch losses it recovers
from Keras' running means), the NaN guard that restores the best weights, resumable epoch
checkpoints, and autofit's peak reducer. The Learner's use of them is tested in test_learner.py
and test_reliability.py."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

import tfclf
from tfclf._compat import keras
from tfclf.callbacks import (BatchLoss, BestWeightsGuard, EpochCheckpoint, PeakReducer, Recorder, latest_checkpoint,
                             restore_checkpoint)

N, BATCH = 16, 4  # 4 equal batches per epoch
STEPS = N // BATCH


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.normal(size=(N, 1))).astype(np.float32)
    return x, y


def _model(optimizer=None, seed: int = 0):
    tfclf.set_seed(seed)
    model = keras.Sequential([keras.layers.Dense(4, activation="tanh", input_shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-2), loss="mse")
    return model


def _batch_losses(model, x, y) -> list[float]:
    """Each batch's mean squared error under the model's current weights."""
    pred = model(x, training=False).numpy()
    return [float(np.mean((pred[s:s + BATCH] - y[s:s + BATCH]) ** 2)) for s in range(0, N, BATCH)]


def _equal_weights(a, b, **tol) -> bool:
    return len(a) == len(b) and all(np.allclose(u, v, **tol) if tol else np.array_equal(u, v) for u, v in zip(a, b))


# --------------------------------------------------------------------------- BatchLoss, Recorder


def test_batch_loss_undoes_the_running_mean():
    unaverage = BatchLoss()
    # running means 2, 3, 4 over three equal batches: the batches' own losses are 2, 4, 6
    assert [unaverage(b, {"loss": m}) for b, m in enumerate([2.0, 3.0, 4.0])] == [2.0, 4.0, 6.0]
    assert math.isnan(BatchLoss()(0, {})) and math.isnan(BatchLoss()(0, None))


def test_recorder_records_every_step_across_epochs_and_fits(xy):
    x, y = xy
    model = _model(keras.optimizers.Adam(0.0, beta_1=0.85))
    recorder = Recorder()
    expected = _batch_losses(model, x, y)  # a learning rate of 0 in the first epoch: weights stay
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: [0.0, 0.02][epoch])
    model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, callbacks=[schedule, recorder], verbose=0)
    assert len(recorder.lrs) == len(recorder.momentums) == len(recorder.losses) == 2 * STEPS
    np.testing.assert_allclose(recorder.lrs, [0.0] * STEPS + [0.02] * STEPS, rtol=1e-6)
    np.testing.assert_allclose(recorder.momentums, [0.85] * 2 * STEPS, rtol=1e-6)
    # each batch's own loss (not Keras' running mean), in the first epoch known exactly
    np.testing.assert_allclose(recorder.losses[:STEPS], expected, rtol=1e-4)
    assert not np.allclose(recorder.losses[:STEPS], np.cumsum(expected) / np.arange(1, STEPS + 1), rtol=1e-3)
    # the recovery restarts with every epoch (Keras' mean does): the second epoch is not skewed
    assert all(0 < v < 10 * max(expected) for v in recorder.losses[STEPS:])
    # a second fit appends
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, callbacks=[recorder], verbose=0)
    assert len(recorder.lrs) == 3 * STEPS and recorder.lrs[-1] == pytest.approx(0.02)


def test_recorder_without_momentum(xy):
    x, y = xy
    model = _model(keras.optimizers.SGD(0.01))
    recorder = Recorder()
    model.fit(x, y, batch_size=BATCH, epochs=1, callbacks=[recorder], verbose=0)
    assert len(recorder.momentums) == STEPS and all(math.isnan(m) for m in recorder.momentums)
    np.testing.assert_allclose(recorder.lrs, [0.01] * STEPS, rtol=1e-6)


# --------------------------------------------------------------------------- BestWeightsGuard


class PoisonAt(keras.callbacks.Callback):
    """Makes the loss NaN from global step `step` (1-based) on, by setting a kernel to NaN."""

    def __init__(self, step: int):
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_begin(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            w = self.model.layers[-1].kernel
            w.assign(np.full(w.shape, np.nan, dtype=np.float32))


class EpochWeights(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_nan_loss_stops_training_and_restores_the_best_weights(xy, capsys):
    x, y = xy
    model = _model()
    guard, seen = BestWeightsGuard(monitor="val_loss"), EpochWeights()
    # a NaN from step 7: the second batch of epoch 2 (the weights after epoch 1 are the best seen)
    history = model.fit(x, y, batch_size=BATCH, epochs=4, shuffle=False, verbose=0,
                        callbacks=[PoisonAt(STEPS + 2), seen, guard])
    assert guard.tripped and model.stop_training
    assert len(history.history["loss"]) == 2 and len(seen.weights) == 2
    assert math.isnan(history.history["loss"][-1])
    assert _equal_weights(model.get_weights(), seen.weights[0])  # no val_loss: the lowest loss
    # the optimizer's slots poisoned by the bad step are zeroed: training goes on from a clean state
    assert all(np.all(np.isfinite(v.numpy())) for v in model.optimizer.variables)
    assert "training stopped: the loss became nan at batch 2; the best weights seen are restored" in capsys.readouterr().out
    again = model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[BestWeightsGuard()])
    assert math.isfinite(again.history["loss"][0])


def test_nan_in_the_first_epoch_restores_the_starting_weights(xy, capsys):
    x, y = xy
    model = _model()
    start = model.get_weights()
    guard = BestWeightsGuard()
    model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[PoisonAt(3), guard])
    assert guard.tripped and _equal_weights(model.get_weights(), start)
    assert "the loss became nan at batch 3" in capsys.readouterr().out
    # a new fit starts afresh
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[guard])
    assert not guard.tripped


def test_guard_follows_the_monitor_and_ignores_finite_losses(xy, capsys):
    x, y = xy
    model = _model()
    guard = BestWeightsGuard(monitor="val_loss")
    guard.set_model(model)
    guard.on_train_begin()
    versions = []
    for epoch, logs in enumerate([{"loss": 1.0, "val_loss": 0.5}, {"loss": 0.1, "val_loss": 0.7},
                                  {"loss": 0.05, "val_loss": float("nan")}]):
        model.set_weights([w + epoch + 1 for w in model.get_weights()])
        versions.append(model.get_weights())
        guard.on_epoch_end(epoch, logs)
    assert guard.best == 0.5  # the lowest val_loss, though the training loss kept falling
    for logs in ({"loss": 3.0}, {}, None):
        guard.on_train_batch_end(0, logs)
    assert not guard.tripped and _equal_weights(model.get_weights(), versions[-1])
    guard.on_train_batch_end(4, {"loss": float("inf")})  # infinite counts like NaN
    assert guard.tripped and model.stop_training
    assert _equal_weights(model.get_weights(), versions[0])
    assert "the loss became inf at batch 5" in capsys.readouterr().out


# --------------------------------------------------------------------------- checkpoints

RUN = {"lr": 0.01, "batch_size": BATCH, "seed": 3}


def test_epoch_checkpoints_are_written_and_found(xy, tmp_path):
    x, y = xy
    model = _model()
    folder = tmp_path / "ckpt"  # created by the callback
    model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
              callbacks=[EpochCheckpoint(folder, run_info=RUN, steps_per_epoch=STEPS)])
    assert sorted(p.name for p in folder.iterdir()) == [
        "optimizer-01.npz", "optimizer-02.npz", "state-01.json", "state-02.json", "weights-01.h5", "weights-02.h5"]
    state = json.loads((folder / "state-02.json").read_text())
    assert state.keys() == {*RUN, "epochs_done", "steps_done", "logs"}
    assert {k: state[k] for k in RUN} == RUN and state["epochs_done"] == 2 and state["steps_done"] == 2 * STEPS
    assert state["logs"].keys() == {"loss"} and math.isfinite(state["logs"]["loss"])
    with np.load(folder / "optimizer-02.npz", allow_pickle=False) as saved:
        assert len(saved.files) == len(model.optimizer.variables)
        np.testing.assert_array_equal(saved[sorted(saved.files)[0]], model.optimizer.variables[0].numpy())

    found = latest_checkpoint(folder, RUN)
    assert found["state"] == state
    assert found["weights"] == folder / "weights-02.h5" and found["optimizer"] == folder / "optimizer-02.npz"
    assert latest_checkpoint(folder, {"lr": 0.01})["state"]["epochs_done"] == 2  # a subset of the settings
    assert latest_checkpoint(folder, {**RUN, "lr": 0.02}) is None  # another run's checkpoints
    assert latest_checkpoint(tmp_path / "nothing-here", RUN) is None
    # an incomplete checkpoint (a crash while writing epoch 2) is skipped
    (folder / "weights-02.h5").unlink()
    assert latest_checkpoint(folder, RUN)["state"]["epochs_done"] == 1
    # without steps_per_epoch, steps_done is unknown
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[EpochCheckpoint(tmp_path / "bare")])
    assert json.loads((tmp_path / "bare" / "state-01.json").read_text())["steps_done"] is None


def test_restored_checkpoint_continues_like_the_original(xy, tmp_path):
    x, y = xy
    original = _model(seed=0)
    original.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
                 callbacks=[EpochCheckpoint(tmp_path, run_info=RUN, steps_per_epoch=STEPS)])
    resumed = _model(seed=1)  # other initial weights, and an optimizer with no variables yet
    assert not _equal_weights(resumed.get_weights(), original.get_weights(), atol=1e-3)
    restore_checkpoint(resumed, latest_checkpoint(tmp_path, RUN))
    assert _equal_weights(resumed.get_weights(), original.get_weights())
    assert int(resumed.optimizer.iterations.numpy()) == 2 * STEPS
    assert _equal_weights([v.numpy() for v in resumed.optimizer.variables],
                          [v.numpy() for v in original.optimizer.variables])
    # Adam's moments came back too: one more epoch gives the same weights on both
    for model in (original, resumed):
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    assert _equal_weights(resumed.get_weights(), original.get_weights(), atol=1e-6, rtol=0)


def test_a_checkpoint_of_another_optimizer_is_refused(xy, tmp_path):
    x, y = xy
    _model().fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[EpochCheckpoint(tmp_path, run_info=RUN)])
    # Adam: the step count and two moments per weight (2 kernels, 2 biases); SGD: one momentum each
    other = _model(keras.optimizers.SGD(0.01, momentum=0.9))
    with pytest.raises(ValueError, match="optimizer-01.npz has 9 optimizer variables; this model's optimizer has 5: "
                                         "it was written for another model"):
        restore_checkpoint(other, latest_checkpoint(tmp_path, RUN))


# --------------------------------------------------------------------------- PeakReducer


def test_peak_reducer_divides_the_peak_after_patience_epochs(capsys):
    policy = SimpleNamespace(peak_lr=1e-3)
    reducer = PeakReducer(policy, monitor="val_loss", patience=2, factor=2.0)
    for epoch, value in enumerate([1.0, 0.8, 0.9, 0.85]):  # two epochs without a new best
        reducer.on_epoch_end(epoch, {"val_loss": value})
    assert policy.peak_lr == pytest.approx(5e-4)
    assert "reducing the peak learning rate to 5.00E-04" in capsys.readouterr().out
    reducer.on_epoch_end(4, {"val_loss": 0.81})  # the count restarted after the reduction
    assert policy.peak_lr == pytest.approx(5e-4)
    reducer.on_epoch_end(5, {"val_loss": 0.7})  # a new best resets it
    reducer.on_epoch_end(6, {"val_loss": 0.75})
    assert policy.peak_lr == pytest.approx(5e-4)
    reducer.on_epoch_end(7, {"val_loss": 0.75})
    assert policy.peak_lr == pytest.approx(2.5e-4)
    for logs in ({"loss": 5.0}, None):  # no monitored value: nothing happens
        reducer.on_epoch_end(8, logs)
        reducer.on_epoch_end(9, logs)
    assert policy.peak_lr == pytest.approx(2.5e-4) and reducer.wait == 0
