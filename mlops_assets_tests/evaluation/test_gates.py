"""Gate decisions: thresholds, not worse than the champion, slice gap."""

import math

import numpy as np
import pandas as pd
import pytest

from mlops_assets.evaluation.bootstrap import BootstrapResult, paired_bootstrap_diff
from mlops_assets.evaluation.gates import (
    NO_CHAMPION,
    GateResult,
    check_not_worse,
    check_slice_gap,
    check_thresholds,
)
from mlops_assets.evaluation.slices import max_slice_gap, slice_metrics


@pytest.mark.parametrize(
    "metrics,thresholds,passed",
    [
        ({"roc_auc": 0.80}, {"roc_auc": 0.75}, True),
        ({"roc_auc": 0.70}, {"roc_auc": 0.75}, False),
        ({"roc_auc": 0.75}, {"roc_auc": 0.75}, True),  # a minimum is inclusive
        ({"rmse": 1.0}, {"rmse": 2.0}, True),  # lower is better: a maximum
        ({"rmse": 3.0}, {"rmse": 2.0}, False),
        ({"log_loss": 0.5}, {"log_loss": 0.5}, True),
        ({"r2": -0.1}, {"r2": 0.0}, False),
        ({"roc_auc": 0.9, "ece": 0.2}, {"roc_auc": 0.8, "ece": 0.1}, False),
        ({"roc_auc": float("nan")}, {"roc_auc": 0.5}, False),
        ({"roc_auc": 0.9}, {}, True),
    ],
)
def test_check_thresholds(metrics, thresholds, passed):
    result = check_thresholds(metrics, thresholds)
    assert result.passed is passed
    assert [r["metric"] for r in result.rows] == list(thresholds)
    assert result.summary.startswith("passed" if passed else "failed")
    assert ("Next:" in result.summary) is not passed


def test_threshold_rows_and_summary_say_what_failed():
    result = check_thresholds({"roc_auc": 0.9, "brier": 0.3}, {"roc_auc": 0.8, "brier": 0.2})
    assert result.rows == [
        {"metric": "roc_auc", "value": 0.9, "op": ">=", "threshold": 0.8, "passed": True},
        {"metric": "brier", "value": 0.3, "op": "<=", "threshold": 0.2, "passed": False},
    ]
    assert "brier 0.3 is above the maximum 0.2" in result.summary
    assert "roc_auc" not in result.summary.split("Next:")[0]
    assert "\n" not in result.summary


def test_unknown_threshold_metric_fails_and_lists_known_metrics():
    result = check_thresholds({"roc_auc": 0.9}, {"auc": 0.8})
    assert not result.passed
    assert "unknown metric 'auc'" in result.summary and "roc_auc" in result.summary and "rmse" in result.summary
    assert "fix evaluation.thresholds" in result.summary


def test_threshold_on_metric_not_computed_fails():
    result = check_thresholds({"roc_auc": 0.9}, {"rmse": 1.0})
    assert not result.passed and "'rmse' was not computed" in result.summary


def test_nan_metric_is_explained():
    result = check_thresholds({"pr_auc": float("nan")}, {"pr_auc": 0.1})
    assert not result.passed and "pr_auc is NaN" in result.summary


def test_no_champion_passes():
    result = check_not_worse(None, 0.01)
    assert result == GateResult(True, [], NO_CHAMPION)
    assert result.summary == "no champion: gated on thresholds alone"


def comparison(higher: bool, improvement_ci: tuple[float, float], metric: str = "metric_x") -> BootstrapResult:
    """A BootstrapResult whose *improvement* CI is ``improvement_ci`` (diff re-signed for a lower-is-better metric)."""
    low, high = improvement_ci
    ci_low, ci_high = (low, high) if higher else (-high, -low)
    diff = (ci_low + ci_high) / 2
    return BootstrapResult(metric, 0.5 + diff, 0.5, diff, ci_low, ci_high, 1000, higher)


@pytest.mark.parametrize("higher", [True, False], ids=["higher_is_better", "lower_is_better"])
@pytest.mark.parametrize(
    "improvement_ci,tolerance,non_inferior,superior,reason",
    [
        # the reported case: a real (if small) loss, inside the tolerance
        ((-0.0029, -0.00005), 0.01, False, False, "significantly worse"),
        ((-0.03, -0.01), 0.01, False, False, "significantly worse"),  # also beyond the tolerance
        ((-0.005, 0.02), 0.01, True, False, None),  # straddles zero within the tolerance
        ((-0.02, 0.005), 0.01, False, False, "may be worse"),  # straddles zero, reaches below -tolerance
        ((0.0, 0.0), 0.0, True, False, None),  # identical models: not worse, not better
        ((-0.01, 0.0), 0.01, True, False, None),  # bounds are inclusive for non_inferior
        ((0.002, 0.03), 0.01, True, True, None),  # entirely above zero
    ],
)
def test_check_not_worse_by_rule(higher, improvement_ci, tolerance, non_inferior, superior, reason):
    result = comparison(higher, improvement_ci)
    assert result.improvement_ci == pytest.approx(improvement_ci)
    for rule, passed in (("non_inferior", non_inferior), ("superior", superior)):
        gate = check_not_worse(result, tolerance, rule)
        assert gate.passed is passed, (rule, gate.summary)
        (row,) = gate.rows
        assert row["rule"] == rule and row["passed"] is passed
        assert row["improvement_ci"] == result.improvement_ci
        assert row["value"] == result.improvement_ci[0 if row["bound"] == "ci_low" else 1]
        assert gate.summary.startswith(f"{'passed' if passed else 'failed'} (rule {rule}): ")
        assert "metric_x improvement" in gate.summary and "95% CI" in gate.summary
        assert ("Next:" in gate.summary) is not passed
        if not passed:  # `reason` is why non_inferior fails; superior always says the CI is not above zero
            expected = reason if rule == "non_inferior" else "not shown better"
            assert f"challenger {expected} than champion" in gate.summary


def test_significantly_worse_names_the_rule_bound_and_figures():
    result = BootstrapResult("roc_auc", 0.8, 0.8015, -0.0015, -0.0029, -0.00005, 1000, True)
    assert result.significantly_worse() and result.not_worse(0.01) and not result.superior()
    gate = check_not_worse(result, 0.01)
    assert not gate.passed
    assert gate.summary.startswith(
        "failed (rule non_inferior): challenger significantly worse than champion: roc_auc improvement -0.0015 "
    )
    assert "95% CI [-0.0029, -5e-05] lies entirely below zero. Next: keep the champion" in gate.summary
    assert "raise evaluation.tolerance" not in gate.summary  # a wider tolerance must not be the advice
    (row,) = gate.rows
    assert (row["bound"], row["value"], row["op"], row["threshold"]) == ("ci_high", -0.00005, ">=", 0.0)


def test_superior_fails_a_straddling_ci_and_advises_the_rule():
    gate = check_not_worse(comparison(True, (-0.004, 0.006), "roc_auc"), 0.01, "superior")
    assert not gate.passed
    assert "does not lie entirely above zero" in gate.summary and "evaluation.promotion_rule: non_inferior" in gate.summary
    (row,) = gate.rows
    assert (row["bound"], row["value"], row["op"], row["threshold"]) == ("ci_low", -0.004, ">", 0.0)


def test_rmse_sign_is_handled_for_both_rules():
    """rmse: a challenger with a *higher* loss has diff > 0 but a negative improvement."""
    worse = BootstrapResult("rmse", 1.02, 1.00, 0.02, 0.01, 0.03, 1000, False)  # loss up by 0.01..0.03
    better = BootstrapResult("rmse", 0.98, 1.00, -0.02, -0.03, -0.01, 1000, False)  # loss down by 0.01..0.03
    for rule in ("non_inferior", "superior"):
        assert not check_not_worse(worse, 1.0, rule).passed
        assert check_not_worse(better, 0.0, rule).passed
    assert "significantly worse" in check_not_worse(worse, 1.0).summary
    assert "improvement -0.02" in check_not_worse(worse, 1.0).summary


@pytest.mark.parametrize("rule", ["non_inferior", "superior"])
def test_check_not_worse_nan_ci_fails(rule):
    result = BootstrapResult("roc_auc", math.nan, math.nan, math.nan, math.nan, math.nan, 50, True)
    gate = check_not_worse(result, 0.5, rule)
    assert not gate.passed and gate.rows[0]["passed"] is False
    assert gate.summary.startswith(f"failed (rule {rule}): ") and "undefined" in gate.summary


@pytest.mark.parametrize("rule", ["non_inferior", "superior"])
def test_no_champion_passes_under_either_rule(rule):
    assert check_not_worse(None, 0.01, rule) == GateResult(True, [], NO_CHAMPION)


def test_unknown_rule_is_rejected():
    with pytest.raises(ValueError, match="unknown promotion rule 'better'.*non_inferior.*superior"):
        check_not_worse(None, 0.01, "better")


def test_check_not_worse_end_to_end_for_a_worse_regressor():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 3, 2000)
    good, bad = y + rng.normal(0, 1, 2000), y + rng.normal(0, 1.5, 2000)
    assert check_not_worse(paired_bootstrap_diff(y, good, bad, "rmse", n_boot=300), 0.01).passed
    assert check_not_worse(paired_bootstrap_diff(y, good, bad, "rmse", n_boot=300), 0.01, "superior").passed
    for tolerance in (0.01, 10.0):  # clearly worse: no tolerance lets it through
        gate = check_not_worse(paired_bootstrap_diff(y, bad, good, "rmse", n_boot=300), tolerance)
        assert not gate.passed and "challenger significantly worse" in gate.summary


@pytest.mark.parametrize("gap,bound,passed", [(0.02, 0.05, True), (0.05, 0.05, True), (0.08, 0.05, False)])
def test_check_slice_gap(gap, bound, passed):
    gate = check_slice_gap(gap, bound)
    assert gate.passed is passed
    assert gate.rows == [{"metric": "max_slice_gap", "value": gap, "op": "<=", "threshold": bound, "passed": passed}]


def test_slice_gap_without_bound_or_with_nan():
    assert check_slice_gap(0.9, None).passed
    assert not check_slice_gap(math.nan, 0.1).passed


def test_slice_gap_summary_names_the_slice():
    frame = pd.DataFrame({"region": ["n"] * 3 + ["s"] * 3, "y": [1.0] * 6, "p": [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]})
    row, gap = max_slice_gap(slice_metrics(frame, ["region"], "y", "p", "mae", min_count=3))
    gate = check_slice_gap(gap, 0.1, row)
    assert not gate.passed
    assert "region=n, n=3, mae" in gate.summary and "exceeds the bound 0.1" in gate.summary
    assert "evaluation.max_slice_gap" in gate.summary
