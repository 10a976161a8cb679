"""Per-feature drift statistics against a stored reference profile, and the calibrated drift decision.

Why a calibrated decision: a p-value alone answers "is there *any* difference?", and with windows of 100k+ rows
every trivial difference is significant, so tools that alarm on p < 0.05 per feature alarm on almost every large
window (and, with 25 features tested at 5% each, on ~72% of no-drift windows of any size). Here a feature drifts only
when both

1. its shift is significant after Benjamini-Hochberg control of the false discovery rate across the window's
   features (which, when no feature drifts, also bounds the chance of any alarm by `alpha`), and
2. its effect size exceeds `effect_size_floor`, a size that is material whatever the window size.

Effect sizes share a scale, "about how many reference standard deviations the distribution moved", and both
have their expected no-drift value removed, so that they estimate the shift itself rather than shift + noise:

* numeric: the Wasserstein-1 distance on the binned distributions (reported as ``distance``, divided by the
  reference std) minus its expected no-drift value sqrt(2 / (pi n_eff)) * integral sqrt(F(1 - F)) dx, divided by
  the reference std. A location shift of d standard deviations gives d (minus the small noise term), a scale
  change ~|s - 1| * E|z|. Without the correction a no-drift 1k-row window of a normal column scores ~0.04 on
  average and up to ~0.12 in one window out of a few hundred, too close to a floor of 0.1; with it the no-drift
  score is ~0 with a spread of ~0.015 at 1k rows (shrinking like 1/sqrt(rows)). The default floor 0.1 (a 0.1-sd
  shift, half of Cohen's "small" d = 0.2) is thus >5 noise-widths above chance from 1k rows on, while a 0.25-sd
  mean shift clears it at any window size. Below ~1k rows the floor no longer dominates the noise and the
  false-alarm rate reverts to the `alpha` of the significance gate.
* categorical: the Jensen-Shannon distance (base 2, in [0, 1]; reported as ``distance``) with its expected
  no-drift value removed: JSD ~ chi2 / (8 ln2 n_eff), so (cells - 1) / (8 ln2 n_eff) is subtracted from the
  divergence before the square root (as in bias-corrected Cramér's V). Without it the plug-in distance of a
  40-category column is ~0.08 on a no-drift 1k-row window, at the floor. The correction is first order: with
  many categories of a few expected rows each (40 Zipf-distributed categories at 1k rows) the corrected value
  still reaches ~0.09 in one window of 200, so give such columns windows of >= ~25 rows per category or pool
  rare values (``max_categories``). A JS distance of 0.1 corresponds to ~10% of the mass moving between
  categories (Cohen's w ~0.24): the categorical floor is the stricter one.

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
PSI_BINS = 10
PSI_EPSILON = 1e-4
COLUMNS = ["feature", "kind", "statistic", "p_value", "p_adjusted", "psi", "effect_size", "drifted",
           "distance", "n_reference", "n_current", "null_fraction_reference", "null_fraction_current"]


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


def categorical_statistics(ref: CategoricalProfile, cur: CategoricalCounts) -> dict[str, float]:
    """Two-sample chi-squared (no continuity correction), PSI, JS distance and its bias-corrected effect size."""
    from scipy import stats

    keep = (ref.counts + cur.counts) > 0
    table = np.vstack([ref.counts[keep], cur.counts[keep]]).astype("float64")
    cells = table.shape[1]
    n, m = ref.n, cur.n
    if cells < 2:
        chi2, p_value = 0.0, 1.0
    else:
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
        chi2 = float(np.sum((table - expected) ** 2 / expected))
        p_value = float(stats.chi2.sf(chi2, cells - 1))
    jsd = js_distance(table[0], table[1])
    noise = (cells - 1) / (8 * np.log(2) * (n * m / (n + m)))
    return {
        "statistic": chi2, "p_value": p_value, "distance": jsd, "psi": psi(table[0], table[1]),
        "effect_size": float(np.sqrt(max(0.0, jsd * jsd - noise))),
    }


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

    ``table`` has one row per feature, in profile order, with columns ``COLUMNS``: ``statistic`` (KS D for
    numerics, the chi-squared statistic for categoricals), ``p_value``, ``p_adjusted`` (Benjamini-Hochberg),
    ``psi`` (10 reference-decile bins, or the categories), ``effect_size`` (compared with the floor, see the
    module docstring), ``drifted``, ``distance`` (the uncorrected W1 / std or JS distance), row counts and the
    null fractions (reported, not tested: a column going null is the data checks' business). A feature whose
    window values are all null has NaN statistics and is not drifted.
    """

    table: pd.DataFrame
    drifted: bool
    drifted_features: list[str]
    n_current: int
    alpha: float
    effect_size_floor: float


def drift_from_counts(
    profile: ReferenceProfile,
    window: WindowCounts,
    alpha: float = DEFAULT_ALPHA,
    effect_size_floor: float = DEFAULT_EFFECT_SIZE_FLOOR,
) -> DriftReport:
    """Drift of an already-binned window (see :meth:`ReferenceProfile.summarise`); counts of windows add up."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if effect_size_floor < 0:
        raise ValueError(f"effect_size_floor must be >= 0, got {effect_size_floor}")
    rows = []
    for name, ref in profile.features.items():
        cur = window[name]
        row = {"feature": name, "kind": ref.kind, "n_reference": ref.n, "n_current": cur.n,
               "null_fraction_reference": ref.null_fraction,
               "null_fraction_current": cur.n_null / (cur.n + cur.n_null) if cur.n + cur.n_null else np.nan}
        if cur.n == 0:  # every value null: nothing to test; the null fraction column shows it
            row.update(statistic=np.nan, p_value=np.nan, psi=np.nan, effect_size=np.nan, distance=np.nan)
        elif isinstance(ref, NumericProfile):
            row.update(numeric_statistics(ref, cur))
        else:
            row.update(categorical_statistics(ref, cur))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["p_adjusted"] = benjamini_hochberg(table["p_value"].to_numpy(dtype="float64"))
    table["drifted"] = (table["p_adjusted"] <= alpha) & (table["effect_size"] > effect_size_floor)
    table = table[COLUMNS]
    drifted_features = table.loc[table["drifted"], "feature"].tolist()
    n_current = max((c.n + c.n_null for c in window.values()), default=0)
    return DriftReport(table=table, drifted=bool(drifted_features), drifted_features=drifted_features,
                       n_current=n_current, alpha=alpha, effect_size_floor=effect_size_floor)


def compute_drift(
    profile: ReferenceProfile,
    current_df: pd.DataFrame,
    alpha: float = DEFAULT_ALPHA,
    effect_size_floor: float = DEFAULT_EFFECT_SIZE_FLOOR,
) -> DriftReport:
    """Compare a window of rows with the reference profile, in time linear in the window.

    Parameters
    ----------
    profile : ReferenceProfile
        The stored reference; the training data is not needed.
    current_df : DataFrame
        The window; it must hold every profiled column. Nulls and non-finite numbers are left out of the tests
        and reported as ``null_fraction_current``.
    alpha : float
        Benjamini-Hochberg false discovery rate across the window's features.
    effect_size_floor : float
        Minimum effect size for a significant feature to count as drifted (see the module docstring).

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
    return drift_from_counts(profile, profile.summarise(current_df), alpha, effect_size_floor)
