"""tfclf.plots: every figure is returned, drawn from the data it is given, saved when given a
save_path (the format follows the suffix), and never shown (or blocking) under a non-interactive
backend. The Learner's plot methods, which feed these functions, are tested in test_learner.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")  # conftest sets MPLBACKEND=Agg too: nothing is ever displayed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tfclf import plots  # noqa: E402


class Suggestions(NamedTuple):
    """The shape of the LR finder's suggestions (the plot reads them through ``_asdict``)."""

    valley: float | None
    steepest: float | None
    minimum: float | None


LRS = np.geomspace(1e-6, 1.0, 61)
LOSSES = 1.0 + 0.5 * np.cos(np.linspace(0, 3, 61))


def _recorder(steps: int = 12) -> SimpleNamespace:
    """What `training_plot` reads from a `Recorder`: per-step lrs, momentums and losses."""
    s = np.arange(steps)
    return SimpleNamespace(lrs=list(1e-3 * (1 + s)), momentums=list(0.95 - 0.01 * s), losses=list(2.0 / (1 + s)))


CM = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 4]])
CLASSES = ["neg", "neutral", "pos"]

FIGURES = {
    "lr_finder": lambda **kw: plots.lr_finder_plot(LRS, LOSSES, Suggestions(1e-3, 1e-4, 1e-2), **kw),
    "training_lr": lambda **kw: plots.training_plot(_recorder(), "lr", **kw),
    "training_momentum": lambda **kw: plots.training_plot(_recorder(), "momentum", **kw),
    "training_loss": lambda **kw: plots.training_plot(_recorder(), "loss", val_losses=[1.0, 0.5, 0.25],
                                                      steps_per_epoch=4, **kw),
    "history": lambda **kw: plots.history_plot({"accuracy": [0.5, 0.8], "val_accuracy": [0.6, 0.7]}, **kw),
    "confusion_matrix": lambda **kw: plots.confusion_matrix_plot(CM, CLASSES, **kw),
}
MAGIC = {".png": lambda b: b[:8] == b"\x89PNG\r\n\x1a\n", ".svg": lambda b: b"<svg" in b[:2000],
         ".pdf": lambda b: b[:5] == b"%PDF-"}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("suffix", sorted(MAGIC))
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_each_figure_is_returned_and_saved_in_the_format_of_its_suffix(name, suffix, tmp_path):
    path = tmp_path / f"{name}{suffix}"
    fig = FIGURES[name](show=False, save_path=path)
    assert isinstance(fig, Figure) and fig.axes
    assert path.is_file() and MAGIC[suffix](path.read_bytes())
    # a str path works too, and without save_path nothing is written
    FIGURES[name](show=False, save_path=str(tmp_path / f"again{suffix}"))
    assert (tmp_path / f"again{suffix}").is_file()
    before = sorted(tmp_path.iterdir())
    assert isinstance(FIGURES[name](show=False), Figure)
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_show_never_blocks_under_a_non_interactive_backend(name, monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() under the Agg backend"))
    assert isinstance(FIGURES[name](show=True), Figure)


def test_show_displays_under_an_interactive_backend(monkeypatch):
    shown = []
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "TkAgg")
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(True))
    FIGURES["history"](show=True)
    assert shown == [True]
    FIGURES["history"](show=False)
    assert shown == [True]


# --------------------------------------------------------------------------- what each figure draws


def test_lr_finder_plot_draws_the_curve_and_marks_the_suggestions():
    fig = plots.lr_finder_plot(LRS, LOSSES, Suggestions(valley=1e-3, steepest=None, minimum=1.1e-2), show=False)
    ax = fig.axes[0]
    curve, *marks = ax.get_lines()
    np.testing.assert_allclose(curve.get_xdata(), LRS)
    np.testing.assert_allclose(curve.get_ydata(), LOSSES)
    assert ax.get_xscale() == "log" and ax.get_title() == "LR finder"
    # one marker per suggestion given (None is skipped), on the curve at the nearest learning rate
    assert [m.get_label() for m in marks] == ["valley: 1.0E-03", "minimum/10: 1.1E-02"]
    for mark, lr in zip(marks, (1e-3, 1.1e-2)):
        i = int(np.argmin(np.abs(np.log(LRS) - np.log(lr))))
        assert (mark.get_xdata()[0], mark.get_ydata()[0]) == (LRS[i], LOSSES[i])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["smoothed loss", "valley: 1.0E-03",
                                                                   "minimum/10: 1.1E-02"]
    bare = plots.lr_finder_plot(LRS, LOSSES, show=False)
    assert len(bare.axes[0].get_lines()) == 1


@pytest.mark.parametrize("plot_type, attribute, title", [("lr", "lrs", "learning rate schedule"),
                                                          ("momentum", "momentums", "momentum schedule")])
def test_training_plot_of_the_schedules(plot_type, attribute, title):
    rec = _recorder(7)
    ax = plots.training_plot(rec, plot_type, show=False).axes[0]
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 8))
    np.testing.assert_allclose(line.get_ydata(), getattr(rec, attribute))
    assert ax.get_title() == title and ax.get_xlabel() == "step"


def test_training_plot_of_the_loss():
    # Few steps: the batch losses alone; the validation loss at the end of each epoch.
    ax = plots.training_plot(_recorder(8), "loss", val_losses=[0.9, 0.4], steps_per_epoch=4, show=False).axes[0]
    batch, val = ax.get_lines()
    np.testing.assert_allclose(batch.get_ydata(), _recorder(8).losses)
    assert val.get_xdata().tolist() == [4, 8] and val.get_ydata().tolist() == [0.9, 0.4]
    assert ax.get_title() == "training loss"
    # 10 steps or more: a smoothed curve too (bias-corrected moving average, beta 0.9). After
    # several fits, the validation losses given belong to the last epochs.
    rec = _recorder(20)
    ax = plots.training_plot(rec, "loss", val_losses=[0.9, 0.4], steps_per_epoch=4, show=False).axes[0]
    batch, smoothed, val = ax.get_lines()
    avg, expected = 0.0, []
    for i, x in enumerate(rec.losses, start=1):
        avg = 0.9 * avg + 0.1 * x
        expected.append(avg / (1 - 0.9**i))
    np.testing.assert_allclose(smoothed.get_ydata(), expected, rtol=1e-12)
    assert val.get_xdata().tolist() == [16, 20]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["batch loss", "smoothed", "validation loss"]
    # without validation losses (or the epoch length), no validation curve
    assert len(plots.training_plot(rec, "loss", show=False).axes[0].get_lines()) == 2
    assert len(plots.training_plot(rec, "loss", val_losses=[0.9], show=False).axes[0].get_lines()) == 2


def test_history_plot_draws_training_and_validation_per_epoch():
    history = {"loss": [0.9, 0.5, 0.3], "val_loss": [1.0, 0.7, 0.6], "accuracy": [0.5, 0.8, 0.9]}
    ax = plots.history_plot(history, "loss", show=False).axes[0]
    train, val = ax.get_lines()
    assert train.get_xdata().tolist() == [1, 2, 3] and train.get_ydata().tolist() == history["loss"]
    assert val.get_ydata().tolist() == history["val_loss"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
    assert ax.get_title() == "loss per epoch" and ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    # a metric without validation values: the training curve alone (accuracy is the default)
    (only,) = plots.history_plot(history, show=False).axes[0].get_lines()
    assert only.get_ydata().tolist() == history["accuracy"] and only.get_label() == "training"


def test_history_plot_names_what_the_history_has():
    with pytest.raises(ValueError, match=r"no 'f1'; it has \['accuracy', 'loss'\]"):
        plots.history_plot({"loss": [1.0], "accuracy": [0.5]}, "f1", show=False)
    with pytest.raises(ValueError, match="no 'accuracy'"):
        plots.history_plot({}, show=False)


def test_confusion_matrix_plot_writes_every_count():
    ax = plots.confusion_matrix_plot(CM, CLASSES, show=False).axes[0]
    assert [int(t.get_text()) for t in ax.texts] == CM.ravel().tolist()  # row by row: true class
    positions = [t.get_position() for t in ax.texts]
    assert positions == [(j, i) for i in range(3) for j in range(3)]  # column j = predicted class j
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES == [t.get_text() for t in ax.get_yticklabels()]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert ax.get_title() == f"confusion matrix (accuracy {16 / 20:.4f})"
    # dark cells (above half the largest value) get white text
    colors = [t.get_color() for t in ax.texts]
    assert colors == ["white" if v > 3.5 else "black" for v in CM.ravel()]


def test_confusion_matrix_plot_normalized_by_true_class():
    cm = np.array([[3, 1], [0, 0]])  # a class never seen: its row stays zero, no division by zero
    ax = plots.confusion_matrix_plot(cm, ["a", "b"], normalize=True, show=False).axes[0]
    assert [t.get_text() for t in ax.texts] == ["0.75", "0.25", "0.00", "0.00"]
    assert ax.get_title() == "confusion matrix (accuracy 0.7500)"  # accuracy from the counts


def test_confusion_matrix_plot_errors():
    with pytest.raises(ValueError, match="square"):
        plots.confusion_matrix_plot(np.ones((2, 3)), ["a", "b"], show=False)
    with pytest.raises(ValueError, match="3-class confusion matrix must be square with one row per class"):
        plots.confusion_matrix_plot(np.ones((2, 2)), ["a", "b", "c"], show=False)
    with pytest.raises(ValueError, match="square"):
        plots.confusion_matrix_plot(np.ones(4), ["a", "b"], show=False)
