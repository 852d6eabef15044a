"""The LR / momentum schedules, step by step as `tfclf.schedules`' docstring documents them,
and the proof that `Learner.fit_onecycle` applies exactly that schedule to the optimizer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tfclf import schedules
from tfclf.schedules import OneCycle, onecycle_lr, onecycle_momentum, sgdr_lr, triangular_lr

LR = 1e-3
TOTALS = [1, 2, 3, 4, 5, 7, 10, 11, 99, 100]


def _cos_interp(a, b, t):
    # Written out again from the docstring, independently of the module's helper.
    return b + (a - b) * (1 + math.cos(math.pi * t)) / 2


def _n_up(total):
    n_up = max(1, round(total * 0.5))
    return min(n_up, total - 2) if total >= 3 else n_up


def _reference_lrs(total, max_lr):
    n_up = _n_up(total)
    out = []
    for i in range(total):
        if i < n_up:
            out.append(_cos_interp(max_lr / 10, max_lr, i / n_up))
        else:
            n_down = total - n_up
            out.append(_cos_interp(max_lr, max_lr / 1000, (i - n_up) / max(n_down - 1, 1)))
    return np.array(out)


@pytest.mark.parametrize("total", TOTALS)
def test_onecycle_matches_the_documented_formula(total):
    lrs = OneCycle(LR, total).lrs()
    assert lrs.shape == (total,)
    np.testing.assert_allclose(lrs, _reference_lrs(total, LR), rtol=1e-12)


@pytest.mark.parametrize("total", [t for t in TOTALS if t >= 3])
def test_onecycle_shape(total):
    lrs = OneCycle(LR, total).lrs()
    n_up = _n_up(total)
    assert lrs[0] == pytest.approx(LR / 10, rel=1e-12)  # starts at lr/10
    assert lrs[n_up] == pytest.approx(LR, rel=1e-12)  # the peak is step n_up
    assert int(np.argmax(lrs)) == n_up
    assert lrs[-1] == pytest.approx(LR / 1000, rel=1e-9)  # ends at lr/1000 exactly at the last step
    assert np.all(np.diff(lrs[: n_up + 1]) > 0)  # strictly up...
    assert np.all(np.diff(lrs[n_up:]) < 0)  # ...then strictly down
    assert lrs.max() <= LR * (1 + 1e-12) and lrs.min() >= LR / 1000 * (1 - 1e-12)


def test_three_steps_anneal_instead_of_ending_at_the_peak():
    # round(1.5) == 2 once made a 3-step run go lr/10 -> mid -> peak and never anneal.
    np.testing.assert_allclose(OneCycle(LR, 3).lrs(), [LR / 10, LR, LR / 1000], rtol=1e-12)
    np.testing.assert_allclose(OneCycle(LR, 3).momentums(), [0.95, 0.85, 0.95], rtol=1e-12)


def test_too_short_runs_are_documented():
    np.testing.assert_allclose(OneCycle(LR, 1).lrs(), [LR / 10])
    np.testing.assert_allclose(OneCycle(LR, 2).lrs(), [LR / 10, LR])


def test_half_way_at_100_steps():
    # The docstring example, and the midpoint of the warm-up half-cosine.
    assert onecycle_lr(0, 100, 1e-3) == pytest.approx(1e-4)
    assert onecycle_lr(50, 100, 1e-3) == pytest.approx(1e-3)
    assert onecycle_lr(99, 100, 1e-3) == pytest.approx(1e-6)
    assert onecycle_lr(25, 100, 1e-3) == pytest.approx((1e-4 + 1e-3) / 2)


@pytest.mark.parametrize("total", TOTALS)
def test_momentum_mirrors_the_lr(total):
    one = OneCycle(LR, total, max_momentum=0.95, min_momentum=0.85)
    lrs, moms = one.lrs(), one.momentums()
    # Affine mirror: where the LR is at fraction f between its bounds in a phase, momentum is at
    # fraction f from max_momentum towards min_momentum. Check it through the shared phase position.
    n_up = _n_up(total)
    for i in range(total):
        if i < n_up:
            t = i / n_up
            assert moms[i] == pytest.approx(_cos_interp(0.95, 0.85, t), abs=1e-12)
            assert lrs[i] == pytest.approx(_cos_interp(LR / 10, LR, t), rel=1e-12)
        else:
            t = (i - n_up) / max(total - n_up - 1, 1)
            assert moms[i] == pytest.approx(_cos_interp(0.85, 0.95, t), abs=1e-12)
    assert moms[0] == pytest.approx(0.95)
    if total >= 3:
        assert moms[n_up] == pytest.approx(0.85) and moms[-1] == pytest.approx(0.95)
        assert int(np.argmin(moms)) == int(np.argmax(lrs))


def test_momentum_off():
    one = OneCycle(LR, 4, cycle_momentum=False)
    assert one.momentum(0) is None


def test_onecycle_validation():
    with pytest.raises(ValueError, match="lr must be > 0"):
        OneCycle(0, 10)
    with pytest.raises(ValueError, match="momentums"):
        OneCycle(LR, 10, max_momentum=0.8, min_momentum=0.9)
    with pytest.raises(ValueError, match="outside"):
        onecycle_lr(10, 10, LR)
    with pytest.raises(ValueError, match="total steps"):
        onecycle_momentum(0, 0)


def test_triangular_shape():
    spc = 10
    lrs = np.array([triangular_lr(s, spc, LR) for s in range(3 * spc)])
    assert lrs[0] == pytest.approx(LR / 10)  # low at the start of each cycle
    assert lrs[spc // 2] == pytest.approx(LR)  # the peak at mid-cycle
    assert np.all(np.diff(lrs[: spc // 2 + 1]) > 0) and np.all(np.diff(lrs[spc // 2 : spc]) < 0)
    np.testing.assert_allclose(lrs[:spc], lrs[spc : 2 * spc])  # repeats every cycle
    np.testing.assert_allclose(lrs[1:spc], lrs[1:spc][::-1])  # symmetric around the peak
    assert lrs[spc] == pytest.approx(LR / 10)
    with pytest.raises(ValueError):
        triangular_lr(0, 0, LR)


def test_sgdr_restarts_and_decay():
    spe, mult, decay = 4, 2, 0.5
    lrs = np.array([sgdr_lr(s, spe, LR, cycle_len=1, cycle_mult=mult, lr_decay=decay) for s in range(28)])
    # Cycles of 4, 8 and 16 steps start at steps 0, 4 and 12, each peak halved.
    for k, start in enumerate([0, 4, 12]):
        assert lrs[start] == pytest.approx(LR * decay**k)
    for start, end in [(0, 4), (4, 12), (12, 28)]:
        assert np.all(np.diff(lrs[start:end]) < 0)  # cosine annealing inside each cycle
    assert lrs[11] == pytest.approx(_cos_interp(LR / 2, 0.0, 7 / 8))
    # min_lr is the floor the cosine approaches.
    assert sgdr_lr(3, 4, LR, cycle_len=1, min_lr=1e-5) == pytest.approx(_cos_interp(LR, 1e-5, 3 / 4))


def test_schedule_callback_needs_a_variable_beta_1():
    # A plain Adam has a float beta_1: cycling momentum must say what to do instead of failing
    # deep inside Keras.
    from tfclf._compat import keras

    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer=keras.optimizers.Adam(beta_1=0.9), loss="mse")
    cb = schedules.make_schedule_callback(lambda s: 1e-3, lambda s: 0.9)
    with pytest.raises(TypeError, match="beta_1 to be a tf.Variable"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=1, callbacks=[cb], verbose=0)


def test_fit_onecycle_applies_the_schedule_step_by_step(trained):
    # `trained` ran fit_onecycle(lr, epochs) on a fresh Learner: the optimizer's LR and beta_1,
    # read after every batch, are the pure schedule (to float32 precision).
    learner = trained.learner
    total = trained.epochs * learner.train_data.num_batches(learner.batch_size)
    expected = OneCycle(trained.lr, total)
    assert len(learner.recorder.lrs) == total
    np.testing.assert_allclose(learner.recorder.lrs, expected.lrs(), rtol=1e-6)
    np.testing.assert_allclose(learner.recorder.momentums, expected.momentums(), rtol=1e-6)
    # And the shape really is a cycle, not a constant that happens to match.
    assert max(learner.recorder.lrs) == pytest.approx(trained.lr, rel=1e-6)
    assert learner.recorder.lrs[-1] == pytest.approx(trained.lr / 1000, rel=1e-5)
