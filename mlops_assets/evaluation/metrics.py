"""Classification and regression metrics in pure numpy, with a registry to compute one metric by name.

Every metric is implemented once, as a *weighted kernel* ``kernel(y, score, weights) -> values`` where
``weights`` has shape ``(b, n)`` and the result has shape ``(b,)``: row ``k`` is the metric on the sample
in which observation ``i`` appears ``weights[k, i]`` times. The point estimate uses a single row of ones;
the bootstrap passes resample counts, so both paths share one implementation and agree exactly.

Conventions (numbers follow scikit-learn unless stated):

* classification scores are probabilities of the positive class; labels are 0/1 (or booleans);
* a row is predicted positive when ``proba >= threshold``;
* ``roc_auc`` and ``pr_auc`` are NaN (not an error) when ``y_true`` holds a single class, as is ``r2``
  when ``y_true`` is constant: the metric is undefined, and a NaN fails any gate that compares it;
* ``precision``/``recall``/``f1`` are 0.0 when their denominator is 0 (scikit-learn's default);
* ``log_loss`` clips probabilities to ``[eps, 1 - eps]`` (float64 machine epsilon);
* ``ece`` uses equal-width bins on [0, 1] as ``sklearn.calibration.calibration_curve`` does: bin 0 is
  ``[0, 1/n_bins]`` and bin ``k`` is ``(k/n_bins, (k+1)/n_bins]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")
Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

_EPS = np.finfo(np.float64).eps
_QUANTILES = {"p5": 0.05, "p25": 0.25, "p50": 0.50, "p75": 0.75, "p95": 0.95}


# ---------------------------------------------------------------- input checks
def validate_inputs(task: str, y_true: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Return ``y_true`` and ``score`` as 1-D float arrays, raising ``ValueError`` on bad input.

    Parameters
    ----------
    task : {"classification", "regression"}
    y_true : array-like of shape (n,)
        0/1 labels for classification, real targets for regression.
    score : array-like of shape (n,)
        Probabilities of the positive class (classification) or predictions (regression).

    Returns
    -------
    y, score : ndarray of shape (n,), float64
    """
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; expected one of {', '.join(TASKS)}")
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(score, dtype=float)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"y_true and score must be 1-D, got shapes {y.shape} and {s.shape}")
    if len(y) != len(s):
        raise ValueError(f"y_true has {len(y)} rows but score has {len(s)}")
    if len(y) == 0:
        raise ValueError("cannot compute metrics on an empty sample")
    if not (np.isfinite(y).all() and np.isfinite(s).all()):
        raise ValueError("y_true and score must be finite (found NaN or inf)")
    if task == "classification":
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError(f"classification y_true must be 0/1, found values {np.unique(y)[:10].tolist()}")
        if s.min() < 0 or s.max() > 1:
            raise ValueError("classification scores must be probabilities in [0, 1]")
    return y, s


def _ratio(num: np.ndarray, den: np.ndarray, empty: float) -> np.ndarray:
    """``num / den`` with ``empty`` where ``den == 0``."""
    out = np.full(np.shape(num), empty, dtype=float)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _mean(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w @ values) / w.sum(axis=1)


# ---------------------------------------------------------------- ranking kernels
def _tie_groups(s_sorted: np.ndarray) -> np.ndarray:
    """Start index of each run of equal values in a sorted array."""
    return np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])


def _grouped_pos_neg(y: np.ndarray, s: np.ndarray, w: np.ndarray, descending: bool):
    """Per tie-group positive and negative weights, groups ordered by score."""
    order = np.argsort(-s if descending else s, kind="stable")
    starts = _tie_groups(s[order])
    ws = w[:, order]
    pos = np.add.reduceat(ws * y[order], starts, axis=1)
    neg = np.add.reduceat(ws * (1.0 - y[order]), starts, axis=1)
    return pos, neg


def _roc_auc(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC: P(score_pos > score_neg) + 0.5 P(tie); NaN for a single class."""
    pos, neg = _grouped_pos_neg(y, s, w, descending=False)
    neg_below = np.cumsum(neg, axis=1) - neg
    num = np.einsum("ij,ij->i", pos, neg_below + 0.5 * neg)
    return _ratio(num, pos.sum(axis=1) * neg.sum(axis=1), np.nan)


def _pr_auc(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average precision, sum over distinct thresholds of (R_k - R_k-1) P_k; NaN for a single class."""
    pos, neg = _grouped_pos_neg(y, s, w, descending=True)
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    precision = _ratio(tp, tp + fp, 0.0)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    ap = _ratio(np.einsum("ij,ij->i", pos, precision), n_pos, np.nan)
    return np.where(n_neg > 0, ap, np.nan)


# ---------------------------------------------------------------- threshold kernels
def _counts(y: np.ndarray, s: np.ndarray, w: np.ndarray, threshold: float):
    pred = (s >= threshold).astype(float)
    return w @ (pred * y), w @ pred, w @ y  # true positives, predicted positives, actual positives


def _accuracy(y, s, w, threshold=0.5):
    return _mean(((s >= threshold) == (y == 1.0)).astype(float), w)


def _precision(y, s, w, threshold=0.5):
    tp, pp, _ = _counts(y, s, w, threshold)
    return _ratio(tp, pp, 0.0)


def _recall(y, s, w, threshold=0.5):
    tp, _, ap = _counts(y, s, w, threshold)
    return _ratio(tp, ap, 0.0)


def _f1(y, s, w, threshold=0.5):
    tp, pp, ap = _counts(y, s, w, threshold)
    return _ratio(2.0 * tp, pp + ap, 0.0)


# ---------------------------------------------------------------- probabilistic kernels
def _log_loss(y, s, w):
    p = np.clip(s, _EPS, 1.0 - _EPS)
    return _mean(-(y * np.log(p) + (1.0 - y) * np.log1p(-p)), w)


def _brier(y, s, w):
    return _mean((s - y) ** 2, w)


def bin_ids(proba: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Equal-width calibration bin of each probability (bin 0 = [0, 1/n], bin k = (k/n, (k+1)/n])."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    return np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], proba)


def _ece(y, s, w, n_bins=10):
    gaps = np.zeros((len(y), n_bins))
    gaps[np.arange(len(y)), bin_ids(s, n_bins)] = s - y
    return np.abs(w @ gaps).sum(axis=1) / w.sum(axis=1)


# ---------------------------------------------------------------- regression kernels
def _rmse(y, s, w):
    return np.sqrt(_mean((y - s) ** 2, w))


def _mae(y, s, w):
    return _mean(np.abs(y - s), w)


def _r2(y, s, w):
    # Centre on the observed value nearest the mean: limits cancellation in sum(w y^2) - (sum w y)^2 / W,
    # and makes a constant y exactly zero, so its (undefined) r2 is NaN rather than noise.
    yc = y - y[np.argmin(np.abs(y - y.mean()))]
    total = w.sum(axis=1)
    sq = w @ yc**2
    ss_tot = sq - (w @ yc) ** 2 / total
    ss_res = w @ (y - s) ** 2
    ss_tot = np.where(ss_tot > 8 * len(y) * _EPS * sq, ss_tot, 0.0)
    return 1.0 - _ratio(ss_res, ss_tot, np.nan)


# ---------------------------------------------------------------- registry
@dataclass(frozen=True)
class MetricInfo:
    """One metric: its name, task, direction and how to compute it.

    Attributes
    ----------
    name : str
    task : {"classification", "regression"}
    higher_is_better : bool
        False for losses (rmse, mae, log_loss, brier, ece).
    weighted_fn : callable
        ``weighted_fn(y, score, weights) -> ndarray (b,)`` on validated float arrays; ``weights`` of shape
        ``(b, n)`` counts how often each row is in each of ``b`` samples (used by the bootstrap).
    """

    name: str
    task: Task
    higher_is_better: bool
    weighted_fn: Kernel = field(repr=False)

    def fn(self, y_true: ArrayLike, score: ArrayLike) -> float:
        """The metric on one sample, after validating the inputs for this metric's task."""
        y, s = validate_inputs(self.task, y_true, score)
        return float(self.weighted_fn(y, s, np.ones((1, len(y))))[0])


_CLASSIFICATION: dict[str, tuple[bool, Kernel]] = {
    "roc_auc": (True, _roc_auc),
    "pr_auc": (True, _pr_auc),
    "accuracy": (True, _accuracy),
    "precision": (True, _precision),
    "recall": (True, _recall),
    "f1": (True, _f1),
    "log_loss": (False, _log_loss),
    "brier": (False, _brier),
    "ece": (False, _ece),
}
_REGRESSION: dict[str, tuple[bool, Kernel]] = {"rmse": (False, _rmse), "mae": (False, _mae), "r2": (True, _r2)}
_THRESHOLDED = ("accuracy", "precision", "recall", "f1")

METRICS: dict[str, MetricInfo] = {
    name: MetricInfo(name, task, hib, kernel)
    for task, table in (("classification", _CLASSIFICATION), ("regression", _REGRESSION))
    for name, (hib, kernel) in table.items()
}
"""Every metric by name; threshold metrics use ``threshold=0.5`` and ``ece`` 10 bins."""


def get_metric(name: str) -> MetricInfo:
    """Look a metric up by name, raising ``ValueError`` that lists the known names."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric '{name}'; known metrics: {', '.join(sorted(METRICS))}") from None


# ---------------------------------------------------------------- public functions
def _evaluate(table: dict[str, tuple[bool, Kernel]], y, s, threshold: float | None = None) -> dict[str, float]:
    ones = np.ones((1, len(y)))
    out = {}
    for name, (_, kernel) in table.items():
        fn = partial(kernel, threshold=threshold) if name in _THRESHOLDED else kernel
        out[name] = float(fn(y, s, ones)[0])
    return out


def classification_metrics(y_true: ArrayLike, proba: ArrayLike, threshold: float = 0.5) -> dict[str, float]:
    """All classification metrics for positive-class probabilities.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels.
    proba : array-like of shape (n,)
        Predicted probability of class 1.
    threshold : float, default 0.5
        Rows with ``proba >= threshold`` are predicted positive (accuracy, precision, recall, f1).

    Returns
    -------
    dict
        roc_auc, pr_auc, accuracy, precision, recall, f1, log_loss, brier, ece. roc_auc and pr_auc are
        NaN when ``y_true`` holds one class only.

    Examples
    --------
    >>> m = classification_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> m["roc_auc"], m["accuracy"]
    (0.75, 0.5)
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    y, s = validate_inputs("classification", y_true, proba)
    return _evaluate(_CLASSIFICATION, y, s, threshold)


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """rmse, mae and r2 (NaN when ``y_true`` is constant).

    Examples
    --------
    >>> regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    {'rmse': 1.1547005383792515, 'mae': 0.6666666666666666, 'r2': -1.0}
    """
    y, s = validate_inputs("regression", y_true, y_pred)
    return _evaluate(_REGRESSION, y, s)


def compute_metrics(task: str, y_true: ArrayLike, score: ArrayLike) -> dict[str, float]:
    """All metrics of ``task``: classification takes positive-class probabilities, regression predictions."""
    if task == "classification":
        return classification_metrics(y_true, score)
    if task == "regression":
        return regression_metrics(y_true, score)
    raise ValueError(f"unknown task '{task}'; expected one of {', '.join(TASKS)}")


def confusion(y_true: ArrayLike, proba: ArrayLike, threshold: float = 0.5) -> dict[str, int]:
    """Confusion counts ``tn, fp, fn, tp`` with ``proba >= threshold`` predicted positive."""
    y, s = validate_inputs("classification", y_true, proba)
    pred, actual = s >= threshold, y == 1.0
    return {
        "tn": int(np.sum(~pred & ~actual)),
        "fp": int(np.sum(pred & ~actual)),
        "fn": int(np.sum(~pred & actual)),
        "tp": int(np.sum(pred & actual)),
    }


def calibration_table(y_true: ArrayLike, proba: ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Reliability table over ``n_bins`` equal-width bins (all bins, empty ones with count 0 and NaN).

    Returns
    -------
    DataFrame
        Columns ``bin`` (0..n_bins-1, bin ``k`` covers ``(k/n_bins, (k+1)/n_bins]``, bin 0 includes 0),
        ``mean_predicted``, ``fraction_positive``, ``count``.
    """
    y, s = validate_inputs("classification", y_true, proba)
    ids = bin_ids(s, n_bins)
    count = np.bincount(ids, minlength=n_bins)
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "mean_predicted": _ratio(np.bincount(ids, weights=s, minlength=n_bins), count, np.nan),
            "fraction_positive": _ratio(np.bincount(ids, weights=y, minlength=n_bins), count, np.nan),
            "count": count,
        }
    )


def residual_summary(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """Summary of residuals ``y_true - y_pred``: mean, std (ddof=0), p5..p95 quantiles and max_abs."""
    y, s = validate_inputs("regression", y_true, y_pred)
    r = y - s
    summary = {"mean": float(r.mean()), "std": float(r.std())}
    summary.update({key: float(np.quantile(r, q)) for key, q in _QUANTILES.items()})
    summary["max_abs"] = float(np.abs(r).max())
    return summary
