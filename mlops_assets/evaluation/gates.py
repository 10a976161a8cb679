"""Pure promotion-gate decisions: metric thresholds, not-worse-than-champion (by promotion rule), and slice gaps.

Each check returns a ``GateResult`` whose ``rows`` render as a table (metric, value, op, threshold, passed)
and whose one-line ``summary`` says what failed and what to do next. A NaN value never passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlops_assets.evaluation.bootstrap import BootstrapResult
from mlops_assets.evaluation.metrics import METRICS

NO_CHAMPION = "no champion: gated on thresholds alone"
PROMOTION_RULES = ("non_inferior", "superior")  # evaluation.promotion_rule


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate.

    Attributes
    ----------
    passed : bool
    rows : list of dict
        One per compared quantity: ``metric, value, op, threshold, passed`` (and context for some gates).
    summary : str
        One line: what passed or failed, and for a failure what to do next.
    """

    passed: bool
    rows: list[dict] = field(default_factory=list)
    summary: str = ""


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def check_thresholds(metrics: dict[str, float], thresholds: dict[str, float]) -> GateResult:
    """Compare metrics with the spec's thresholds: a minimum for higher-is-better metrics, else a maximum.

    Parameters
    ----------
    metrics : dict
        Computed metrics by name (e.g. from ``compute_metrics``).
    thresholds : dict
        ``evaluation.thresholds`` from the project spec.

    Returns
    -------
    GateResult
        Fails on any breached threshold, on a NaN metric, on a metric name that is not in ``METRICS``
        and on a known metric that was not computed (e.g. ``rmse`` for a classifier).

    Examples
    --------
    >>> check_thresholds({"roc_auc": 0.7}, {"roc_auc": 0.75}).summary.split(". Next:")[0]
    'failed: roc_auc 0.7 is below the minimum 0.75'
    """
    rows, problems, config_error = [], [], False
    for name, limit in thresholds.items():
        info = METRICS.get(name)
        if info is None:
            config_error = True
            problems.append(f"unknown metric '{name}' (known metrics: {', '.join(sorted(METRICS))})")
            rows.append({"metric": name, "value": None, "op": None, "threshold": limit, "passed": False})
            continue
        op = ">=" if info.higher_is_better else "<="
        value = metrics.get(name)
        if value is None:
            config_error = True
            problems.append(f"'{name}' was not computed for this model (computed: {', '.join(sorted(metrics))})")
            passed = False
        else:
            passed = value >= limit if info.higher_is_better else value <= limit
            if math.isnan(value):
                problems.append(f"{name} is NaN (undefined on this holdout, e.g. a single class)")
            elif not passed:
                side = "below the minimum" if info.higher_is_better else "above the maximum"
                problems.append(f"{name} {_fmt(value)} is {side} {_fmt(limit)}")
        rows.append({"metric": name, "value": value, "op": op, "threshold": limit, "passed": bool(passed)})

    if not problems:
        checked = ", ".join(f"{r['metric']} {_fmt(r['value'])} {r['op']} {_fmt(r['threshold'])}" for r in rows)
        return GateResult(True, rows, f"passed: {checked}" if rows else "passed: no thresholds configured")
    advice = (
        "fix evaluation.thresholds in the project spec"
        if config_error
        else "improve the model or its data, or revise evaluation.thresholds in the project spec"
    )
    return GateResult(False, rows, f"failed: {'; '.join(problems)}. Next: {advice}")


def check_not_worse(result: BootstrapResult | None, tolerance: float, rule: str = "non_inferior") -> GateResult:
    """Decide the ``not_worse_than_champion`` gate from the CI of the challenger's improvement over the champion.

    Parameters
    ----------
    result : BootstrapResult or None
        None when there is no champion yet: the gate passes and promotion rests on thresholds alone.
    tolerance : float
        ``evaluation.tolerance``: the loss, in metric units, the challenger may have (``non_inferior`` only).
    rule : {"non_inferior", "superior"}, default "non_inferior"
        ``evaluation.promotion_rule``. ``non_inferior`` passes when the improvement CI lies at or above
        ``-tolerance`` *and* is not entirely below zero (a loss the CI shows is real is never tolerated);
        ``superior`` passes only when the improvement CI lies entirely above zero.

    Returns
    -------
    GateResult
        One row (``rule``, and ``bound``: which end of the improvement CI decided, compared with ``threshold``).
        A NaN CI never passes.

    Examples
    --------
    >>> r = BootstrapResult("roc_auc", 0.80, 0.8015, -0.0015, -0.0029, -0.00005, 1000, True)
    >>> check_not_worse(r, 0.01).summary.split(": ")[:2]
    ['failed (rule non_inferior)', 'challenger significantly worse than champion']
    """
    if rule not in PROMOTION_RULES:
        raise ValueError(f"unknown promotion rule '{rule}'; choose one of {list(PROMOTION_RULES)}")
    if result is None:
        return GateResult(True, [], NO_CHAMPION)
    low, high = result.improvement_ci
    undefined = math.isnan(low) or math.isnan(high)
    if rule == "superior":
        passed = not undefined and result.superior()
        bound, value, op, threshold = "ci_low", low, ">", 0.0
    else:
        within = result.not_worse(tolerance)
        worse = not undefined and result.significantly_worse()
        passed = not undefined and within and not worse
        bound, value, op, threshold = ("ci_high", high, ">=", 0.0) if worse else ("ci_low", low, ">=", -tolerance)
    row = {
        "metric": result.metric,
        "rule": rule,
        "bound": bound,
        "value": value,
        "op": op,
        "threshold": threshold,
        "passed": passed,
        "challenger": result.challenger,
        "champion": result.champion,
        "improvement": result.improvement,
        "improvement_ci": (low, high),
    }
    level = f"{100 * (1 - result.alpha):g}%"
    detail = (
        f"{result.metric} improvement {result.improvement:+.4g} (challenger {_fmt(result.challenger)} vs "
        f"champion {_fmt(result.champion)}), {level} CI [{low:+.4g}, {high:+.4g}]"
    )
    head = f"{'passed' if passed else 'failed'} (rule {rule})"
    if undefined:
        summary = (
            f"{head}: the bootstrap CI of {result.metric} is undefined (no resample could compute it). "
            "Next: evaluate on a larger holdout that contains both classes"
        )
    elif rule == "superior" and passed:
        summary = f"{head}: challenger better than champion: {detail} lies entirely above zero"
    elif rule == "superior":
        summary = (
            f"{head}: challenger not shown better than champion: {detail} does not lie entirely above zero. "
            "Next: keep the champion and train a better candidate (or evaluate on a larger holdout), or set "
            "evaluation.promotion_rule: non_inferior to accept a challenger that is merely not worse"
        )
    elif passed:
        summary = (
            f"{head}: challenger not worse than champion: {detail} >= -{_fmt(tolerance)} "
            "and not entirely below zero"
        )
    elif worse:
        summary = (
            f"{head}: challenger significantly worse than champion: {detail} lies entirely below zero. "
            "Next: keep the champion and investigate the challenger's training data and settings; "
            "evaluation.tolerance does not excuse a loss the CI shows is real"
        )
    else:
        summary = (
            f"{head}: challenger may be worse than champion: {detail} reaches below -{_fmt(tolerance)}. "
            "Next: keep the champion and investigate the training data, or raise evaluation.tolerance "
            "if this loss is acceptable"
        )
    return GateResult(passed, [row], summary)


def check_slice_gap(gap: float, bound: float | None, row: dict | None = None) -> GateResult:
    """Pass when the largest absolute slice gap is at most ``bound`` (None = no bound configured).

    Parameters
    ----------
    gap : float
        From ``max_slice_gap``.
    bound : float or None
        ``evaluation.max_slice_gap``.
    row : dict, optional
        The slice row from ``max_slice_gap``, used to name the slice in the summary.
    """
    if bound is None:
        return GateResult(True, [], "passed: no max_slice_gap bound configured")
    passed = bool(gap <= bound)
    where = f" ({row['column']}={row['segment']}, n={row['count']}, {row['metric']})" if row else ""
    result_row = {"metric": "max_slice_gap", "value": gap, "op": "<=", "threshold": bound, "passed": passed}
    if passed:
        return GateResult(True, [result_row], f"passed: largest slice gap {_fmt(gap)}{where} <= {_fmt(bound)}")
    return GateResult(
        False,
        [result_row],
        f"failed: largest slice gap {_fmt(gap)}{where} exceeds the bound {_fmt(bound)}. "
        "Next: inspect that segment's data and errors, or relax evaluation.max_slice_gap in the project spec",
    )
