"""Per-feature drift statistics against a stored reference profile, and the calibrated drift decision.

Why a calibrated decision: a p-value alone answers "is there *any* difference?", and with windows of 100k+ rows
every trivial difference is significant, so tools that alarm on p < 0.05 per feature alarm on almost every large
window (and, with 25 features tested at 5% each, on ~72% of no-drift windows of any size). Here a feature drifts only
when both

1. its shift is significant after Benjamini-Hochberg control of the false discovery rate across the window's
   features (which, when no feature drifts, also bounds the chance of any alarm by `alpha`), and
2. its effect size exceeds `effect_size_floor`, a size that is material whatever the window size.

Each column type has one effect measure with a plain meaning, its expected no-drift value removed so that it
estimates the shift itself rather than shift + noise, and its own floor in the spec:

* continuous numeric (``W1/sd``, floor ``effect_size_floor``, default 0.1): "how many reference standard
  deviations the distribution moved": the Wasserstein-1 distance on the binned distributions (reported as
  ``distance``, divided by the reference std) minus its expected no-drift value sqrt(2 / (pi n_eff)) * integral
  sqrt(F(1 - F)) dx, divided by the reference std. A location shift of d standard deviations gives d (minus the
  small noise term), a scale change ~|s - 1| * E|z|. Without the correction a no-drift 1k-row window of a normal
  column scores ~0.04 on average and up to ~0.12 in one window out of a few hundred, too close to a floor of 0.1;
  with it the no-drift score is ~0 with a spread of ~0.015 at 1k rows (shrinking like 1/sqrt(rows)). The default
  floor 0.1 (a 0.1-sd shift, half of Cohen's "small" d = 0.2) is thus >5 noise-widths above chance from 1k rows
  on, while a 0.25-sd mean shift clears it at any window size. Below ~1k rows the floor no longer dominates the
  noise and the false-alarm rate reverts to the `alpha` of the significance gate. A continuous column also drifts
  when more than ``moved_mass_floor`` of the window (beyond the ~2/n the reference's own extremes leave) lies
  outside the reference range, or is null where the reference had no nulls: W1 barely sees 5% of values just past
  the maximum.
* categorical and discrete numeric (``TVD``, floor ``moved_mass_floor``, default 0.04): "the share of the mass
  that moved", the total variation distance over the reference support (categories, or the values of a column
  with at most ``n_bins + 1`` distinct values, and nulls when the reference had some). Everything off that
  support (unseen categories, values between or beyond the discrete reference values, nulls where the reference
  had none) counts as moved in full and is listed in ``off_support_values``. The expected no-drift TVD,
  0.5 sqrt(2 / (pi n_eff)) sum sqrt(p (1 - p)), and the Good-Turing estimate of the reference's own unseen mass
  (its singletons / n) are removed. The plain JS distance of the earlier version put a 10% move between two
  categories right on its floor (0.097-0.109), so detection was a coin toss; TVD puts it at 0.10, 2.5x the
  floor, while no-drift windows of >= 10k rows stay below half of it (mlops_assets_tests/monitoring/test_calibration.py).
  The significance test is a chi-squared test over the support (cells with < 5 expected rows pooled with their
  neighbours) combined (Bonferroni) with a conditional binomial test of the off-support count.
  A numeric column whose reference values mostly occur once (a continuous column in a small reference: more than
  ``MAX_UNSEEN_FOR_TVD`` Good-Turing unseen mass) is judged as continuous instead: every new value would be
  "off the support" and the moved mass says nothing.

The binned KS test is a KS test on coarsened data: the statistic is the largest CDF gap over the bin edges, never
more than the exact one and at most about one bin's mass (1/n_bins) less, and its asymptotic p-value (Kolmogorov
limit with the effective size n_eff = n*m/(n+m), as ``scipy.stats.ks_2samp(method="asymp")`` up to its finite-n
correction) is therefore conservative, as is any KS p-value on tied (integer) data. The loss of power shows once
1/sqrt(n_eff) nears 1/n_bins (n_eff of ~100k+ for 500 bins), where any shift worth reporting is far larger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_assets.monitoring.profile import (
    CategoricalCounts, CategoricalProfile, NumericCounts, NumericProfile, ReferenceProfile, WindowCounts,
)

# scipy is imported inside the functions that use it, not at module import (start-up time).

DEFAULT_ALPHA = 0.05
DEFAULT_EFFECT_SIZE_FLOOR = 0.1  # must equal MonitoringSpec().effect_size_floor (a test checks)
DEFAULT_MOVED_MASS_FLOOR = 0.04  # must equal MonitoringSpec().moved_mass_floor (a test checks)
PSI_BINS = 10
PSI_EPSILON = 1e-4
MAX_UNSEEN_FOR_TVD = 0.02  # Good-Turing unseen mass above which a discrete-binned numeric column is judged continuous
MIN_EXPECTED = 5  # rows of the smaller sample per chi-squared cell; sparser cells are pooled with their neighbours
COLUMNS = ["feature", "kind", "measure", "effect_size", "floor", "p_value", "p_adjusted", "drifted", "reason",
           "off_support", "off_support_values", "statistic", "psi", "distance", "n_reference", "n_current",
           "null_fraction_reference", "null_fraction_current", "off_support_excess"]


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Asymptotic two-sided KS p-value, Kolmogorov limit at the effective size n*m/(n+m)."""
    from scipy import special

    return float(special.kolmogorov(np.sqrt(n * m / (n + m)) * d))


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float = PSI_EPSILON) -> float:
    """Population stability index over matching cells, proportions smoothed by `eps` so empty cells stay finite."""
    keep = (ref_counts + cur_counts) > 0
    p = ref_counts[keep] / ref_counts.sum()
    q = cur_counts[keep] / cur_counts.sum()
    p = (p + eps) / (1 + eps * p.size)
    q = (q + eps) / (1 + eps * q.size)
    return float(np.sum((q - p) * np.log(q / p)))


def _psi_groups(ref_counts: np.ndarray, n_groups: int = PSI_BINS) -> np.ndarray:
    """Map fine bins to `n_groups` coarse reference-quantile groups (the conventional 10-bin PSI)."""
    cum_before = np.cumsum(ref_counts) - ref_counts
    mid = (cum_before + ref_counts / 2) / ref_counts.sum()
    return np.minimum((mid * n_groups).astype(int), n_groups - 1)


def wasserstein_binned(ref: NumericProfile, cur: NumericCounts) -> float:
    """W1 between the binned reference and window: exact area between piecewise-linear (or step) CDFs.

    Within [e_0, e_K] both distributions are taken uniform inside each quantile bin (point masses at the left edge
    for a discrete profile); mass of the window outside the reference range is accounted exactly via the tails.
    """
    m = cur.n
    k = ref.edges.size - 1
    diff = (np.cumsum(ref.counts) / ref.n - np.cumsum(cur.counts) / m)[: k + 1]  # CDF gaps at e_0..e_K
    width = np.diff(ref.edges)
    if ref.discrete:
        inner = np.sum(np.abs(diff[1:]) * width)
    else:
        a, b = diff[:-1], diff[1:]
        same_sign = a * b >= 0
        abs_sum = np.abs(a) + np.abs(b)
        crossing = np.divide(a * a + b * b, 2 * abs_sum, out=np.zeros_like(a), where=abs_sum > 0)
        inner = np.sum(width * np.where(same_sign, abs_sum / 2, crossing))
    return float(inner + (cur.below + cur.above) / m)


def expected_null_wasserstein(ref: NumericProfile, n_eff: float) -> float:
    """Expected W1 between two no-drift samples: sqrt(2 / (pi n_eff)) * integral of sqrt(F (1 - F)) dx.

    Under no drift the CDF gap at x is approximately normal with variance F(x)(1 - F(x)) / n_eff, whose mean
    absolute value is sqrt(2/pi) times its standard deviation; F is the reference CDF.
    """
    cdf = np.cumsum(ref.counts)[: ref.edges.size] / ref.n
    at = cdf[1:] if ref.discrete else (cdf[:-1] + cdf[1:]) / 2
    spread = np.sum(np.sqrt(at * (1 - at)) * np.diff(ref.edges))
    return float(np.sqrt(2 / (np.pi * n_eff)) * spread)


def numeric_statistics(ref: NumericProfile, cur: NumericCounts) -> dict[str, float]:
    """KS statistic and p-value, 10-bin PSI, W1 / reference std (distance) and its bias-corrected effect size."""
    n, m = ref.n, cur.n
    k = ref.edges.size - 1
    gaps = np.abs(np.cumsum(ref.counts) / n - np.cumsum(cur.counts) / m)[: k + 2]  # at e_0^-..e_K^-, e_K
    d = float(gaps.max())
    groups = _psi_groups(ref.counts)
    w1 = wasserstein_binned(ref, cur)
    excess = max(0.0, w1 - expected_null_wasserstein(ref, n * m / (n + m)))
    if ref.std > 0:
        distance, effect = w1 / ref.std, excess / ref.std
    else:  # a constant reference column: any movement at all is material
        distance = effect = 0.0 if w1 == 0 else np.inf
    return {
        "statistic": d, "p_value": ks_pvalue(d, n, m), "effect_size": effect, "distance": distance,
        "psi": psi(np.bincount(groups, ref.counts, PSI_BINS), np.bincount(groups, cur.counts, PSI_BINS)),
    }


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2 (0 = identical, 1 = disjoint), of two count or probability vectors."""
    p = p / p.sum()
    q = q / q.sum()
    mix = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / mix), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / mix), 0.0).sum()
    return float(np.sqrt(max(0.0, (kl_p + kl_q) / 2)))


def expected_null_tvd(p: np.ndarray, n_eff: float) -> float:
    """Expected total variation distance of two no-drift samples with cell shares `p`: each cell's gap is about
    normal with variance p (1 - p) / n_eff, whose mean absolute value is sqrt(2/pi) times its standard deviation."""
    return float(0.5 * np.sqrt(2 / (np.pi * n_eff)) * np.sum(np.sqrt(p * (1 - p))))


def _pooled(ref: np.ndarray, cur: np.ndarray, min_expected: float = MIN_EXPECTED) -> tuple[np.ndarray, np.ndarray]:
    """Merge consecutive cells until each holds >= `min_expected` rows of the smaller sample (chi-squared validity);
    a short last group joins the one before it."""
    expected = ref / ref.sum() * min(ref.sum(), cur.sum())
    before = np.cumsum(expected) - expected
    group = (before // min_expected).astype(np.int64)
    if group.size > 1 and expected[group == group[-1]].sum() < min_expected:
        group[group == group[-1]] = group[group < group[-1]].max(initial=0)
    _, group = np.unique(group, return_inverse=True)
    return np.bincount(group, ref), np.bincount(group, cur)


def two_sample_chi2(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sample chi-squared test (no continuity correction) over the cells, sparse cells pooled first."""
    from scipy import stats

    ref, cur = _pooled(ref.astype("float64"), cur.astype("float64"))
    keep = (ref + cur) > 0
    table = np.vstack([ref[keep], cur[keep]])
    if table.shape[1] < 2 or table[1].sum() == 0:
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    return chi2, float(stats.chi2.sf(chi2, table.shape[1] - 1))


def off_support_pvalue(k: int, a: float, n: int, m: int) -> float:
    """P-value of `k` window rows off the reference support when the reference's own rate is about a / n.

    Conditional test of two Poisson rates: given the a + k rows of both, the window's share is
    Binomial(a + k, m / (n + m)) under no drift. `a` is the Good-Turing count of the reference's unseen mass (its
    values seen once; 2 for a continuous range, whose ends are the sample's extremes; at least 1).
    """
    from scipy import stats

    if k <= 0:
        return 1.0
    return float(stats.binom.sf(k - 1, int(round(a)) + k, m / (n + m)))


def _combine(p_main: float, p_off: float) -> float:
    """One p-value per feature: Bonferroni over the distribution test and the off-support test."""
    return p_main if p_off >= 1 else float(min(1.0, 2 * min(p_main, p_off)))


def mass_statistics(in_ref: np.ndarray, in_cur: np.ndarray, off_cur: int, good_turing: float) -> dict[str, float]:
    """Moved mass (total variation distance) of categorical or discrete cells, and its significance.

    `in_ref` / `in_cur` count the cells the reference holds (categories or values, and nulls when the reference has
    some); `off_cur` counts the window's rows off that support, each of which moved (ref share 0). The effect is
    the TVD minus its expected no-drift value (`expected_null_tvd` over the support, plus the Good-Turing share of
    the reference's unseen mass), floored at 0.
    """
    n, m = int(in_ref.sum()), int(in_cur.sum()) + off_cur
    p, q = in_ref / n, in_cur / m
    tvd = 0.5 * (float(np.abs(p - q).sum()) + off_cur / m)
    n_eff = n * m / (n + m)
    effect = max(0.0, tvd - expected_null_tvd(p, n_eff) - good_turing / n)
    chi2, p_main = two_sample_chi2(in_ref, in_cur) if in_cur.sum() else (0.0, 1.0)
    return {"statistic": chi2, "p_value": _combine(p_main, off_support_pvalue(off_cur, good_turing, n, m)),
            "effect_size": effect, "distance": tvd, "off_support": off_cur / m,
            "off_support_excess": max(0.0, off_cur / m - good_turing / n)}


def _with_nulls(counts: np.ndarray, n_null: int, include: bool) -> np.ndarray:
    return np.append(counts, n_null) if include else counts


def _numeric_detail(cur: NumericCounts, ref: NumericProfile, null_off: bool, grid: bool = True) -> str:
    parts = [(int(cur.counts[0]), f"below min {ref.min:.4g}"), (int(cur.counts[-1]), f"above max {ref.max:.4g}")]
    if grid and cur.off_grid is not None:
        parts.append((int(cur.off_grid.sum()), "between reference values"))
    if null_off:
        parts.append((cur.n_null, "null (none in the reference)"))
    return ", ".join(f"{k} {what}" for k, what in parts if k)


def _judged_discrete(ref: NumericProfile) -> bool:
    """Whether a numeric column's values repeat enough for the moved mass (TVD) to mean something: binned one bin
    per reference value and at most `MAX_UNSEEN_FOR_TVD` of its mass in values seen once (Good-Turing)."""
    return ref.discrete and np.count_nonzero(ref.counts == 1) / max(ref.n, 1) <= MAX_UNSEEN_FOR_TVD


def discrete_statistics(ref: NumericProfile, cur: NumericCounts) -> dict[str, float]:
    """Moved mass of a discrete column over its reference values; values off them (outside the range, between two
    values, nulls where the reference had none) count as moved. Also KS (``ks``) and PSI, reported."""
    k = ref.edges.size - 1
    off_grid = cur.off_grid if cur.off_grid is not None else np.zeros_like(cur.counts)
    exact = (cur.counts - off_grid)[1: k + 2]
    null_off = ref.n_null == 0
    off = int(cur.counts[0] + cur.counts[k + 2] + off_grid.sum() + (cur.n_null if null_off else 0))
    singletons = max(1, int(np.count_nonzero(ref.counts == 1)))
    out = mass_statistics(_with_nulls(ref.counts[1: k + 2], ref.n_null, not null_off),
                          _with_nulls(exact, cur.n_null, not null_off), off, singletons)
    groups = _psi_groups(ref.counts)
    out["psi"] = psi(np.bincount(groups, ref.counts, PSI_BINS), np.bincount(groups, cur.counts, PSI_BINS))
    out["off_support_values"] = _numeric_detail(cur, ref, null_off)
    return out


def categorical_statistics(ref: CategoricalProfile, cur: CategoricalCounts) -> dict[str, float]:
    """Moved mass (TVD) over the reference categories, the chi-squared test, PSI and the JS distance (``jsd``).

    ``__other__`` is part of the support when the reference pooled rare categories into it, else every window
    value counted there is unseen (moved mass, listed); so are nulls where the reference had none.
    """
    other_off, null_off = ref.counts[-1] == 0, ref.n_null == 0
    in_ref = _with_nulls(ref.counts[:-1] if other_off else ref.counts, ref.n_null, not null_off)
    in_cur = _with_nulls(cur.counts[:-1] if other_off else cur.counts, cur.n_null, not null_off)
    off = int((cur.counts[-1] if other_off else 0) + (cur.n_null if null_off else 0))
    singletons = max(1, int(np.count_nonzero(ref.counts[:-1] == 1)))
    out = mass_statistics(in_ref, in_cur, off, singletons)
    keep = (ref.counts + cur.counts) > 0
    out["psi"] = psi(ref.counts[keep], cur.counts[keep]) if cur.n else np.nan
    parts = []
    if cur.counts[-1] and cur.other_values:
        label = "unseen" if other_off else "other"
        parts.append(f"{label}: " + ", ".join(f"{v!r} {c}" for v, c in cur.other_values))
    if null_off and cur.n_null:
        parts.append(f"{cur.n_null} null (none in the reference)")
    out["off_support_values"] = "; ".join(parts)
    return out


def continuous_statistics(ref: NumericProfile, cur: NumericCounts) -> dict[str, float]:
    """`numeric_statistics` plus the window's share outside the reference range (and nulls where it had none)."""
    null_off = ref.n_null == 0
    off = int(cur.counts[0] + cur.counts[-1] + (cur.n_null if null_off else 0))
    n, m = ref.n + ref.n_null, cur.n + cur.n_null
    out = numeric_statistics(ref, cur) if cur.n else dict.fromkeys(("statistic", "p_value", "effect_size",
                                                                   "distance", "psi"), np.nan)
    p_off = off_support_pvalue(off, 2, n, m)
    out["p_value"] = p_off if np.isnan(out["p_value"]) else _combine(out["p_value"], p_off)
    out.update(off_support=off / m, off_support_excess=max(0.0, off / m - 2 / n),
               off_support_values=_numeric_detail(cur, ref, null_off, grid=False))
    return out


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1); NaNs pass through untested."""
    p = np.asarray(p_values, dtype="float64")
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    if tested.size == 0:
        return out
    order = tested[np.argsort(p[tested], kind="stable")]
    ranked = p[order] * tested.size / np.arange(1, tested.size + 1)
    out[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return out


@dataclass(frozen=True, eq=False)
class DriftReport:
    """The outcome of one window: the per-feature table and the project-level decision.

    ``table`` has one row per feature, in profile order, with columns ``COLUMNS``: ``measure`` (``W1/sd`` for a
    continuous column, ``TVD`` for a categorical or discrete one), ``effect_size`` (that measure with its expected
    no-drift value removed) and ``floor`` (the floor it is compared with), ``p_value`` and ``p_adjusted``
    (Benjamini-Hochberg), ``drifted`` and ``reason`` (why, in words), ``off_support`` (share of the window off
    the reference support: unseen categories, values outside the reference range or between discrete reference
    values, nulls where the reference had none) and ``off_support_values`` (which), ``statistic`` (KS D for a
    continuous column, chi-squared otherwise), ``psi`` (10 reference-decile bins, or the categories),
    ``distance`` (the uncorrected W1 / std or TVD), row counts and null fractions. A feature whose window has no
    values at all has NaN statistics and is not drifted.
    """

    table: pd.DataFrame
    drifted: bool
    drifted_features: list[str]
    n_current: int
    alpha: float
    effect_size_floor: float
    moved_mass_floor: float = DEFAULT_MOVED_MASS_FLOOR


def _reason(row: dict, alpha: float, mass_floor: float) -> str:
    if np.isnan(row["p_adjusted"]):
        return "no values in the window"
    what = f"{row['measure']} {row['effect_size']:.3f}"
    if row["p_adjusted"] > alpha:
        return f"not significant (p_adj {row['p_adjusted']:.2g} > {alpha:g}); {what}"
    if row["effect_size"] > row["floor"]:
        return f"{what} > floor {row['floor']:g}"
    if row["kind"] == "numeric" and row["measure"] == "W1/sd" and row["off_support_excess"] > mass_floor:
        return f"{row['off_support']:.1%} off the reference support ({row['off_support_values']}) > floor {mass_floor:g}"
    return f"{what} <= floor {row['floor']:g}: too small to matter"


def drift_from_counts(
    profile: ReferenceProfile,
    window: WindowCounts,
    alpha: float = DEFAULT_ALPHA,
    effect_size_floor: float = DEFAULT_EFFECT_SIZE_FLOOR,
    moved_mass_floor: float = DEFAULT_MOVED_MASS_FLOOR,
) -> DriftReport:
    """Drift of an already-binned window (see :meth:`ReferenceProfile.summarise`); counts of windows add up."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if effect_size_floor < 0:
        raise ValueError(f"effect_size_floor must be >= 0, got {effect_size_floor}")
    if not 0 <= moved_mass_floor < 1:
        raise ValueError(f"moved_mass_floor must be in [0, 1), got {moved_mass_floor}")
    rows = []
    for name, ref in profile.features.items():
        cur = window[name]
        continuous = isinstance(ref, NumericProfile) and not _judged_discrete(ref)
        row = {"feature": name, "kind": ref.kind, "measure": "W1/sd" if continuous else "TVD",
               "floor": effect_size_floor if continuous else moved_mass_floor,
               "n_reference": ref.n, "n_current": cur.n, "null_fraction_reference": ref.null_fraction,
               "null_fraction_current": cur.n_null / (cur.n + cur.n_null) if cur.n + cur.n_null else np.nan}
        if cur.n + cur.n_null == 0:
            row.update(statistic=np.nan, p_value=np.nan, psi=np.nan, effect_size=np.nan, distance=np.nan,
                       off_support=np.nan, off_support_excess=np.nan, off_support_values="")
        elif continuous:
            row.update(continuous_statistics(ref, cur))
        elif isinstance(ref, NumericProfile):
            row.update(discrete_statistics(ref, cur))
        else:
            row.update(categorical_statistics(ref, cur))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["p_adjusted"] = benjamini_hochberg(table["p_value"].to_numpy(dtype="float64"))
    effect = table["effect_size"].to_numpy(dtype="float64")
    off = np.where(table["measure"] == "W1/sd", table["off_support_excess"].to_numpy(dtype="float64"), np.nan)
    material = (np.nan_to_num(effect, nan=-1.0) > table["floor"].to_numpy()) | (np.nan_to_num(off, nan=-1.0) >
                                                                                 moved_mass_floor)
    table["drifted"] = (table["p_adjusted"].to_numpy() <= alpha) & material
    table["reason"] = [_reason(r, alpha, moved_mass_floor) for r in table.to_dict("records")]
    table = table[COLUMNS]
    drifted_features = table.loc[table["drifted"], "feature"].tolist()
    n_current = max((c.n + c.n_null for c in window.values()), default=0)
    return DriftReport(table=table, drifted=bool(drifted_features), drifted_features=drifted_features,
                       n_current=n_current, alpha=alpha, effect_size_floor=effect_size_floor,
                       moved_mass_floor=moved_mass_floor)


def compute_drift(
    profile: ReferenceProfile,
    current_df: pd.DataFrame,
    alpha: float = DEFAULT_ALPHA,
    effect_size_floor: float = DEFAULT_EFFECT_SIZE_FLOOR,
    moved_mass_floor: float = DEFAULT_MOVED_MASS_FLOOR,
) -> DriftReport:
    """Compare a window of rows with the reference profile, in time linear in the window.

    Parameters
    ----------
    profile : ReferenceProfile
        The stored reference; the training data is not needed.
    current_df : DataFrame
        The window; it must hold every profiled column. Nulls and non-finite numbers are reported as
        ``null_fraction_current``; where the reference had none they count as mass off its support.
    alpha : float
        Benjamini-Hochberg false discovery rate across the window's features.
    effect_size_floor : float
        Minimum W1 / std of a significant continuous feature to count as drifted (see the module docstring).
    moved_mass_floor : float
        Minimum share of the mass that moved (TVD) of a significant categorical or discrete feature, and minimum
        share of a continuous feature's window outside the reference range, to count as drifted.

    Returns
    -------
    DriftReport
        ``drifted`` is True when any feature drifted.

    Raises
    ------
    ValueError
        On an empty window or a window missing profiled columns.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> profile = ReferenceProfile.from_frame(pd.DataFrame({"x": rng.normal(size=10_000)}), numeric=["x"])
    >>> compute_drift(profile, pd.DataFrame({"x": rng.normal(0.5, 1, size=5_000)})).drifted_features
    ['x']
    """
    return drift_from_counts(profile, profile.summarise(current_df), alpha, effect_size_floor, moved_mass_floor)
