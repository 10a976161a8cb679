"""Drift statistics on hand-made cases, Benjamini-Hochberg, the effect-size floor, the report and persistence."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from mlops_assets.monitoring.drift import (
    COLUMNS, DEFAULT_EFFECT_SIZE_FLOOR, DEFAULT_MOVED_MASS_FLOOR, benjamini_hochberg, categorical_statistics, compute_drift, js_distance,
    numeric_statistics, psi,
)
from mlops_assets.monitoring.persistence import DEFAULT_PERSISTENCE, Persistence
from mlops_assets.monitoring.profile import ReferenceProfile
from mlops_assets.spec import MonitoringSpec


def _numeric(ref_values, cur_values):
    feat = ReferenceProfile.from_frame(pd.DataFrame({"x": ref_values}), numeric=["x"]).features["x"]
    return numeric_statistics(feat, feat.bin(pd.Series(cur_values)))


def test_defaults_follow_the_monitoring_spec():
    assert DEFAULT_EFFECT_SIZE_FLOOR == MonitoringSpec().effect_size_floor
    assert DEFAULT_MOVED_MASS_FLOOR == MonitoringSpec().moved_mass_floor
    assert DEFAULT_PERSISTENCE == MonitoringSpec().persistence


def test_ks_and_wasserstein_by_hand_on_a_binary_column():
    # reference half 0 / half 1, window one quarter 0: CDF gap 0.25 = KS; W1 = 0.25 moved by 1; std 0.5
    row = _numeric([0.0] * 50 + [1.0] * 50, [0.0] * 25 + [1.0] * 75)
    assert row["statistic"] == pytest.approx(0.25)
    assert row["distance"] == pytest.approx(0.5)
    n_eff = 100 * 100 / 200
    noise = np.sqrt(2 / (np.pi * n_eff)) * 0.5  # integral of sqrt(F(1 - F)) = sqrt(0.25) over a width of 1
    assert row["effect_size"] == pytest.approx((0.25 - noise) / 0.5)
    assert row["p_value"] == pytest.approx(special.kolmogorov(np.sqrt(n_eff) * 0.25))


def test_a_location_shift_of_d_standard_deviations_has_effect_size_about_d():
    rng = np.random.default_rng(0)
    row = _numeric(rng.normal(size=200_000), rng.normal(0.25, 1, size=100_000))
    assert row["effect_size"] == pytest.approx(0.25, abs=0.01)
    assert row["statistic"] == pytest.approx(2 * stats.norm.cdf(0.125) - 1, abs=0.01)


def test_psi_by_hand_and_with_empty_cells():
    assert psi(np.array([50, 50]), np.array([25, 75])) == pytest.approx(
        (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5), rel=1e-3
    )
    assert psi(np.array([10, 10, 0]), np.array([10, 10, 0])) == 0.0
    value = psi(np.array([100, 0]), np.array([50, 50]))  # an empty reference cell stays finite
    assert np.isfinite(value) and value > 1


def test_psi_of_a_numeric_column_uses_ten_reference_deciles():
    ref = np.arange(1000.0)
    row = _numeric(ref, ref[:500])  # the window covers the lower five deciles only
    expected = psi(np.full(10, 100), np.array([100] * 5 + [0] * 5))
    assert row["psi"] == pytest.approx(expected, rel=1e-6)


def test_categorical_moved_mass_chi2_and_unseen_categories():
    ref = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 300 + ["c"] * 200})
    feat = ReferenceProfile.from_frame(ref, categorical=["c"]).features["c"]
    cur = pd.Series(["a"] * 300 + ["b"] * 300 + ["c"] * 350 + ["new"] * 50)
    row = categorical_statistics(feat, feat.bin(cur))
    # chi-squared over the reference's categories; the unseen category is tested on its own (off the support)
    chi2, p_main, _, _ = stats.chi2_contingency(np.array([[500, 300, 200], [300, 300, 350]]), correction=False)
    assert row["statistic"] == pytest.approx(chi2)
    p_off = stats.binom.sf(50 - 1, 1 + 50, 1000 / 2000)  # Good-Turing: no singleton, so 1 unseen reference row
    assert row["p_value"] == pytest.approx(min(1.0, 2 * min(p_main, p_off)))
    # the moved mass: half the L1 gap, the unseen 5% included in full
    assert row["distance"] == pytest.approx(0.5 * (0.2 + 0.0 + 0.15 + 0.05))
    p = np.array([0.5, 0.3, 0.2])
    noise = 0.5 * np.sqrt(2 / (np.pi * 500)) * np.sum(np.sqrt(p * (1 - p)))
    assert row["effect_size"] == pytest.approx(0.2 - noise - 1 / 1000)
    assert row["off_support"] == pytest.approx(0.05) and "'new' 50" in row["off_support_values"]
    assert js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_benjamini_hochberg_against_a_hand_computation():
    # sorted: 0.005 (rank 1), 0.01 (2), 0.03 (3), 0.04 (4); p * 4 / rank = 0.02, 0.02, 0.04, 0.04
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.005])
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, np.nan, 0.02])
    # step-up monotonicity: a later small ratio lowers earlier ones; capped at 1
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.02, 0.025, 0.9, 0.95])), [0.05, 0.05, 0.95, 0.95])
    rng = np.random.default_rng(1)
    q = rng.uniform(size=30) ** 3
    np.testing.assert_allclose(benjamini_hochberg(q), stats.false_discovery_control(q))
    assert np.isnan(benjamini_hochberg(np.array([np.nan]))).all()


def test_the_floor_suppresses_a_tiny_but_significant_shift_at_one_million_rows():
    rng = np.random.default_rng(2)
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": rng.normal(size=1_000_000)}), numeric=["x"])
    window = pd.DataFrame({"x": rng.normal(0.03, 1, size=1_000_000)})
    report = compute_drift(profile, window)
    row = report.table.iloc[0]
    assert row["p_adjusted"] < 1e-20 and row["effect_size"] < 0.05
    assert not report.drifted and report.drifted_features == []
    assert compute_drift(profile, window, effect_size_floor=0.0).drifted  # it is the floor that holds it back


def test_report_shape_and_project_decision():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"a": rng.normal(size=20_000), "b": rng.normal(size=20_000),
                        "c": rng.choice(["x", "y"], size=20_000)})
    profile = ReferenceProfile.from_frame(ref, numeric=["a", "b"], categorical=["c"])
    cur = pd.DataFrame({"a": rng.normal(size=5_000), "b": rng.normal(1.0, 1, size=5_000),
                        "c": rng.choice(["x", "y"], size=5_000)})
    report = compute_drift(profile, cur, alpha=0.01)
    assert list(report.table.columns) == COLUMNS
    assert report.table["kind"].tolist() == ["numeric", "numeric", "categorical"]
    assert report.drifted and report.drifted_features == ["b"] and report.n_current == 5_000
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.drifted = False


def test_nulls_where_the_reference_had_none_are_moved_mass():
    rng = np.random.default_rng(4)
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": rng.normal(size=10_000), "y": rng.normal(size=10_000)}),
                                          numeric=["x", "y"])
    cur = pd.DataFrame({"x": rng.normal(size=4_000), "y": np.nan})
    cur.loc[:999, "x"] = np.nan
    table = compute_drift(profile, cur).table.set_index("feature")
    assert table.loc["x", "null_fraction_current"] == pytest.approx(0.25) and table.loc["x", "n_current"] == 3_000
    assert table.loc["x", "effect_size"] < 0.05  # the values themselves did not move
    assert table.loc["x", "drifted"] and table.loc["x", "off_support"] == pytest.approx(0.25)
    assert "1000 null (none in the reference)" in table.loc["x", "reason"]
    assert table.loc["y", "drifted"] and table.loc["y", "null_fraction_current"] == 1.0


def test_nulls_at_the_reference_rate_are_not_drift():
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(size=10_000), rng.normal(size=4_000)
    ref[:2_000], cur[:800] = np.nan, np.nan  # 20% in both
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": ref}), numeric=["x"])
    row = compute_drift(profile, pd.DataFrame({"x": cur})).table.iloc[0]
    assert not row["drifted"] and row["off_support"] < 0.01 and row["n_current"] == 3_200  # a few beyond the range
    assert row["reason"].startswith("not significant")


def test_values_between_discrete_reference_values_are_moved_mass():
    profile = ReferenceProfile.from_frame(pd.DataFrame({"k": np.tile([0, 1, 2, 3, 4], 2_000)}), numeric=["k"])
    assert profile.features["k"].discrete
    cur = np.tile([0.0, 1, 2, 3, 4], 400)
    cur[:200] = 2.5  # 10% between two reference values, inside the range
    row = compute_drift(profile, pd.DataFrame({"k": cur})).table.iloc[0]
    assert row["measure"] == "TVD" and row["drifted"], row["reason"]
    assert row["off_support"] == pytest.approx(0.1) and "200 between reference values" in row["off_support_values"]
    assert row["effect_size"] > MonitoringSpec().moved_mass_floor


def test_values_beyond_the_reference_maximum_are_seen_by_ks():
    row = _numeric([0.0] * 50 + [1.0] * 50, [2.0] * 100)  # every window value is above the reference range
    assert row["statistic"] == pytest.approx(1.0) and row["distance"] == pytest.approx(1.5 / 0.5)


def test_a_constant_reference_column_that_moves_has_infinite_effect():
    row = _numeric(np.ones(100), np.concatenate([np.ones(50), np.full(50, 2.0)]))
    assert row["effect_size"] == np.inf and row["p_value"] < 1e-6


@pytest.mark.parametrize("window, message", [
    (pd.DataFrame({"x": pd.Series([], dtype=float)}), "empty window"),
    (pd.DataFrame({"other": [1.0]}), "lacks profiled columns"),
])
def test_bad_windows_raise(window, message):
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), numeric=["x"])
    with pytest.raises(ValueError, match=message):
        compute_drift(profile, window)


# ---------------------------------------------------------------- persistence
@pytest.mark.parametrize("k, m, windows, expected", [
    (2, 3, [True, False, True], [False, False, True]),
    (2, 3, [True, False, False, True], [False, False, False, False]),
    (2, 3, [True, True, False, False], [False, True, True, False]),
    (1, 1, [False, True, False], [False, True, False]),
    (3, 3, [True, True, True, False], [False, False, True, False]),
])
def test_k_of_m_persistence(k, m, windows, expected):
    state = Persistence(k, m)
    assert [state.observe(w) for w in windows] == expected


def test_persistence_survives_a_cursor_and_a_changed_spec():
    state = Persistence(2, 3)
    for w in (True, False, True, True):
        state.observe(w)
    back = Persistence.from_cursor(state.to_cursor())
    assert (back.k, back.m, list(back.history), back.drifting) == (2, 3, [False, True, True], True)
    narrower = Persistence.from_cursor(state.to_cursor(), k=1, m=2)
    assert list(narrower.history) == [True, True]
    assert Persistence.from_cursor(None).history == Persistence().history
    with pytest.raises(ValueError, match="1 <= k <= m"):
        Persistence(3, 2)
