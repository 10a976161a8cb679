"""Paired bootstrap: pairing, sign convention, determinism, the vectorised kernels and speed."""

import math

import numpy as np
import pytest

from mlops_assets.evaluation.bootstrap import BootstrapResult, paired_bootstrap_diff, resample_counts
from mlops_assets.evaluation.metrics import METRICS
from mlops_assets_tests.evaluation.helpers import SKLEARN_CLASSIFICATION, SKLEARN_REGRESSION

SKLEARN = {**SKLEARN_CLASSIFICATION, **SKLEARN_REGRESSION}


def classification(seed, n=2000, skill=0.3, noise=0.25):
    y = np.random.default_rng(seed).integers(0, 2, n)
    return y, scores(y, seed + 1000, skill, noise)


def scores(y, seed, skill=0.3, noise=0.25):
    """Probabilities whose separation of the classes grows with `skill` and shrinks with `noise`."""
    return np.clip(0.5 + skill * (y - 0.5) + np.random.default_rng(seed).normal(0, noise, len(y)), 0, 1)


def regression(seed, n=2000, noise=1.0):
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 3, n)
    return y, y + rng.normal(0, noise, n)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_weighted_kernel_equals_metric_on_explicit_resample(name):
    """Row k of the count-weighted metric is the sklearn metric on the k-th resample's rows."""
    info = METRICS[name]
    y, s = classification(1, n=300) if info.task == "classification" else regression(1, n=300)
    s = np.round(s, 2)  # ties
    rng = np.random.default_rng(2)
    indices = rng.integers(0, len(y), size=(3, len(y)))
    counts = np.stack([np.bincount(idx, minlength=len(y)) for idx in indices]).astype(float)
    got = info.weighted_fn(y.astype(float), s, counts)
    expected = [SKLEARN[name](y[idx], s[idx]) for idx in indices]
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_resample_counts_rows_sum_to_n_and_are_seeded():
    counts = resample_counts(np.random.default_rng(0), 50, 7)
    assert counts.shape == (7, 50) and (counts.sum(axis=1) == 50).all()
    np.testing.assert_array_equal(counts, resample_counts(np.random.default_rng(0), 50, 7))


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss", "accuracy", "rmse", "r2"])
def test_identical_models_give_zero_diff_and_zero_ci(metric):
    y, s = classification(3) if METRICS[metric].task == "classification" else regression(3)
    result = paired_bootstrap_diff(y, s, s.copy(), metric, n_boot=200)
    assert (result.diff, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)
    assert result.not_worse(0.0)


@pytest.mark.parametrize("metric", ["roc_auc", "pr_auc", "brier", "log_loss", "accuracy"])
def test_clearly_better_classifier_has_improvement_ci_above_zero(metric):
    y, strong = classification(4, skill=0.5)
    weak = scores(y, 5, skill=0.1)
    result = paired_bootstrap_diff(y, strong, weak, metric, n_boot=300)
    low, high = result.improvement_ci
    assert 0 < low <= result.improvement <= high
    assert result.ci_low <= result.diff <= result.ci_high


def test_rmse_sign_convention_lower_is_better():
    y, good = regression(6, noise=1.0)
    bad = y + np.random.default_rng(7).normal(0, 2.0, len(y))
    result = paired_bootstrap_diff(y, good, bad, "rmse", n_boot=300)
    assert not result.higher_is_better
    assert result.diff == pytest.approx(result.challenger - result.champion) and result.diff < 0
    assert result.ci_high < 0  # challenger's rmse is lower in every plausible world
    assert result.improvement == -result.diff > 0
    assert result.improvement_ci == (-result.ci_high, -result.ci_low)
    assert result.not_worse(0.0)

    swapped = paired_bootstrap_diff(y, bad, good, "rmse", n_boot=300)
    assert swapped.diff == pytest.approx(-result.diff) and swapped.ci_low > 0
    assert swapped.improvement < 0 and not swapped.not_worse(0.1)


@pytest.mark.parametrize("metric", ["rmse", "mae", "roc_auc"])
def test_equal_skill_different_noise_ci_straddles_zero(metric):
    if METRICS[metric].task == "regression":
        y, a = regression(8, noise=1.0)
        b = y + np.random.default_rng(9).normal(0, 1.0, len(y))
    else:
        y, a = classification(8)
        b = scores(y, 9)
    result = paired_bootstrap_diff(y, a, b, metric, n_boot=500, seed=1)
    assert result.ci_low < 0 < result.ci_high
    assert result.not_worse(result.ci_high - result.ci_low)


def test_same_seed_same_result_and_seed_matters():
    y, a = classification(10, n=500)
    b = scores(y, 11)
    first = paired_bootstrap_diff(y, a, b, "roc_auc", n_boot=200, seed=3)
    assert first == paired_bootstrap_diff(y, a, b, "roc_auc", n_boot=200, seed=3)
    other = paired_bootstrap_diff(y, a, b, "roc_auc", n_boot=200, seed=4)
    assert other.diff == first.diff and other.ci_low != first.ci_low


def test_alpha_widens_interval():
    y, a = regression(12, n=500)
    b = y + np.random.default_rng(13).normal(0, 1.1, len(y))
    narrow = paired_bootstrap_diff(y, a, b, "mae", n_boot=400, alpha=0.5)
    wide = paired_bootstrap_diff(y, a, b, "mae", n_boot=400, alpha=0.01)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high


def test_resamples_without_both_classes_are_left_out():
    y = np.array([1] + [0] * 19)  # P(no positive in a resample) = (19/20)^20 ~ 0.36
    a = np.linspace(0.9, 0.0, 20)
    b = np.linspace(0.0, 0.9, 20)
    result = paired_bootstrap_diff(y, a, b, "roc_auc", n_boot=500)
    assert 100 < result.n_undefined < 300
    assert not math.isnan(result.ci_low)


def test_single_class_holdout_gives_nan_ci_that_is_never_not_worse():
    result = paired_bootstrap_diff(np.zeros(30), np.full(30, 0.2), np.full(30, 0.3), "roc_auc", n_boot=50)
    assert result.n_undefined == 50 and math.isnan(result.ci_low) and math.isnan(result.diff)
    assert not result.not_worse(1.0)


@pytest.mark.parametrize(
    "higher,ci,tolerance,expected",
    [
        (True, (-0.02, 0.01), 0.01, False),
        (True, (-0.02, 0.01), 0.02, True),  # at -tolerance counts as not worse
        (True, (0.01, 0.03), 0.0, True),
        (False, (-0.01, 0.02), 0.01, False),  # loss may rise by 0.02: improvement CI [-0.02, 0.01]
        (False, (-0.01, 0.02), 0.02, True),
        (False, (-0.03, -0.01), 0.0, True),
    ],
)
def test_not_worse(higher, ci, tolerance, expected):
    result = BootstrapResult("m", 0.0, 0.0, 0.0, ci[0], ci[1], 100, higher)
    assert result.not_worse(tolerance) is expected


def test_not_worse_rejects_negative_tolerance():
    with pytest.raises(ValueError, match="non-negative"):
        BootstrapResult("m", 0.0, 0.0, 0.0, 0.0, 0.0, 1, True).not_worse(-0.1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"metric": "auc"}, "unknown metric"),
        ({"n_boot": 0}, "n_boot"),
        ({"alpha": 1.0}, "alpha"),
        ({"score_champion": [0.1, 0.2]}, "rows"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = {"y_true": [0, 1, 1], "score_challenger": [0.2, 0.7, 0.9], "score_champion": [0.3, 0.6, 0.4]}
    args.update({"metric": "roc_auc"} | kwargs)
    with pytest.raises(ValueError, match=match):
        paired_bootstrap_diff(**args)


@pytest.mark.parametrize("metric", ["roc_auc", "rmse"])
def test_10k_rows_1000_resamples_give_a_finite_interval_around_the_difference(metric):
    """The size the evaluation gate runs at (its speed is measured by bench/, not asserted here)."""
    if metric == "roc_auc":
        y, a = classification(14, n=10_000)
        b = scores(y, 15)
    else:
        y, a = regression(14, n=10_000)
        b = a + np.random.default_rng(15).normal(0, 0.5, len(a))
    result = paired_bootstrap_diff(y, a, b, metric, n_boot=1000)
    assert result.n_boot == 1000 and math.isfinite(result.ci_low) and math.isfinite(result.ci_high)
    assert result.ci_low <= result.diff <= result.ci_high
    assert result.diff == pytest.approx(result.challenger - result.champion)
