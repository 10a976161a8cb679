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


@pytest.mark.parametrize(
    "higher,ci,tolerance,passed",
    [
        (True, (-0.005, 0.02), 0.01, True),
        (True, (-0.03, -0.01), 0.01, False),
        (False, (-0.02, 0.005), 0.01, True),  # loss may rise by at most 0.005
        (False, (0.01, 0.03), 0.01, False),  # loss rises by at least 0.01 ... up to 0.03
    ],
)
def test_check_not_worse(higher, ci, tolerance, passed):
    diff = sum(ci) / 2
    result = BootstrapResult("metric_x", 0.5 + diff, 0.5, diff, ci[0], ci[1], 1000, higher)
    gate = check_not_worse(result, tolerance)
    assert gate.passed is passed
    (row,) = gate.rows
    assert row["value"] == result.improvement_ci[0] and row["threshold"] == -tolerance
    assert row["passed"] is passed
    assert "metric_x" in gate.summary and "95% CI" in gate.summary
    assert ("Next:" in gate.summary) is not passed


def test_check_not_worse_nan_ci_fails():
    result = BootstrapResult("roc_auc", math.nan, math.nan, math.nan, math.nan, math.nan, 50, True)
    gate = check_not_worse(result, 0.5)
    assert not gate.passed and "undefined" in gate.summary


def test_check_not_worse_end_to_end_for_a_worse_regressor():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 3, 2000)
    good, bad = y + rng.normal(0, 1, 2000), y + rng.normal(0, 1.5, 2000)
    assert check_not_worse(paired_bootstrap_diff(y, good, bad, "rmse", n_boot=300), 0.01).passed
    gate = check_not_worse(paired_bootstrap_diff(y, bad, good, "rmse", n_boot=300), 0.01)
    assert not gate.passed and "challenger may be worse" in gate.summary


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
