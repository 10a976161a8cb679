"""Evaluation plots (matplotlib, Agg backend): ROC and PR curves, or residuals (pure)."""

from __future__ import annotations

import base64
import functools
import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib and sklearn are imported where a figure is drawn, not at module import (start-up time).


@functools.cache
def pyplot():
    """matplotlib.pyplot, on the Agg backend (imported and set on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _compared(challenger: np.ndarray, champion: np.ndarray | None):
    """(label, values) of the challenger and, when there is one, the champion."""
    return [(label, v) for label, v in (("challenger", challenger), ("champion", champion)) if v is not None]


def classification_figure(y_true: np.ndarray, challenger: np.ndarray, champion: np.ndarray | None) -> Figure:
    from sklearn.metrics import precision_recall_curve, roc_curve

    fig, (roc_ax, pr_ax) = pyplot().subplots(1, 2, figsize=(10, 4))
    for label, score in _compared(challenger, champion):
        fpr, tpr, _ = roc_curve(y_true, score)
        roc_ax.plot(fpr, tpr, label=label)
        precision, recall, _ = precision_recall_curve(y_true, score)
        pr_ax.plot(recall, precision, label=label)
    roc_ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    roc_ax.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    pr_ax.set(title="Precision-recall", xlabel="recall", ylabel="precision")
    roc_ax.legend()
    pr_ax.legend()
    fig.tight_layout()
    return fig


def regression_figure(y_true: np.ndarray, challenger: np.ndarray, champion: np.ndarray | None) -> Figure:
    fig, (scatter_ax, hist_ax) = pyplot().subplots(1, 2, figsize=(10, 4))
    for label, pred in _compared(challenger, champion):
        scatter_ax.scatter(y_true, pred, s=4, alpha=0.4, label=label)
        hist_ax.hist(y_true - pred, bins=50, alpha=0.5, label=label)
    lo, hi = float(np.min(y_true)), float(np.max(y_true))
    scatter_ax.plot([lo, hi], [lo, hi], linestyle=":", color="grey")
    scatter_ax.set(title="Predicted vs actual", xlabel="actual", ylabel="predicted")
    hist_ax.set(title="Residuals (actual − predicted)")
    scatter_ax.legend()
    hist_ax.legend()
    fig.tight_layout()
    return fig


def figure_markdown(fig: Figure, alt: str) -> str:
    """The figure as a markdown image with an inline PNG data URI (renders in the Dagster UI, no server needed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    pyplot().close(fig)
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def evaluation_figure(task: str, y_true, challenger, champion) -> Figure:
    make = classification_figure if task == "classification" else regression_figure
    return make(np.asarray(y_true), np.asarray(challenger), None if champion is None else np.asarray(champion))
