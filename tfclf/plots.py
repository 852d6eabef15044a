"""The matplotlib figures: LR finder curve, training loss / LR / momentum per step, learning
curves per epoch, the confusion matrix, the reliability diagram and the risk-coverage curve.

Figures are built with pyplot so that notebooks display them; `show=True` calls ``plt.show()``
only under an interactive backend, so scripts and the CLI never block or warn. Every function
returns the figure and saves it when given `save_path` (the format follows the suffix: .png,
.svg, .pdf).
"""

from __future__ import annotations

import numpy as np


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, show: bool, save_path=None):
    import matplotlib

    if save_path is not None:
        fig.savefig(str(save_path), dpi=120, bbox_inches="tight")
    if show and matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo", "template"):
        _pyplot().show()
    return fig


def lr_finder_plot(lrs, losses, suggestions=None, show: bool = True, save_path=None):
    """Loss against learning rate (log x), with the named suggestions marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(lrs, losses, color="#1f77b4", lw=1.8, label="smoothed loss")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss")
    ax.set_title("LR finder")
    if suggestions is not None:
        markers = {"valley": ("o", "#2ca02c"), "steepest": ("^", "#d62728"), "minimum": ("s", "#9467bd")}
        lrs_arr, losses_arr = np.asarray(lrs), np.asarray(losses)
        for name, value in suggestions._asdict().items():
            if value is None:
                continue
            i = int(np.argmin(np.abs(np.log(lrs_arr) - np.log(value))))
            marker, color = markers[name]
            label = "minimum/10" if name == "minimum" else name
            ax.plot(lrs_arr[i], losses_arr[i], marker=marker, color=color, ms=9, ls="none",
                    label=f"{label}: {value:.1E}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _finish(fig, show, save_path)


def training_plot(recorder, plot_type: str, val_losses=None, steps_per_epoch=None, show: bool = True,
                  save_path=None):
    """Per-step LR, momentum or batch loss (with validation loss at each epoch's end)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    steps = np.arange(1, len(recorder.lrs) + 1)
    if plot_type == "lr":
        ax.plot(steps, recorder.lrs, color="#1f77b4")
        ax.set_ylabel("learning rate")
        ax.set_title("learning rate schedule")
    elif plot_type == "momentum":
        ax.plot(steps, recorder.momentums, color="#ff7f0e")
        ax.set_ylabel("momentum (Adam beta_1)")
        ax.set_title("momentum schedule")
    else:
        losses = np.asarray(recorder.losses, dtype=float)
        ax.plot(steps, losses, color="#1f77b4", alpha=0.35, lw=0.8, label="batch loss")
        if len(losses) >= 10:
            from tfclf._util import smooth

            ax.plot(steps, smooth(losses, 0.9), color="#1f77b4", lw=1.8, label="smoothed")
        if val_losses and steps_per_epoch:
            last = len(steps)
            ends = [last - (len(val_losses) - 1 - e) * steps_per_epoch for e in range(len(val_losses))]
            ax.plot(ends, val_losses, "o-", color="#d62728", label="validation loss")
        ax.set_ylabel("loss")
        ax.set_title("training loss")
        ax.legend()
    ax.set_xlabel("step")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _finish(fig, show, save_path)


def history_plot(history: dict, metric: str = "accuracy", show: bool = True, save_path=None):
    """Learning curves: `metric` on the training and validation data at the end of each epoch."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    train, val = history.get(metric), history.get(f"val_{metric}")
    if not train and not val:
        raise ValueError(f"the training history has no {metric!r}; it has {sorted(history)}")
    for values, label, color in ((train, "training", "#1f77b4"), (val, "validation", "#d62728")):
        if values:
            ax.plot(np.arange(1, len(values) + 1), values, "o-", color=color, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _finish(fig, show, save_path)


def confusion_matrix_plot(cm, class_names, normalize: bool = False, show: bool = True, save_path=None):
    """The confusion matrix as a heat map: true classes in rows, predicted in columns, with counts
    (or, with `normalize`, the fraction of each true class) written in every cell."""
    plt = _pyplot()
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise ValueError(f"a {len(class_names)}-class confusion matrix must be square with one row per class, "
                         f"got shape {cm.shape}")
    values = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.2 * n + 3.2, 1.0 * n + 2.4))
    image = ax.imshow(values, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n), labels=class_names, rotation=35, ha="right")
    ax.set_yticks(range(n), labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"confusion matrix (accuracy {accuracy:.4f})")
    threshold = values.max() / 2 if values.size else 0
    for i in range(n):
        for j in range(n):
            text = f"{values[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", color="white" if values[i, j] > threshold else "black")
    fig.tight_layout()
    return _finish(fig, show, save_path)


def _curve_values(curve: dict, keys: tuple[str, ...], name: str) -> list[np.ndarray]:
    missing = [k for k in keys if k not in curve]
    if missing:
        raise ValueError(f"{name} lacks {missing}: pass the dict that tfclf.calibration made")
    return [np.asarray(curve[k], dtype=float) for k in keys]


def reliability_plot(curve_before: dict, curve_after: dict | None = None, show: bool = True, save_path=None):
    """A reliability diagram: per confidence bin, the accuracy against the mean confidence, with the
    diagonal that perfectly calibrated probabilities follow, before (and after) calibration; the
    bins' counts below. The curves are `tfclf.calibration.reliability_curve` results."""
    plt = _pyplot()
    fig, (ax, counts_ax) = plt.subplots(2, 1, figsize=(6, 6.4), sharex=True,
                                        gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls="--", color="gray", lw=1, label="perfectly calibrated")
    curves = [(curve_before, "before", "#d62728", "o")]
    if curve_after is not None:
        curves.append((curve_after, "after", "#1f77b4", "s"))
    for i, (curve, name, color, marker) in enumerate(curves):
        lower, upper, count, conf, acc = _curve_values(
            curve, ("lower", "upper", "count", "confidence", "accuracy"), f"the {name} curve")
        filled = count > 0
        ece = curve.get("ece")
        label = name if ece is None else f"{name} (ECE {ece:.4f})"
        # Bars per bin show the gap to the diagonal; points sit at the bin's mean confidence.
        width = (upper - lower) / len(curves)
        ax.bar(lower[filled] + i * width[filled], acc[filled], width=width[filled], align="edge", color=color,
               alpha=0.25, edgecolor=color)
        ax.plot(conf[filled], acc[filled], marker=marker, color=color, lw=1.5, label=label)
        counts_ax.bar(lower + i * width, count, width=width, align="edge", color=color, alpha=0.6, label=name)
    single = curve_before.get("mode", "multiclass") != "multilabel"
    ax.set_ylabel("accuracy" if single else "fraction of positive targets")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    n_bins = curve_before.get("n_bins", len(curve_before["count"]))
    ax.set_title(f"reliability diagram ({n_bins} equal-width bins)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    counts_ax.set_xlabel("confidence (top-class probability)" if single else "predicted probability")
    counts_ax.set_ylabel("texts" if single else "cells")
    counts_ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _finish(fig, show, save_path)


def risk_coverage_plot(curve: dict, show: bool = True, save_path=None):
    """Accuracy of the texts answered against the fraction answered (coverage) when texts below a
    confidence threshold get no label; the curve is `tfclf.calibration.risk_coverage`'s."""
    plt = _pyplot()
    coverage, accuracy = _curve_values(curve, ("coverage", "accuracy"), "the risk-coverage curve")
    answered = ~np.isnan(accuracy) & (coverage > 0)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(coverage[answered], accuracy[answered], ".-", color="#1f77b4", lw=1.6, label="answered texts")
    if answered.any():
        full = accuracy[answered][np.argmax(coverage[answered])]
        ax.axhline(full, ls="--", color="gray", lw=1, label=f"answering all: {full:.4f}")
    ax.set_xlabel("coverage (fraction of texts answered)")
    ax.set_ylabel("accuracy of the answered texts")
    ax.set_xlim(0, 1.02)
    ax.set_title("risk-coverage")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    return _finish(fig, show, save_path)


def class_words_plot(view: dict, top: int = 10, show: bool = True, save_path=None):
    """The corpus view (`tfclf.faithfulness.class_words`): one horizontal bar chart per class of
    its `top` words' summed weights."""
    plt = _pyplot()
    classes = list(view)
    if not classes:
        raise ValueError("the corpus view is empty: no document was explained")
    fig, axes = plt.subplots(1, len(classes), figsize=(3.2 * len(classes), 0.35 * top + 1.2), squeeze=False)
    for ax, name in zip(axes[0], classes):
        rows = view[name][:top][::-1]
        ax.barh([w for w, _, _ in rows], [s for _, s, _ in rows],
                color=["#228b22" if s > 0 else "#dc322f" for _, s, _ in rows])
        ax.set_title(str(name), fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle("words that push each class (summed over its documents)", fontsize=10)
    fig.tight_layout()
    return _finish(fig, show, save_path)
