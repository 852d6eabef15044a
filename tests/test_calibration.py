"""tfclf.calibration (the math: temperature scaling, ECE, Brier, log loss, risk-coverage) and its
two plots, on synthetic arrays only: no model, no TensorFlow. Calibration through the predictor,
the learner, the CLI and the HTTP service is tested in test_calibrated_predictor.py."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")  # conftest sets MPLBACKEND=Agg too: nothing is ever displayed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import brier_score_loss  # noqa: E402
from sklearn.metrics import log_loss as sk_log_loss  # noqa: E402

from tfclf import calibration as cal  # noqa: E402
from tfclf import plots  # noqa: E402
from tfclf.probability_checks import check_confidence  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _multiclass(n: int = 5000, k: int = 4, scale: float = 2.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True logits z and labels drawn from softmax(z): softmax(z) is perfectly calibrated."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, scale, (n, k))
    y = (np.cumsum(_softmax(z), axis=1) > rng.random((n, 1))).argmax(axis=1)
    return z, y


def _multilabel(n: int = 5000, k: int = 3, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, (n, k))
    return z, (rng.random((n, k)) < _sigmoid(z)).astype(int)


# --------------------------------------------------------------------------- temperature scaling


@pytest.mark.parametrize("t0", [0.5, 2.5])
def test_a_known_temperature_is_recovered_single_label(t0):
    z, y = _multiclass()
    # logits T0 times too large (or small): dividing by T0 gives back the calibrated softmax(z).
    assert cal.fit_temperature(z * t0, y, "multiclass") == pytest.approx(t0, rel=0.1)


@pytest.mark.parametrize("t0", [0.5, 2.5])
def test_a_known_temperature_is_recovered_multi_label(t0):
    z, y = _multilabel()
    assert cal.fit_temperature(z * t0, y, "multilabel") == pytest.approx(t0, rel=0.1)


def test_the_fitted_temperature_minimises_the_log_loss_and_never_does_worse_than_1():
    z, y = _multiclass(n=2000, seed=3)
    logits = z * 1.7
    t = cal.fit_temperature(logits, y, "multiclass")

    def loss(temperature):
        return cal.log_loss(cal.probabilities(logits, "multiclass", temperature), y, "multiclass")

    assert loss(t) <= loss(1.0)
    assert loss(t) <= min(loss(t * 0.97), loss(t * 1.03)) + 1e-12
    # already calibrated logits: T stays near 1
    assert cal.fit_temperature(z, y, "multiclass") == pytest.approx(1.0, rel=0.1)


def test_windows_mean_logits_fit_as_their_documents_mean_logits():
    rng = np.random.default_rng(4)
    z, y = _multiclass(n=600, k=3, seed=5)
    # 1 to 3 windows per document, in shuffled row order, whose logits average to the document's
    doc_ids = np.repeat(np.arange(600), rng.integers(1, 4, 600))
    noise = rng.normal(0.0, 1.0, (len(doc_ids), 3))
    counts = np.bincount(doc_ids)
    noise -= (np.add.reduceat(noise, np.r_[0, np.cumsum(counts)[:-1]]) / counts[:, None])[doc_ids]
    rows = 2.0 * z[doc_ids] + noise
    order = rng.permutation(len(rows))
    rows, doc_ids = rows[order], doc_ids[order]
    fitted = cal.fit_temperature(rows, y, "multiclass", doc_ids=doc_ids, n_docs=600)
    assert fitted == pytest.approx(cal.fit_temperature(2.0 * z, y, "multiclass"), rel=1e-4)
    np.testing.assert_allclose(cal.probabilities(rows, "multiclass", fitted, doc_ids=doc_ids),
                               cal.probabilities(2.0 * z, "multiclass", fitted), atol=1e-12)
    # mean_probs: each document's probabilities are the mean of its windows' softmax(logits / T)
    mean_probs = cal.probabilities(rows, "multiclass", 1.5, doc_ids=doc_ids, aggregate="mean_probs")
    by_hand = np.stack([_softmax(rows[doc_ids == d] / 1.5).mean(axis=0) for d in range(600)])
    np.testing.assert_allclose(mean_probs, by_hand, atol=1e-12)
    t = cal.fit_temperature(rows, y, "multiclass", doc_ids=doc_ids, aggregate="mean_probs")
    assert cal.T_MIN <= t <= cal.T_MAX
    at = {temp: cal.log_loss(cal.probabilities(rows, "multiclass", temp, doc_ids=doc_ids, aggregate="mean_probs"),
                             y, "multiclass") for temp in (1.0, t)}
    assert at[t] <= at[1.0]


def test_no_temperature_changes_a_single_label_argmax_or_a_sigmoid_side_of_one_half():
    z, _ = _multiclass(n=500, k=5, seed=6)
    ml, _ = _multilabel(n=500, seed=7)
    for t in (0.05, 0.3, 1.0, 2.7, 20.0):
        assert (cal.probabilities(z, "multiclass", t).argmax(axis=1) == z.argmax(axis=1)).all()
        assert ((cal.probabilities(ml, "multilabel", t) >= 0.5) == (ml >= 0)).all()
    np.testing.assert_allclose(cal.probabilities(z, "multiclass"), _softmax(z), atol=1e-12)
    np.testing.assert_allclose(cal.probabilities(ml, "multilabel", 2.0), _sigmoid(ml / 2.0), atol=1e-12)


# --------------------------------------------------------------------------- ECE, Brier, log loss


def test_ece_and_the_reliability_curve_by_hand():
    # top probabilities 0.85 (right), 0.85 (wrong), 0.65 (right), 0.55 (right); bins of 0.2:
    # (0.8, 1]: 2 texts, |0.5 - 0.85| = 0.35; (0.6, 0.8]: |1 - 0.65|; (0.4, 0.6]: |1 - 0.55|
    probs = np.array([[0.85, 0.15], [0.15, 0.85], [0.35, 0.65], [0.55, 0.45]])
    targets = np.array([0, 0, 1, 0])
    expected = 0.5 * 0.35 + 0.25 * 0.35 + 0.25 * 0.45
    assert cal.expected_calibration_error(probs, targets, "multiclass", n_bins=5) == pytest.approx(expected)
    curve = cal.reliability_curve(probs, targets, "multiclass", n_bins=5)
    assert curve["n_bins"] == 5 and curve["ece"] == pytest.approx(expected)
    np.testing.assert_allclose(curve["lower"], [0, 0.2, 0.4, 0.6, 0.8])
    np.testing.assert_allclose(curve["upper"], [0.2, 0.4, 0.6, 0.8, 1.0])
    assert curve["count"] == [0, 0, 1, 1, 2]
    np.testing.assert_allclose(curve["confidence"], [np.nan, np.nan, 0.55, 0.65, 0.85])
    np.testing.assert_allclose(curve["accuracy"], [np.nan, np.nan, 1.0, 1.0, 0.5])
    # a confidence of exactly 1 is in the last bin; one bin: |accuracy - mean confidence|
    assert cal.reliability_curve(np.eye(2), [0, 1], "multiclass", n_bins=4)["count"] == [0, 0, 0, 2]
    assert cal.expected_calibration_error(probs, targets, "multiclass", n_bins=1) == pytest.approx(0.75 - 0.725)
    # multi-label: every (text, label) cell against its 0 / 1 target; a 0 falls in the first bin
    ml_probs, ml_targets = np.array([[0.1, 0.7], [0.3, 0.9]]), np.array([[0, 1], [1, 1]])
    assert cal.expected_calibration_error(ml_probs, ml_targets, "multilabel", n_bins=2) == pytest.approx(
        0.5 * abs(0.5 - 0.2) + 0.5 * abs(1.0 - 0.8))
    assert cal.reliability_curve(np.array([[0.0, 1.0]]), [[0, 1]], "multilabel", n_bins=3)["count"] == [1, 0, 1]


def test_ece_is_small_when_calibrated_large_when_over_confident_and_temperature_scaling_halves_it():
    z, y = _multiclass(n=8000, seed=8)
    calibrated = cal.expected_calibration_error(_softmax(z), y, "multiclass")
    over = cal.expected_calibration_error(_softmax(3.0 * z), y, "multiclass")
    assert calibrated < 0.02 and over > 0.1
    # fit on one half, judge on the other
    t = cal.fit_temperature(3.0 * z[:4000], y[:4000], "multiclass")
    before = cal.probabilities(3.0 * z[4000:], "multiclass")
    after = cal.probabilities(3.0 * z[4000:], "multiclass", t)
    report = cal.calibration_report(before, after, y[4000:], "multiclass")
    assert report["n_bins"] == 15 and set(report["before"]) == {"ece", "log_loss", "brier", "accuracy"}
    assert report["after"]["ece"] <= report["before"]["ece"] / 2
    assert report["after"]["log_loss"] < report["before"]["log_loss"]
    assert report["after"]["brier"] < report["before"]["brier"]
    assert report["after"]["accuracy"] == report["before"]["accuracy"]
    assert cal.calibration_report(before, None, y[4000:], "multiclass")["after"] is None


def test_brier_and_log_loss_agree_with_scikit_learn():
    z, y = _multiclass(n=300, k=3, seed=9)
    p = _softmax(z)
    assert cal.log_loss(p, y, "multiclass") == pytest.approx(sk_log_loss(y, p, labels=[0, 1, 2]), rel=1e-9)
    assert cal.brier_score(p, y, "multiclass") == pytest.approx(
        np.mean(np.sum((p - np.eye(3)[y]) ** 2, axis=1)), rel=1e-12)
    # two classes: the sum over both classes is twice scikit-learn's binary Brier score
    z2, y2 = _multiclass(n=300, k=2, seed=10)
    p2 = _softmax(z2)
    assert cal.brier_score(p2, y2, "multiclass") == pytest.approx(2 * brier_score_loss(y2, p2[:, 1]), rel=1e-9)
    assert cal.log_loss(p2, y2, "multiclass") == pytest.approx(sk_log_loss(y2, p2[:, 1]), rel=1e-9)
    # multi-label: every cell is a binary prediction
    zm, ym = _multilabel(n=200, seed=11)
    pm = _sigmoid(zm)
    assert cal.brier_score(pm, ym, "multilabel") == pytest.approx(brier_score_loss(ym.ravel(), pm.ravel()), rel=1e-9)
    assert cal.log_loss(pm, ym, "multilabel") == pytest.approx(sk_log_loss(ym.ravel(), pm.ravel()), rel=1e-9)
    # a confident mistake costs -log(1e-7), not infinity
    assert cal.log_loss(np.array([[1.0, 0.0], [0.0, 1.0]]), [1, 1], "multiclass") == pytest.approx(-np.log(1e-7) / 2)


# --------------------------------------------------------------------------- risk-coverage


def test_risk_coverage_on_a_constructed_example():
    top = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.51])
    right = np.array([1, 1, 1, 1, 0, 1, 0, 1, 0, 0], dtype=bool)
    probs = np.stack([top, 1 - top], axis=1)
    targets = np.where(right, 0, 1)
    curve = cal.risk_coverage(probs, targets)
    assert curve["n"] == 10 and curve["threshold"] == sorted(curve["threshold"]) and curve["threshold"][0] == 0.0
    assert len(curve["threshold"]) == 11  # 0 and the ten distinct top probabilities
    assert np.all(np.diff(curve["coverage"]) <= 0) and curve["coverage"][0] == 1.0
    assert curve["accuracy"][0] == pytest.approx(0.6)  # coverage 1: the plain accuracy
    at = dict(zip(curve["threshold"], zip(curve["coverage"], curve["accuracy"], curve["answered"])))
    assert at[0.8] == (0.4, 1.0, 4) and at[0.7][:2] == (0.6, pytest.approx(5 / 6))
    assert cal.coverage_at_accuracy(curve, 0.99) == 0.4
    assert cal.coverage_at_accuracy(curve, 0.8) == 0.6
    assert cal.coverage_at_accuracy(curve, 0.5) == 1.0
    # the most confident text is wrong: nothing reaches 99%
    worst_first = cal.risk_coverage(probs, np.where(right, 0, 1)[::-1])
    assert cal.coverage_at_accuracy(worst_first, 0.99) is None
    # chosen thresholds; above every top probability nobody is answered (accuracy NaN)
    chosen = cal.risk_coverage(probs, targets, thresholds=[0.99, 0.8, 0])
    assert chosen["threshold"] == [0.0, 0.8, 0.99] and chosen["answered"] == [10, 4, 0]
    assert np.isnan(chosen["accuracy"][2])


def test_risk_coverage_thins_many_thresholds_and_agrees_with_counting():
    z, y = _multiclass(n=3000, seed=12)
    p = _softmax(z)
    curve = cal.risk_coverage(p, y)
    assert 50 <= len(curve["threshold"]) <= cal.MAX_THRESHOLDS + 1
    top, right = p.max(axis=1), p.argmax(axis=1) == y
    for t, c, a in zip(curve["threshold"][::10], curve["coverage"][::10], curve["accuracy"][::10]):
        assert c == pytest.approx((top >= t).mean()) and a == pytest.approx(right[top >= t].mean())


# --------------------------------------------------------------------------- bad inputs


def test_calibrate_logits_fits_and_reports_for_a_dataset():
    z, y = _multiclass(n=1000, seed=13)
    data = SimpleNamespace(mode="multiclass", doc_targets=y, doc_ids=None, n_docs=1000, aggregate="mean_logits")
    report = cal.calibrate_logits(2.0 * z, data)
    assert report["temperature"] == pytest.approx(2.0, rel=0.15) and report["n_bins"] == 15
    assert report["after"]["log_loss"] <= report["before"]["log_loss"]
    assert report["after"]["accuracy"] == report["before"]["accuracy"]
    line = cal.summary(report)
    assert "ECE (15 bins)" in line and "temperature" in line and "->" in line
    with pytest.raises(ValueError, match="labeled"):
        cal.calibrate_logits(z, SimpleNamespace(mode="multiclass", doc_targets=None, doc_ids=None, n_docs=1000))
    with pytest.raises(ValueError, match="regression"):
        cal.calibrate_logits(z[:, :1], SimpleNamespace(mode="regression", doc_targets=z[:, 0], doc_ids=None,
                                                      n_docs=1000))


def test_bad_inputs_get_clear_errors():
    z, y = _multiclass(n=20, k=3, seed=14)
    p = _softmax(z)
    with pytest.raises(ValueError, match="regression"):
        cal.fit_temperature(z[:, :1], z[:, 0], "regression")
    with pytest.raises(ValueError, match="mode must be"):
        cal.expected_calibration_error(p, y, "binary")
    with pytest.raises(ValueError, match="at least two classes"):
        cal.fit_temperature(z, np.zeros(20, dtype=int), "multiclass")
    with pytest.raises(ValueError, match="both 0 and 1"):
        cal.fit_temperature(z, np.zeros((20, 3)), "multilabel")
    with pytest.raises(ValueError, match="at least 2 held-out texts"):
        cal.fit_temperature(z[:1], y[:1], "multiclass")
    bad = z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        cal.fit_temperature(bad, y, "multiclass")
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        cal.probabilities(bad, "multiclass")
    with pytest.raises(ValueError, match="different lengths"):
        cal.fit_temperature(z, y[:-1], "multiclass")
    with pytest.raises(ValueError, match="different lengths"):
        cal.brier_score(p, y[:-1], "multiclass")
    with pytest.raises(ValueError, match="different lengths"):
        cal.fit_temperature(z, y[:10], "multiclass", doc_ids=np.arange(10))
    with pytest.raises(ValueError, match="class ids in"):
        cal.log_loss(p, y + 3, "multiclass")
    with pytest.raises(ValueError, match="integer class ids"):
        cal.log_loss(p, np.array(list("abcdefghijklmnopqrst")), "multiclass")  # names, not ids
    with pytest.raises(ValueError, match="0 or 1"):
        cal.log_loss(p, np.full((20, 3), 2), "multilabel")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cal.expected_calibration_error(p * 2, y, "multiclass")
    for n_bins in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_bins"):
            cal.expected_calibration_error(p, y, "multiclass", n_bins=n_bins)
        with pytest.raises(ValueError, match="n_bins"):
            cal.reliability_curve(p, y, "multiclass", n_bins=n_bins)
    for t in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            cal.probabilities(z, "multiclass", t)
    with pytest.raises(ValueError, match="aggregate"):
        cal.probabilities(z, "multiclass", doc_ids=np.arange(20), aggregate="max")
    with pytest.raises(ValueError, match="no window"):
        cal.probabilities(z, "multiclass", doc_ids=np.arange(20), n_docs=21)
    with pytest.raises(ValueError, match="single-label"):
        cal.risk_coverage(_sigmoid(z), (z > 0).astype(int), "multilabel")
    with pytest.raises(ValueError, match="threshold"):
        cal.risk_coverage(p, y, thresholds=[0.5, 1.2])
    for bad_p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="min_confidence"):
            check_confidence(bad_p)
    for bad_p in (True, "0.5", None):
        with pytest.raises(TypeError, match="min_confidence"):
            check_confidence(bad_p)
    assert check_confidence(0) == 0.0 and check_confidence(np.float32(1.0)) == 1.0
    with pytest.raises(ValueError, match="target"):
        cal.coverage_at_accuracy(cal.risk_coverage(p, y), 1.5)


# --------------------------------------------------------------------------- plots


def _curves():
    z, y = _multiclass(n=2000, seed=15)
    before = cal.reliability_curve(_softmax(3.0 * z), y, "multiclass")
    after = cal.reliability_curve(_softmax(z), y, "multiclass")
    return before, after, cal.risk_coverage(_softmax(z), y)


def test_the_reliability_and_risk_coverage_plots_are_returned_and_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() under the Agg backend"))
    before, after, risk = _curves()
    figures = {
        "reliability": lambda **kw: plots.reliability_plot(before, after, **kw),
        "reliability_before_only": lambda **kw: plots.reliability_plot(before, **kw),
        "reliability_multilabel": lambda **kw: plots.reliability_plot(
            cal.reliability_curve(*(lambda z, y: (_sigmoid(z), y))(*_multilabel(n=300)), "multilabel"), **kw),
        "risk_coverage": lambda **kw: plots.risk_coverage_plot(risk, **kw),
    }
    for name, make in figures.items():
        path = tmp_path / f"{name}.png"
        fig = make(show=True, save_path=path)
        assert isinstance(fig, Figure) and fig.axes
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="lacks"):
        plots.reliability_plot({"count": [1]}, show=False)
    with pytest.raises(ValueError, match="lacks"):
        plots.risk_coverage_plot({"coverage": [1.0]}, show=False)
