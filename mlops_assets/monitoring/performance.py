"""Live model performance from feedback labels (pure): join labels to logged predictions, compare with the holdout.

A window's metric is compared with the champion's holdout figure (the evaluation report's ``metrics`` recorded at
promotion). The tolerance is relative, so one setting means the same for an AUC and an RMSE: a higher-is-better
metric has decayed when ``value < baseline - tolerance * |baseline|``, a loss when
``value > baseline + tolerance * |baseline|`` — and only when that is more than the window's own sampling noise:
the one-sided bootstrap bound of the window's metric (95%: the window resampled 400 times, seeded) must lie beyond
the limit too. An AUC on 500 labels has a standard error of ~0.02, as large as a 5% tolerance, so a point estimate
alone flagged healthy windows (a no-drift timeline confirmed "decay" at 0.716 against a 0.743 limit while its
windows averaged the holdout's 0.78); a model that really fell, e.g. to 0.60, is still flagged on its first window.
Windows also need ``min_feedback`` labels, and the sensors require k-of-m persistence.

A classifier's labels are the logs' 0/1 codes (the server encodes what ``/feedback`` receives, "yes"/"no" or
true/false, with the spec's positive class as 1; :mod:`mlops_assets.labels`) and its scores the probability of the
positive class, so the metric treats the positive class as the training and evaluation report did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mlops_assets.evaluation.bootstrap import resample_counts
from mlops_assets.evaluation.metrics import get_metric

#: One-sided level of the window's bound, and the resamples that estimate it (seeded: the same window, the same
#: decision).
DECAY_ALPHA = 0.05
DECAY_BOOTSTRAP = 400

#: Metrics computed on live labels, per task; the first is the default.
LIVE_METRICS = {"classification": ("roc_auc", "accuracy"), "regression": ("rmse", "mae")}
JOIN_KEYS = ["request_id", "row"]


def live_metric(task: str, primary: str | None = None) -> str:
    """The spec's primary metric when it can be computed on live labels, else roc_auc / rmse.

    >>> live_metric("classification", "pr_auc"), live_metric("regression", "mae")
    ('roc_auc', 'mae')
    """
    options = LIVE_METRICS[task]
    return primary if primary in options else options[0]


def join_feedback(predictions: pd.DataFrame, feedback: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Labels joined to the live predictions they are about, by ``request_id`` and ``row`` (0 when absent).

    A label sent twice for the same row counts once (the latest). Rows of the canary and shadow roles are left
    out: they did not answer the request. Returns the prediction columns (and the `extra` prediction-log
    columns, e.g. the raw inputs) plus ``label``.
    """
    if feedback.empty or predictions.empty:
        return pd.DataFrame(columns=[*JOIN_KEYS, "score", "prediction", "model_version", "label"])
    fb = feedback.copy()
    if "row" not in fb.columns:
        fb["row"] = 0
    fb["row"] = fb["row"].fillna(0).astype("int64")
    if "time" in fb.columns:
        fb = fb.sort_values("time", kind="stable")
    fb = fb.drop_duplicates(JOIN_KEYS, keep="last")[[*JOIN_KEYS, "label"]]
    preds = predictions
    if "role" in preds.columns:
        preds = preds[preds["role"] == "live"]
    keep = [c for c in dict.fromkeys((*JOIN_KEYS, "time", "score", "prediction", "model_version", *extra))
            if c in preds.columns]
    preds = preds[keep].drop_duplicates(JOIN_KEYS, keep="last")
    preds = preds.assign(row=preds["row"].astype("int64"))
    return preds.merge(fb, on=JOIN_KEYS, how="inner")


@dataclass(frozen=True)
class PerformanceDecision:
    """One window's live metric against the holdout baseline."""

    decayed: bool
    metric: str
    value: float
    baseline: float
    n: int
    tolerance: float
    limit: float
    higher_is_better: bool
    reason: str
    #: the window metric's one-sided (1 - DECAY_ALPHA) bootstrap bound on the side of the limit: the upper bound of
    #: a higher-is-better metric, the lower bound of a loss (NaN when not computed)
    bound: float = float("nan")

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def decide_performance(
    task: str, metric: str, labels, scores, baseline: float, tolerance: float, min_n: int = 1
) -> PerformanceDecision:
    """Compute `metric` on (labels, scores) and decide whether it fell beyond the tolerance of `baseline`.

    Examples
    --------
    >>> y = [1, 0] * 100
    >>> d = decide_performance("classification", "accuracy", y, [0.2, 0.1, 0.7, 0.9] * 50, 0.9, 0.05)
    >>> d.decayed, d.value, d.bound < d.limit
    (True, 0.5, True)
    >>> decide_performance("classification", "accuracy", y[:4], [0.2, 0.1, 0.7, 0.9], 0.9, 0.05).decayed  # 4 labels
    False
    """
    info = get_metric(metric)
    if info.task != task:
        raise ValueError(f"metric '{metric}' is a {info.task} metric, not {task}")
    y = np.asarray(labels, dtype=float)
    s = np.asarray(scores, dtype=float)
    n = int(len(y))
    hib = info.higher_is_better
    margin = tolerance * abs(baseline)
    limit = baseline - margin if hib else baseline + margin

    def result(decayed: bool, value: float, reason: str, bound: float = float("nan")) -> PerformanceDecision:
        return PerformanceDecision(decayed, metric, value, float(baseline), n, tolerance, float(limit), hib, reason,
                                   float(bound))

    value = info.fn(y, s) if n else float("nan")
    if n < min_n:
        return result(False, value, f"{n} labelled predictions, need {min_n} to decide")
    if not math.isfinite(baseline):
        return result(False, value, f"the holdout {metric} is not a number: nothing to compare with")
    if math.isnan(value):
        return result(False, value, f"{metric} is undefined on this window (a single class?)")
    beyond = value < limit if hib else value > limit
    word = "below" if hib else "above"
    if not beyond:
        return result(False, value, f"{metric} {value:.4f} within tolerance of holdout {baseline:.4f} (limit {limit:.4f})")
    bound = _bound(info, y, s, hib)
    if (bound < limit) if hib else (bound > limit):
        return result(True, value, f"{metric} {value:.4f} is {word} {limit:.4f} (holdout {baseline:.4f} ± {tolerance:.0%}; "
                      f"{1 - DECAY_ALPHA:.0%} bound {bound:.4f})", bound)
    return result(False, value, f"{metric} {value:.4f} is {word} {limit:.4f} but within this window's noise "
                  f"({1 - DECAY_ALPHA:.0%} bound {bound:.4f}, {n} labels)", bound)


def _bound(info, y: np.ndarray, s: np.ndarray, higher_is_better: bool) -> float:
    """The window metric's one-sided (1 - DECAY_ALPHA) percentile-bootstrap bound toward the limit."""
    counts = resample_counts(np.random.default_rng(0), len(y), DECAY_BOOTSTRAP)
    values = info.weighted_fn(y, s, counts)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan")
    return float(np.quantile(values, 1 - DECAY_ALPHA if higher_is_better else DECAY_ALPHA))
