"""The LR range test: suggestion heuristics on synthetic curves with known answers, smoothing, and
`Learner.lr_find` on a tiny model (early stop, exponential LRs, exact restore, Ctrl-C)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from tfclf import lr_finder
from tfclf.lr_finder import (
    LRSuggestions,
    exponential_lrs,
    smooth,
    suggest,
    suggest_minimum,
    suggest_steepest,
    suggest_valley,
)

# --------------------------------------------------------------------------- synthetic curves

# 81 LRs from 1e-7 to 10, ten per decade, so 1e-4 is exactly lrs[30] and 1e-1 is lrs[60].
LRS = 10.0 ** np.linspace(-7, 1, 81)
X = np.log10(LRS)
# A tanh descent centred on 1e-4 (its steepest point), then a parabola up from 1e-1 (the minimum).
CURVE = 2 - np.tanh(2 * (X + 4)) + np.where(X > -1, 3 * (X + 1) ** 2, 0.0)
STEEPEST_I, MIN_I = 30, 60


def test_curve_is_what_the_tests_assume():
    assert LRS[STEEPEST_I] == pytest.approx(1e-4) and int(np.argmin(CURVE)) == MIN_I


def test_steepest_is_the_known_point():
    assert suggest_steepest(LRS, CURVE) == LRS[STEEPEST_I]


@pytest.mark.parametrize("skip", [1, 10, 17, 29])
def test_steepest_after_slicing_a_prefix(skip):
    # ktrain's bug: an index found in the sliced curve was mapped into the unsliced LRs
    # (off by the number skipped). The answer must be the same LR however much is sliced off.
    assert suggest_steepest(LRS[skip:], CURVE[skip:]) == LRS[STEEPEST_I]


def test_steepest_ignores_the_slope_after_the_minimum():
    # After the minimum the loss rises; the steepest *descent* is looked for before it only.
    curve = CURVE.copy()
    curve[70:] = curve[70:] - 50 * (X[70:] - X[69])  # a cliff after the minimum would win otherwise
    assert int(np.argmin(curve)) > MIN_I
    assert suggest_steepest(LRS[: MIN_I + 5], curve[: MIN_I + 5]) == LRS[STEEPEST_I]


def test_minimum_is_lowest_loss_over_ten():
    assert suggest_minimum(LRS, CURVE) == pytest.approx(LRS[MIN_I] / 10)
    assert suggest_minimum(LRS[25:], CURVE[25:]) == pytest.approx(LRS[MIN_I] / 10)


def test_valley_is_half_way_along_the_longest_descent():
    # Losses rise 2.0 -> 2.9 (indices 0-19), then fall strictly 3.0 -> 1.0 (indices 20-80), then rise.
    n = 100
    lrs = 10.0 ** np.linspace(-7, 1, n)
    losses = np.concatenate([np.linspace(2.0, 2.9, 20), np.linspace(3.0, 1.0, 61), np.linspace(1.2, 4.0, 19)])
    assert suggest_valley(lrs, losses) == lrs[50]  # 20 + round(60 / 2)
    assert suggest_valley(lrs[10:], losses[10:]) == lrs[50]  # no offset when a prefix is sliced off


def test_valley_prefers_the_long_gentle_descent_to_a_short_steep_drop():
    n = 60
    lrs = 10.0 ** np.linspace(-6, 0, n)
    losses = np.concatenate([
        np.linspace(1.0, 1.5, 10),  # a short rise
        [1.4, 0.6],  # a steep but short drop (2 points)
        np.linspace(5.0, 4.0, 8),  # a jump up, the loss stuck high
        np.linspace(3.9, 2.0, 34),  # a long gentle descent (34 points)
        np.linspace(2.5, 9.0, 6),  # divergence
    ])
    assert len(losses) == n
    valley = suggest_valley(lrs, losses)
    # The longest descent runs 5.0 -> 2.0 (indices 12-53): its middle is index 32.
    assert valley == lrs[12 + round((53 - 12) / 2)]
    assert valley != lrs[10] and valley != lrs[11]


def test_suggestions_skip_non_finite_losses_without_shifting():
    curve = CURVE.copy()
    curve[[3, 5, 70]] = [np.nan, np.inf, np.nan]
    s = suggest(LRS, curve)
    assert s.steepest == LRS[STEEPEST_I]
    assert s.minimum == pytest.approx(LRS[MIN_I] / 10)


def test_no_answer_on_degenerate_curves():
    assert suggest([], []) == LRSuggestions(None, None, None)
    # The minimum at the very start: no descent to be steepest in.
    rising = np.linspace(1, 2, 10)
    assert suggest_steepest(LRS[:10], rising) is None
    assert suggest_valley(LRS[:10], rising) is None
    assert suggest_minimum(LRS[:10], rising) == pytest.approx(LRS[0] / 10)
    with pytest.raises(ValueError, match="same length"):
        suggest(LRS, CURVE[:-1])


def test_suggestions_str_names_each():
    s = LRSuggestions(valley=1e-4, steepest=None, minimum=2.5e-3)
    assert str(s) == "valley: 1.00E-04, steepest: n/a, minimum/10: 2.50E-03"


def test_exponential_lrs():
    lrs = exponential_lrs(1e-7, 10, 41)
    assert lrs[0] == pytest.approx(1e-7) and lrs[-1] == pytest.approx(10)
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], 10 ** 0.2)  # constant ratio: even in log space
    with pytest.raises(ValueError):
        exponential_lrs(1e-3, 1e-4, 10)
    with pytest.raises(ValueError):
        exponential_lrs(1e-7, 10, 1)


def test_smooth_is_a_bias_corrected_ema():
    # Bias correction: a constant curve stays exactly constant, from the first point.
    np.testing.assert_allclose(smooth([3.0] * 20), 3.0)
    values = [1.0, 3.0, 2.0]
    beta = 0.5
    # Written out: avg_i = beta*avg_{i-1} + (1-beta)*x_i, divided by (1 - beta**i).
    expected = [0.5 / 0.5, (0.25 + 1.5) / 0.75, (0.875 + 1.0) / 0.875]
    np.testing.assert_allclose(smooth(values, beta), expected)
    # It lags: after a step up, the smoothed curve is still below the new level.
    stepped = smooth([1.0] * 10 + [2.0] * 10, 0.9)
    assert 1.0 < stepped[10] < stepped[19] < 2.0


# --------------------------------------------------------------------------- Learner.lr_find


@pytest.fixture(scope="module")
def prep(tiny_distilbert_dir, toy_data):
    from tfclf import text

    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
    trn = t.preprocess_train(*toy_data["train"], verbose=0)
    return t, trn


def _learner(prep, model=None):
    import tfclf

    t, trn = prep
    tfclf.set_seed(0)
    return tfclf.get_learner(model or t.get_classifier(), trn, None, batch_size=16, seed=0)


@pytest.fixture(scope="module")
def shared_learner(prep):
    """One model for the lr_find tests that do not need a never-trained optimizer."""
    return _learner(prep)


def _state(model):
    opt = model.optimizer
    return ([w.copy() for w in model.get_weights()], [v.numpy().copy() for v in opt.variables],
            float(opt.learning_rate.numpy()), float(opt.beta_1.numpy()))


def _assert_same_weights(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_lr_find_restores_a_fresh_optimizer(prep):
    learner = _learner(prep)  # never trained: Adam has no slots yet
    weights, opt_vars, lr, beta = _state(learner.model)
    assert len(opt_vars) == 1  # only the step counter so far
    learner.lr_find(start_lr=1e-5, end_lr=10, max_steps=30, verbose=0)
    weights2, opt_vars2, lr2, beta2 = _state(learner.model)
    _assert_same_weights(weights, weights2)
    # The step counter is back to what it was, and the slots created by the sweep are zero:
    # exactly the state a fresh Adam starts from.
    np.testing.assert_array_equal(opt_vars2[0], opt_vars[0])
    assert len(opt_vars2) > 1 and all(not np.any(v) for v in opt_vars2[1:])
    assert (lr2, beta2) == (lr, beta)


def test_lr_find_restores_after_a_fit(shared_learner):
    learner = shared_learner
    learner.fit(1e-3, 1, verbose=0)  # Adam now has non-zero moments and a step count
    weights, opt_vars, lr, beta = _state(learner.model)
    assert opt_vars[0] > 0 and any(np.any(v) for v in opt_vars[1:])
    learner.lr_find(start_lr=1e-5, end_lr=10, max_steps=30, verbose=0)
    weights2, opt_vars2, lr2, beta2 = _state(learner.model)
    _assert_same_weights(weights, weights2)
    _assert_same_weights(opt_vars, opt_vars2)
    assert (lr2, beta2) == (lr, beta)


def _drive_sweep(losses, lrs, stop_factor=4.0):
    """Feeds per-batch `losses` to the sweep callback as Keras would (running means in the batch
    logs, one epoch), and returns the callback and the step after which it asked to stop."""
    import types

    from tfclf._compat import tf

    cb = lr_finder.make_sweep_callback(np.asarray(lrs), stop_factor=stop_factor)
    model = types.SimpleNamespace(optimizer=types.SimpleNamespace(learning_rate=tf.Variable(0.0)),
                                  stop_training=False)
    cb.set_model(model)
    cb.on_epoch_begin(0)
    total = 0.0
    for step, loss in enumerate(losses):
        cb.on_train_batch_begin(step)
        assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(lrs[step], rel=1e-6)
        total += loss
        cb.on_train_batch_end(step, {"loss": total / (step + 1)})
        if model.stop_training:
            return cb, step
    return cb, None


def test_sweep_stops_exactly_when_the_smoothed_loss_passes_four_times_its_best():
    losses = [1.0] * 10 + [1.0 * 1.6**k for k in range(1, 30)]
    lrs = exponential_lrs(1e-6, 1, len(losses))
    cb, stopped = _drive_sweep(losses, lrs)
    sm = smooth(losses)
    expected = next(i for i in range(6, len(losses)) if sm[i] > 4 * sm[: i + 1].min())
    assert stopped == expected
    np.testing.assert_allclose(cb.raw_losses, losses[: expected + 1], rtol=1e-9)  # de-averaged
    np.testing.assert_allclose(cb.losses, sm[: expected + 1], rtol=1e-9)
    assert cb.lrs_seen == pytest.approx(list(lrs[: expected + 1]))
    # Without a stop factor it runs until the LRs run out.
    _, stopped = _drive_sweep(losses, lrs, stop_factor=None)
    assert stopped == len(losses) - 1


def test_sweep_stops_on_a_non_finite_loss():
    losses = [1.0] * 8 + [np.nan] + [1.0] * 5
    cb, stopped = _drive_sweep(losses, exponential_lrs(1e-6, 1, len(losses)))
    assert stopped == 8 and len(cb.losses) == 8  # the NaN is not part of the smoothed curve


def test_lr_find_stops_when_the_loss_diverges(shared_learner):
    learner = shared_learner
    # LRs up to 1e3 make Adam blow the tiny model up well before the end of the sweep.
    learner.lr_find(start_lr=1e-5, end_lr=1e3, max_steps=60, verbose=0)
    curve = learner.lr_finder_
    assert 6 < len(curve["lrs"]) < 60
    assert curve["losses"][-1] > 4 * curve["losses"].min() or not np.isfinite(curve["raw_losses"][-1])


def test_lr_find_sweeps_exponentially_and_smooths(shared_learner):
    learner = shared_learner
    # Up to lr=1 only: no NaN can cut the sweep short, so all 40 steps are recorded.
    learner.lr_find(start_lr=1e-5, end_lr=1, max_steps=40, verbose=0, stop_factor=None)
    lrs, losses, raw = learner.lr_finder_["lrs"], learner.lr_finder_["losses"], learner.lr_finder_["raw_losses"]
    assert len(lrs) == len(losses) == len(raw) == 40
    assert lrs[0] == pytest.approx(1e-5) and lrs[-1] == pytest.approx(1)
    np.testing.assert_allclose(np.diff(np.log(lrs)), np.log(1e5) / 39, rtol=1e-9)
    # The recorded curve is the bias-corrected EMA of the per-batch losses.
    np.testing.assert_allclose(losses, smooth(raw, 0.98), rtol=1e-9)


def _hook_sweep_batch_end(monkeypatch, hook):
    """Routes the sweep callback's on_train_batch_end through hook(cb, original, batch, logs)."""
    real = lr_finder.make_sweep_callback

    def patched(*args, **kwargs):
        cb = real(*args, **kwargs)
        original = cb.on_train_batch_end
        cb.on_train_batch_end = lambda batch, logs=None: hook(cb, original, batch, logs)
        return cb

    monkeypatch.setattr(lr_finder, "make_sweep_callback", patched)


def test_lr_find_sets_the_recorded_lr_on_the_optimizer(shared_learner, monkeypatch):
    # lrs_seen could be the schedule without ever being applied: read the optimizer itself.
    applied = []

    def spy(cb, original, batch, logs):
        applied.append(float(cb.model.optimizer.learning_rate.numpy()))
        original(batch, logs)

    _hook_sweep_batch_end(monkeypatch, spy)
    shared_learner.lr_find(start_lr=1e-6, end_lr=1, max_steps=20, verbose=0, stop_factor=None)
    np.testing.assert_allclose(applied, shared_learner.lr_finder_["lrs"], rtol=1e-6)


def test_lr_find_restores_on_keyboard_interrupt(shared_learner, monkeypatch):
    learner = shared_learner
    weights, opt_vars, lr, beta = _state(learner.model)
    previous_curve = learner.lr_finder_
    seen = []

    def interrupt(cb, original, batch, logs):
        original(batch, logs)
        seen.append(batch)
        if len(cb.raw_losses) == 7:
            raise KeyboardInterrupt  # what Ctrl-C raises, mid-sweep

    _hook_sweep_batch_end(monkeypatch, interrupt)
    with pytest.raises(KeyboardInterrupt):
        learner.lr_find(start_lr=1e-5, end_lr=10, max_steps=30, verbose=0)
    assert len(seen) == 7  # it really was interrupted after some training steps
    weights2, opt_vars2, lr2, beta2 = _state(learner.model)
    _assert_same_weights(weights, weights2)
    _assert_same_weights(opt_vars, opt_vars2)
    assert (lr2, beta2) == (lr, beta)
    assert learner.lr_finder_ is previous_curve  # the interrupted sweep left no half curve


def test_lr_plot_returns_the_named_suggestions(shared_learner, capsys):
    assert matplotlib.get_backend().lower() == "agg"  # conftest: never open a window
    learner = shared_learner
    learner.lr_find(start_lr=1e-5, end_lr=1, max_steps=40, verbose=0, stop_factor=None)
    s = learner.lr_plot(suggest=True, show=False)
    assert isinstance(s, LRSuggestions) and s._fields == ("valley", "steepest", "minimum")
    assert s == learner.lr_suggestions()
    assert learner.lr_estimate() == (s.steepest, s.minimum, s.valley)  # ktrain's order
    lo, hi = learner.lr_finder_["lrs"][0], learner.lr_finder_["lrs"][-1]
    for v in s:
        assert v is None or lo / 10 <= v <= hi
    assert "suggested learning rates: valley:" in capsys.readouterr().out
    fig = learner.lr_plot(suggest=True, show=False, return_fig=True)
    assert isinstance(fig, matplotlib.figure.Figure)
    # One marker per suggestion found, labelled with its name.
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sum(lbl.startswith(("valley", "steepest", "minimum/10")) for lbl in labels) == sum(v is not None for v in s)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_learner_suggestions_have_no_offset(shared_learner):
    # Through the Learner: n_skip_beginning slices the curve, the answers must not move.
    learner = shared_learner
    saved = learner.lr_finder_
    try:
        learner.lr_finder_ = {"lrs": LRS, "losses": CURVE, "raw_losses": CURVE}
        s = learner.lr_suggestions(n_skip_beginning=10, n_skip_end=5)
        assert s.steepest == LRS[STEEPEST_I]
        assert s.minimum == pytest.approx(LRS[MIN_I] / 10)
        assert learner.lr_plot(n_skip_beginning=20, suggest=True, show=False).steepest == LRS[STEEPEST_I]
    finally:
        learner.lr_finder_ = saved


def test_lr_suggestions_before_lr_find(prep):
    from tfclf.learner import Learner

    learner = Learner.__new__(Learner)  # no model needed to ask too early
    learner.lr_finder_ = None
    with pytest.raises(RuntimeError, match="lr_find"):
        learner.lr_suggestions()
