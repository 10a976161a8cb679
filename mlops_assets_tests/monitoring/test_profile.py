"""Reference profiles: serialisation, binned statistics against scipy on raw data, size independent of rows."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlops_assets.monitoring.drift import ks_pvalue, numeric_statistics, wasserstein_binned
from mlops_assets.monitoring.profile import OTHER, TAIL_STEPS, ReferenceProfile


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(size=n),
        "skewed": rng.lognormal(0, 1, size=n),
        "count": rng.poisson(3, size=n),
        "c": rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]),
    })


def _profile(df: pd.DataFrame, **kw) -> ReferenceProfile:
    return ReferenceProfile.from_frame(df, numeric=["x", "skewed", "count"], categorical=["c"], **kw)


def test_roundtrip_through_json_preserves_every_field():
    profile = _profile(_frame(5_000))
    back = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert list(back.features) == list(profile.features)
    for name, feat in profile.features.items():
        other = back.features[name]
        assert type(other) is type(feat)
        for key, value in feat.to_dict().items():
            assert other.to_dict()[key] == value, (name, key)
        np.testing.assert_array_equal(other.counts, feat.counts)


def test_from_dict_rejects_an_unknown_version():
    with pytest.raises(ValueError, match="version"):
        ReferenceProfile.from_dict({"version": 99, "features": []})


@pytest.mark.parametrize("column, shift", [("x", 0.0), ("x", 0.3), ("skewed", 0.0), ("skewed", 0.5)])
def test_binned_ks_and_wasserstein_agree_with_scipy_on_raw_continuous_data(column, shift):
    ref, cur = _frame(20_000, seed=1), _frame(20_000, seed=2)
    cur[column] += shift * ref[column].std()
    feat = _profile(ref, n_bins=500).features[column]
    counts = feat.bin(cur[column])
    ours = numeric_statistics(feat, counts)
    exact = stats.ks_2samp(ref[column], cur[column], method="asymp")
    # binned KS only looks at the bin edges: never above the exact statistic, at most ~one bin's mass below it
    assert exact.statistic - 3 / 500 <= ours["statistic"] <= exact.statistic + 1e-12
    w_exact = stats.wasserstein_distance(ref[column], cur[column])
    assert wasserstein_binned(feat, counts) == pytest.approx(w_exact, rel=0.02, abs=1e-3 * feat.std)


def test_binned_statistics_are_exact_on_discrete_data():
    ref, cur = _frame(20_000, seed=3), _frame(10_000, seed=4)
    cur["count"] = np.random.default_rng(5).poisson(3.3, size=len(cur))
    feat = _profile(ref).features["count"]
    assert feat.discrete
    counts = feat.bin(cur["count"])
    exact = stats.ks_2samp(ref["count"], cur["count"], method="asymp")
    assert numeric_statistics(feat, counts)["statistic"] == pytest.approx(exact.statistic, abs=1e-12)
    assert wasserstein_binned(feat, counts) == pytest.approx(stats.wasserstein_distance(ref["count"], cur["count"]))


@pytest.mark.parametrize("make", [
    lambda rng: rng.normal(size=50_000),
    lambda rng: rng.lognormal(0, 2, size=50_000),  # heavy tail: many grid cells hold several edges
    lambda rng: np.round(rng.normal(size=50_000), 2),  # 'discrete' with hundreds of values, hit exactly
    lambda rng: np.concatenate([np.zeros(25_000), rng.exponential(size=25_000)]),  # a point mass
    lambda rng: 1e9 + rng.normal(0, 1e-3, size=50_000),  # a spread near the float resolution of the offset
])
def test_fast_binning_equals_a_binary_search(make):
    rng = np.random.default_rng(11)
    feat = ReferenceProfile.from_frame(pd.DataFrame({"x": make(rng)}), numeric=["x"]).features["x"]
    window = np.concatenate([make(rng) * 1.3 - 0.1, rng.normal(0, 100, 1_000), feat.edges,
                             np.nextafter(feat.edges, np.inf), np.nextafter(feat.edges, -np.inf)])
    expected = np.bincount(np.searchsorted(feat.edges, window, side="right"), minlength=feat.edges.size + 2)
    expected[-2:] = [np.sum(window == feat.edges[-1]), np.sum(window > feat.edges[-1])]
    np.testing.assert_array_equal(feat.bin(pd.Series(window)).counts, expected)


def test_values_outside_the_reference_range_count_exactly_in_wasserstein():
    ref = pd.DataFrame({"x": np.linspace(0.0, 1.0, 1001)})
    cur = pd.DataFrame({"x": np.concatenate([np.linspace(0.0, 1.0, 1001), [-10.0, 20.0]])})
    feat = ReferenceProfile.from_frame(ref, numeric=["x"], n_bins=100).features["x"]
    counts = feat.bin(cur["x"])
    assert (counts.counts[0], counts.below, counts.above) == (1, 10.0, 19.0)
    assert wasserstein_binned(feat, counts) == pytest.approx(stats.wasserstein_distance(ref["x"], cur["x"]), rel=0.01)


@pytest.mark.parametrize("d, n, m", [(0.01, 20_000, 20_000), (0.03, 5_000, 1_000_000), (0.05, 1_000, 200_000)])
def test_ks_pvalue_is_the_asymptotic_one_with_the_effective_size(d, n, m):
    # scipy's asymp method uses the finite-n one-sample distribution at round(n m / (n + m)); ours its limit
    expected = stats.kstwo.sf(d, np.round(n * m / (n + m)))
    assert ks_pvalue(d, n, m) == pytest.approx(expected, rel=0.05)


def _stored_numbers(d: dict) -> int:
    return sum(len(v) if isinstance(v, list) else 1 for f in d["features"] for v in f.values())


def test_profile_size_does_not_depend_on_the_number_of_rows():
    small, large = _profile(_frame(10_000)), _profile(_frame(1_000_000))
    for name in ("x", "skewed"):
        assert small.features[name].edges.size == large.features[name].edges.size == 501 + 2 * TAIL_STEPS
    assert large.features["count"].edges.size <= 30  # a discrete column stores its distinct values
    assert _stored_numbers(large.to_dict()) - _stored_numbers(small.to_dict()) <= 10  # a few more counts
    assert _stored_numbers(large.to_dict()) < 2 * 2 * (502 + 2 * TAIL_STEPS) + 100
    assert large.features["x"].n == 1_000_000


def test_window_counts_add_up_over_partitions():
    profile = _profile(_frame(5_000))
    window = _frame(3_000, seed=9)
    whole = profile.summarise(window)
    first, second = profile.summarise(window[:1000]), profile.summarise(window[1000:])
    for name in profile.features:
        np.testing.assert_array_equal(whole[name].counts, first[name].counts + second[name].counts)


def test_categories_unseen_in_the_reference_go_to_other_and_nulls_are_counted_apart():
    profile = ReferenceProfile.from_frame(pd.DataFrame({"c": ["a"] * 6 + ["b"] * 3 + [None]}), categorical=["c"])
    feat = profile.features["c"]
    assert feat.categories == ("a", "b") and feat.null_fraction == pytest.approx(0.1)
    counts = feat.bin(pd.Series(["a", "z", "z", None, "b"], dtype="category"))
    assert counts.counts.tolist() == [1, 1, 2] and counts.n_null == 1


def test_rare_reference_categories_are_pooled_into_other():
    df = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"]})
    feat = ReferenceProfile.from_frame(df, categorical=["c"], max_categories=2).features["c"]
    assert feat.categories == ("a", "b") and feat.counts.tolist() == [5, 4, 4]
    assert OTHER not in feat.categories


def test_non_finite_values_count_as_nulls():
    df = pd.DataFrame({"x": [1.0, 2.0, np.nan, np.inf, 3.0]})
    feat = ReferenceProfile.from_frame(df, numeric=["x"]).features["x"]
    assert feat.n == 3 and feat.null_fraction == pytest.approx(0.4) and feat.max == 3.0


@pytest.mark.parametrize("kwargs, message", [
    ({"numeric": ["x"], "categorical": ["x"]}, "both numeric and categorical"),
    ({"numeric": ["missing"]}, "lacks columns"),
    ({"numeric": ["x"], "n_bins": 1}, "n_bins"),
])
def test_from_frame_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReferenceProfile.from_frame(pd.DataFrame({"x": [1.0, 2.0]}), **kwargs)


def test_from_frame_rejects_an_all_null_column():
    with pytest.raises(ValueError, match="'x' has no finite values"):
        ReferenceProfile.from_frame(pd.DataFrame({"x": [np.nan, np.nan]}), numeric=["x"])
