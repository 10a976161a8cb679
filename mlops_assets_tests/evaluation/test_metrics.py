"""Metrics against scikit-learn and hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from mlops_assets.evaluation.metrics import (
    METRICS,
    calibration_table,
    classification_metrics,
    compute_metrics,
    confusion,
    get_metric,
    regression_metrics,
    residual_summary,
)
from mlops_assets_tests.evaluation.helpers import SKLEARN_CLASSIFICATION, SKLEARN_REGRESSION

EDGES = np.linspace(0.0, 1.0, 11)


THRESHOLDED = {"accuracy", "precision", "recall", "f1"}


def classification_data(seed, n=500, decimals=None):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.25, n), 0, 1)
    return y, (np.round(p, decimals) if decimals is not None else p)


def regression_data(seed, n=400):
    rng = np.random.default_rng(seed)
    y = rng.normal(100.0, 20.0, n)
    return y, y + rng.normal(0, 8.0, n)


@pytest.mark.parametrize("name", sorted(SKLEARN_CLASSIFICATION))
@pytest.mark.parametrize("seed,decimals", [(0, None), (1, 1), (2, 2)])  # decimals: many tied scores
def test_classification_metrics_match_sklearn(name, seed, decimals):
    y, p = classification_data(seed, decimals=decimals)
    assert classification_metrics(y, p)[name] == pytest.approx(SKLEARN_CLASSIFICATION[name](y, p), rel=1e-10)


@pytest.mark.parametrize("name", sorted(THRESHOLDED))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_threshold_metrics_use_threshold(name, threshold):
    y, p = classification_data(3, decimals=1)  # many scores exactly at the threshold: >= counts as positive
    expected = SKLEARN_CLASSIFICATION[name](y, p, threshold)
    assert classification_metrics(y, p, threshold=threshold)[name] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", sorted(SKLEARN_REGRESSION))
@pytest.mark.parametrize("seed", [0, 1])
def test_regression_metrics_match_sklearn(name, seed):
    y, pred = regression_data(seed)
    assert regression_metrics(y, pred)[name] == pytest.approx(SKLEARN_REGRESSION[name](y, pred), rel=1e-10)


@pytest.mark.parametrize(
    "y,p,expected",
    [
        # positives 0.4 and 0.9 against negatives 0.1 and 0.6: 3 of 4 pairs ordered
        ([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], {"roc_auc": 0.75, "accuracy": 0.5, "precision": 0.5, "f1": 0.5}),
        # all four scores tie: AUC 0.5; everything predicted positive
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], {"roc_auc": 0.5, "pr_auc": 0.5, "recall": 1.0, "brier": 0.25}),
        # bins: 0.05 -> [0,.1] gap .05; 0.95 -> (.9,1] gap .05; two 0.15 -> (.1,.2] gap |.15-.5|
        ([0, 1, 1, 0], [0.05, 0.95, 0.15, 0.15], {"ece": 0.25 * 0.05 + 0.25 * 0.05 + 0.5 * 0.35}),
        # nothing predicted positive: precision and f1 are 0 by convention
        ([0, 1, 1], [0.1, 0.2, 0.3], {"precision": 0.0, "recall": 0.0, "f1": 0.0, "roc_auc": 1.0}),
        ([0, 1], [0.0, 1.0], {"log_loss": 0.0, "brier": 0.0, "ece": 0.0, "pr_auc": 1.0}),
    ],
)
def test_classification_hand_computed(y, p, expected):
    got = classification_metrics(y, p)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_regression_hand_computed():
    # residuals 0, 0, -2: mse 4/3; ss_tot 2, ss_res 4 -> r2 = -1
    assert regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(
        {"rmse": math.sqrt(4 / 3), "mae": 2 / 3, "r2": -1.0}
    )


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_gives_nan_auc_not_an_error(label):
    y = np.full(20, label)
    p = np.linspace(0.05, 0.95, 20)
    got = classification_metrics(y, p)
    assert math.isnan(got["roc_auc"]) and math.isnan(got["pr_auc"])
    assert got["log_loss"] == pytest.approx(SKLEARN_CLASSIFICATION["log_loss"](y, p))
    assert got["brier"] == pytest.approx(skm.brier_score_loss(y, p, labels=[0, 1]))


def test_constant_target_gives_nan_r2():
    got = regression_metrics([0.1] * 7, [0.1, 0.2, 0.0, 0.1, 0.3, 0.1, 0.1])
    assert math.isnan(got["r2"]) and got["mae"] > 0


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_confusion_matches_sklearn(threshold):
    y, p = classification_data(4, n=300, decimals=1)
    tn, fp, fn, tp = skm.confusion_matrix(y, p >= threshold, labels=[0, 1]).ravel()
    assert confusion(y, p, threshold) == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}


def test_confusion_counts_threshold_as_positive():
    assert confusion([0, 1, 1, 0], [0.5, 0.5, 0.2, 0.9], 0.5) == {"tn": 0, "fp": 2, "fn": 1, "tp": 1}


def test_calibration_table_matches_sklearn_including_bin_edges():
    y, p = classification_data(5, n=400, decimals=1)  # scores at 0.0, 0.1, ..., 1.0: on the bin edges
    table = calibration_table(y, p)
    assert list(table.columns) == ["bin", "mean_predicted", "fraction_positive", "count"]
    assert len(table) == 10 and table["count"].sum() == len(y)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
    filled = table[table["count"] > 0]
    np.testing.assert_allclose(filled["fraction_positive"], prob_true)
    np.testing.assert_allclose(filled["mean_predicted"], prob_pred)
    counts = [int(((p <= EDGES[k + 1]) & ((p > EDGES[k]) if k else True)).sum()) for k in range(10)]
    assert table["count"].tolist() == counts


def test_calibration_table_empty_bins_are_nan():
    table = calibration_table([0, 1], [0.05, 0.95], n_bins=5)
    assert table["count"].tolist() == [1, 0, 0, 0, 1]
    assert table["mean_predicted"].isna().tolist() == [False, True, True, True, False]


def test_residual_summary():
    y = np.array([10.0, 12.0, 9.0, 15.0, 11.0])
    pred = np.array([11.0, 12.0, 7.0, 11.0, 11.5])
    r = y - pred  # -1, 0, 2, 4, -0.5
    got = residual_summary(y, pred)
    assert got["mean"] == pytest.approx(0.9) and got["std"] == pytest.approx(np.std(r))
    assert got["max_abs"] == 4.0 and got["p50"] == 0.0
    for key, q in {"p5": 5, "p25": 25, "p75": 75, "p95": 95}.items():
        assert got[key] == pytest.approx(np.percentile(r, q))


@pytest.mark.parametrize(
    "name,task,higher",
    [
        ("roc_auc", "classification", True),
        ("pr_auc", "classification", True),
        ("f1", "classification", True),
        ("log_loss", "classification", False),
        ("brier", "classification", False),
        ("ece", "classification", False),
        ("rmse", "regression", False),
        ("mae", "regression", False),
        ("r2", "regression", True),
    ],
)
def test_registry_directions(name, task, higher):
    info = get_metric(name)
    assert (info.name, info.task, info.higher_is_better) == (name, task, higher)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_registry_fn_agrees_with_compute_metrics(name):
    info = METRICS[name]
    y, s = classification_data(6) if info.task == "classification" else regression_data(6)
    assert info.fn(y, s) == compute_metrics(info.task, y, s)[name]


def test_compute_metrics_keys_per_task():
    y, p = classification_data(7, n=50)
    assert set(compute_metrics("classification", y, p)) == {
        n for n, i in METRICS.items() if i.task == "classification"
    }
    y, pred = regression_data(7, n=50)
    assert set(compute_metrics("regression", y, pred)) == {"rmse", "mae", "r2"}


def test_unknown_metric_and_task_are_explained():
    with pytest.raises(ValueError, match="known metrics: .*roc_auc"):
        get_metric("auc")
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        compute_metrics("ranking", [1.0], [1.0])


@pytest.mark.parametrize(
    "y,p,match",
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], "must be 0/1"),
        ([0, 1], [0.1, 1.2], r"probabilities in \[0, 1\]"),
        ([0, 1], [0.1, 0.2, 0.3], "2 rows but score has 3"),
        ([0, 1], [0.1, np.nan], "finite"),
        ([], [], "empty"),
        (pd.DataFrame({"a": [0, 1]}), [0.1, 0.2], "1-D"),
    ],
)
def test_bad_classification_input_raises(y, p, match):
    with pytest.raises(ValueError, match=match):
        classification_metrics(y, p)


def test_bad_threshold_raises():
    with pytest.raises(ValueError, match="threshold"):
        classification_metrics([0, 1], [0.2, 0.8], threshold=1.5)
