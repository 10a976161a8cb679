"""Reference implementations the metric tests compare ours with (scikit-learn, explicit loops)."""

import numpy as np
from sklearn import metrics as skm


def reference_ece(y, p, n_bins=10):
    """ECE by explicit masks over the calibration_curve bins ([0, e1], (e1, e2], ...)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    total = 0.0
    for k in range(n_bins):
        mask = (p <= edges[k + 1]) & ((p > edges[k]) if k else (p >= 0))
        if mask.any():
            total += mask.sum() / len(p) * abs(p[mask].mean() - y[mask].mean())
    return total


SKLEARN_CLASSIFICATION = {
    "roc_auc": skm.roc_auc_score,
    "pr_auc": skm.average_precision_score,
    "accuracy": lambda y, p, t=0.5: skm.accuracy_score(y, p >= t),
    "precision": lambda y, p, t=0.5: skm.precision_score(y, p >= t, zero_division=0),
    "recall": lambda y, p, t=0.5: skm.recall_score(y, p >= t, zero_division=0),
    "f1": lambda y, p, t=0.5: skm.f1_score(y, p >= t, zero_division=0),
    "log_loss": lambda y, p: skm.log_loss(y, y_proba=p, labels=[0, 1]),
    "brier": skm.brier_score_loss,
    "ece": reference_ece,
}
SKLEARN_REGRESSION = {
    "rmse": skm.root_mean_squared_error,
    "mae": skm.mean_absolute_error,
    "r2": skm.r2_score,
}
