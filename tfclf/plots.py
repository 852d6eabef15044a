"""The matplotlib figures: LR finder curve, training loss / LR / momentum per step.

Figures are built with pyplot so that notebooks display them; `show=True` calls ``plt.show()``
only under an interactive backend, so scripts and the CLI never block or warn.
"""

from __future__ import annotations

import numpy as np


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, show: bool):
    import matplotlib

    if show and matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo", "template"):
        _pyplot().show()
    return fig


def lr_finder_plot(lrs, losses, suggestions=None, show: bool = True):
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
    return _finish(fig, show)


def training_plot(recorder, plot_type: str, val_losses=None, steps_per_epoch=None, show: bool = True):
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
            from tfclf.lr_finder import smooth

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
    return _finish(fig, show)
