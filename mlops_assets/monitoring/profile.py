"""Reference profiles: a compact, JSON-serialisable summary of a training set, and the binning of new windows.

A profile is computed once from the reference (training) data. Checking a window of new rows never reloads the
reference: each numeric column is binned against the stored quantile edges with ``np.searchsorted`` and
``np.bincount`` (cost linear in the window), each categorical column is counted against the stored categories.
Window summaries (:class:`NumericCounts`, :class:`CategoricalCounts`) are additive, so windows computed on
partitions can be merged by adding counts.

Bin layout of a numeric feature with edges ``e_0 < e_1 < ... < e_K`` (``e_0`` = reference min, ``e_K`` = max):
``K + 3`` bins, ``0: x < e_0`` (empty in the reference), ``j in 1..K: e_{j-1} <= x < e_j``,
``K + 1: x == e_K`` and ``K + 2: x > e_K`` (empty in the reference). For a continuous column the edges are
reference quantiles at ``n_bins`` equal-mass steps, refined by ``TAIL_STEPS`` geometrically shrinking steps into
each tail (without them the last bin of a heavy-tailed column spans most of its range and the within-bin
interpolation overstates the Wasserstein distance by ~20%). When a column has at most ``n_bins + 1`` distinct
values (counts, flags, labels) the edges are those values, so each bin holds exactly one reference value and the
binned distribution *is* the empirical one (``discrete=True``); a window value of such a column that lies between
two reference values is counted in the bin of the value below it and, apart, in ``NumericCounts.off_grid``, so the
drift effect can count it as mass off the reference support.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

PROFILE_VERSION = 1
OTHER = "__other__"
DEFAULT_N_BINS = 500
DEFAULT_MAX_CATEGORIES = 100
TAIL_STEPS = 10  # extra quantile edges per tail, at masses 1/(2K), 1/(4K), ... 1/(2^10 K)


def _quantile_levels(n_bins: int) -> np.ndarray:
    """K equal-mass steps plus geometrically finer ones into both tails, so a heavy tail's last bins stay narrow."""
    tail = 2.0 ** -np.arange(1, TAIL_STEPS + 1) / n_bins
    return np.unique(np.concatenate([np.linspace(0.0, 1.0, n_bins + 1), tail, 1.0 - tail]))


class _BinLookup:
    """Fast ``np.searchsorted(edges, x, side="right")`` for many x: a uniform-grid lookup table.

    A binary search over ~500 edges costs ~50 ns a value (mispredicted branches). Here each value is mapped to one
    of `cells` uniform cells over the central 99.8% of the reference. A cell holding at most one edge (widened by
    a margin that covers rounding) stores the number of edges below it, and the bin is that number plus one
    comparison with the next edge; only values in cells holding several edges, or outside the grid, fall back to
    the binary search: 5-10x faster on smooth or rounded columns, never much slower.
    """

    def __init__(self, edges: np.ndarray, counts: np.ndarray, cells: int = 1 << 15) -> None:
        self.edges = edges
        cum = np.cumsum(counts) / counts.sum()
        lo_i = min(int(np.searchsorted(cum, 0.001)), edges.size - 1)
        hi_i = max(int(np.searchsorted(cum, 0.999)) - 1, lo_i)
        self.lo, width = edges[lo_i], (edges[hi_i] - edges[lo_i]) / cells
        self.enabled = edges.size > 64 and width > 0
        if not self.enabled:
            return
        self.scale = 1.0 / width
        self.next_edge = np.append(edges, np.inf)
        grid = self.lo + width * np.arange(cells + 1)
        # covers the rounding of the cell computation and of the grid itself (large offsets, e.g. 1e9 + noise)
        margin = 1e-6 * width + 8 * np.spacing(max(abs(edges[lo_i]), abs(edges[hi_i])))
        below = np.searchsorted(edges, grid[:-1] - margin, side="right")  # edges left of the widened cell
        inside = np.searchsorted(edges, grid[1:] + margin, side="left") - below
        table = np.where(inside <= 1, below, -1)
        self.table = np.concatenate(([-1], table, [-1])).astype(np.int32)  # guard cells 0 and cells + 1

    def index(self, values: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return np.searchsorted(self.edges, values, side="right")
        cell = (values - self.lo) * self.scale + 1.0
        np.clip(cell, 0.0, self.table.size - 1, out=cell)
        idx = self.table[cell.astype(np.int32)]
        unresolved = idx < 0
        idx[unresolved] = 0
        idx += values >= self.next_edge[idx]
        where = np.flatnonzero(unresolved)
        idx[where] = np.searchsorted(self.edges, values[where], side="right")
        return idx


def _finite_values(series: pd.Series) -> tuple[np.ndarray, int]:
    """Float values of `series` without nulls; non-finite values (NaN, +-inf) count as nulls."""
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(values)
    n_null = int(values.size - np.count_nonzero(finite))
    return (values if n_null == 0 else values[finite]), n_null


@dataclass(frozen=True)
class NumericCounts:
    """A window's numeric column binned against a profile's edges (see the module docstring for the layout).

    ``below`` and ``above`` are the exact sums of ``e_0 - x`` over ``x < e_0`` and of ``x - e_K`` over
    ``x > e_K``: they let the Wasserstein distance account for values outside the reference range exactly.
    """

    counts: np.ndarray
    n_null: int = 0
    below: float = 0.0
    above: float = 0.0
    off_grid: np.ndarray | None = None  # discrete profiles: per bin, values between two reference values

    @property
    def n(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class CategoricalCounts:
    """A window's categorical column counted per reference category, the last count being ``__other__``."""

    counts: np.ndarray
    n_null: int = 0
    other_values: tuple[tuple[str, int], ...] = ()  # the most frequent values counted as ``__other__``

    @property
    def n(self) -> int:
        return int(self.counts.sum())


class _BinnedColumn:
    """What both profile kinds derive from their stored ``counts`` and ``n_null``."""

    counts: np.ndarray
    n_null: int

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def null_fraction(self) -> float:
        return self.n_null / (self.n + self.n_null)


@dataclass(frozen=True)
class NumericProfile(_BinnedColumn):
    """Reference distribution of one numeric column: quantile edges, bin counts and moments."""

    name: str
    edges: np.ndarray
    counts: np.ndarray
    discrete: bool
    n_null: int
    mean: float
    std: float
    min: float
    max: float

    kind = "numeric"

    @classmethod
    def from_series(cls, series: pd.Series, n_bins: int = DEFAULT_N_BINS) -> "NumericProfile":
        values, n_null = _finite_values(series)
        if values.size == 0:
            raise ValueError(f"numeric feature '{series.name}' has no finite values in the reference data")
        xs = np.sort(values)
        n_distinct = 1 + int(np.count_nonzero(np.diff(xs)))
        discrete = n_distinct <= n_bins + 1
        if discrete:
            edges = np.unique(xs)
        else:
            edges = np.unique(np.quantile(xs, _quantile_levels(n_bins)))
        # counts of the K + 2 bins straight from the sorted values: O(K log n), no second pass over the data
        below_edge = np.searchsorted(xs, edges, side="left")
        counts = np.diff(np.concatenate(([0], below_edge, [xs.size, xs.size])))
        return cls(
            name=str(series.name), edges=edges, counts=counts.astype(np.int64), discrete=discrete,
            n_null=n_null, mean=float(xs.mean()), std=float(xs.std()), min=float(xs[0]), max=float(xs[-1]),
        )

    @cached_property
    def _lookup(self) -> _BinLookup:
        return _BinLookup(self.edges, self.counts)

    def bin(self, series: pd.Series) -> NumericCounts:
        """Bin a window's column against the stored edges (linear in the window, no reference data)."""
        values, n_null = _finite_values(series)
        idx = self._lookup.index(values)  # = np.searchsorted(edges, values, side="right"); x >= e_K in bin K + 1
        counts = np.bincount(idx, minlength=self.edges.size + 2)
        lo, hi = self.edges[0], self.edges[-1]
        below = float(np.sum(lo - values[values < lo]))
        beyond = values[values > hi]
        counts[-2] -= beyond.size
        counts[-1] = beyond.size
        above = float(np.sum(beyond - hi))
        off_grid = None
        if self.discrete:  # a value in range but on no reference value sits in the bin of the value below it
            inside = np.flatnonzero((idx > 0) & (values <= hi))
            between = inside[values[inside] != self.edges[idx[inside] - 1]]
            off_grid = np.bincount(idx[between], minlength=counts.size).astype(np.int64)
        return NumericCounts(counts=counts.astype(np.int64), n_null=n_null, below=below, above=above,
                             off_grid=off_grid)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "name": self.name, "edges": self.edges.tolist(), "counts": self.counts.tolist(),
            "discrete": self.discrete, "n": self.n, "n_null": self.n_null, "null_fraction": self.null_fraction,
            "mean": self.mean, "std": self.std, "min": self.min, "max": self.max,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "NumericProfile":
        return cls(
            name=d["name"], edges=np.asarray(d["edges"], dtype="float64"),
            counts=np.asarray(d["counts"], dtype=np.int64), discrete=bool(d["discrete"]), n_null=int(d["n_null"]),
            mean=float(d["mean"]), std=float(d["std"]), min=float(d["min"]), max=float(d["max"]),
        )


MAX_OTHER_VALUES = 5


def _category_counts(
    series: pd.Series, categories: Sequence[str]
) -> tuple[np.ndarray, int, tuple[tuple[str, int], ...]]:
    """Counts per category (values compared as strings) plus ``__other__`` last, the null count, and the most
    frequent values counted as ``__other__`` (value, count)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    valid = codes >= 0
    per_unique = np.bincount(codes[valid], minlength=len(uniques))
    names = pd.Index(uniques).astype(str)
    lut = pd.Index(list(categories), dtype=object).get_indexer(names)
    other = np.flatnonzero(lut < 0)
    lut[other] = len(categories)
    counts = np.bincount(lut, weights=per_unique, minlength=len(categories) + 1).astype(np.int64)
    top = other[np.argsort(-per_unique[other], kind="stable")[:MAX_OTHER_VALUES]]
    others = tuple((str(names[i]), int(per_unique[i])) for i in top)
    return counts, int(codes.size - np.count_nonzero(valid)), others


@dataclass(frozen=True)
class CategoricalProfile(_BinnedColumn):
    """Reference frequencies of one categorical column; values outside `categories` count as ``__other__``."""

    name: str
    categories: tuple[str, ...]
    counts: np.ndarray
    n_null: int

    kind = "categorical"

    @classmethod
    def from_series(cls, series: pd.Series, max_categories: int = DEFAULT_MAX_CATEGORIES) -> "CategoricalProfile":
        """Keep the `max_categories` most frequent values; the rest of the reference goes to ``__other__``."""
        freq = series.dropna().astype(str).value_counts()
        if freq.empty:
            raise ValueError(f"categorical feature '{series.name}' has no non-null values in the reference data")
        categories = tuple(str(c) for c in freq.index[:max_categories] if c != OTHER)
        counts, n_null, _ = _category_counts(series, categories)
        return cls(name=str(series.name), categories=categories, counts=counts, n_null=n_null)

    def bin(self, series: pd.Series) -> CategoricalCounts:
        counts, n_null, others = _category_counts(series, self.categories)
        return CategoricalCounts(counts=counts, n_null=n_null, other_values=others)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "categories": list(self.categories),
                "counts": self.counts.tolist(), "n": self.n, "n_null": self.n_null,
                "null_fraction": self.null_fraction}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "CategoricalProfile":
        return cls(name=d["name"], categories=tuple(d["categories"]),
                   counts=np.asarray(d["counts"], dtype=np.int64), n_null=int(d["n_null"]))


FeatureProfile = NumericProfile | CategoricalProfile
WindowCounts = dict[str, NumericCounts | CategoricalCounts]


@dataclass(frozen=True)
class ReferenceProfile:
    """Per-feature reference profiles, in feature order; its size depends on the bins, never on the rows.

    Examples
    --------
    >>> df = pd.DataFrame({"x": np.arange(1000.0), "c": ["a", "b"] * 500})
    >>> profile = ReferenceProfile.from_frame(df, numeric=["x"], categorical=["c"], n_bins=100)
    >>> ReferenceProfile.from_dict(profile.to_dict()).features["c"].categories
    ('a', 'b')
    """

    features: dict[str, FeatureProfile] = field(default_factory=dict)

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        n_bins: int = DEFAULT_N_BINS,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
    ) -> "ReferenceProfile":
        """Profile `numeric` and `categorical` columns of the reference frame.

        Parameters
        ----------
        df : DataFrame
            The reference (training) rows.
        numeric, categorical : sequence of str
            Columns to profile; a prediction score is just another numeric column.
        n_bins : int
            Quantile bins per numeric column. 500 keeps the binned KS statistic within about 1/500 of the exact
            one and the binned Wasserstein distance within a fraction of a percent, at ~8 KB of JSON a column.
        max_categories : int
            Most frequent categories kept per categorical column; rarer ones are pooled into ``__other__``.
        """
        if n_bins < 2:
            raise ValueError(f"n_bins must be at least 2, got {n_bins}")
        overlap = set(numeric) & set(categorical)
        if overlap:
            raise ValueError(f"columns {sorted(overlap)} are listed as both numeric and categorical")
        missing = [c for c in (*numeric, *categorical) if c not in df.columns]
        if missing:
            raise ValueError(f"reference frame lacks columns {missing}")
        if df.empty:
            raise ValueError("cannot profile an empty reference frame")
        features: dict[str, FeatureProfile] = {c: NumericProfile.from_series(df[c], n_bins) for c in numeric}
        features.update({c: CategoricalProfile.from_series(df[c], max_categories) for c in categorical})
        return cls(features=features)

    def summarise(self, df: pd.DataFrame) -> WindowCounts:
        """Bin every profiled column of a window; raise ValueError on an empty window or missing columns."""
        if len(df) == 0:
            raise ValueError("cannot compute drift on an empty window (0 rows)")
        missing = [c for c in self.features if c not in df.columns]
        if missing:
            raise ValueError(f"window lacks profiled columns {missing}")
        return {name: feat.bin(df[name]) for name, feat in self.features.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (floats round-trip exactly through ``json``)."""
        return {"version": PROFILE_VERSION, "features": [f.to_dict() for f in self.features.values()]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ReferenceProfile":
        if d.get("version") != PROFILE_VERSION:
            raise ValueError(f"unsupported reference profile version {d.get('version')!r} (expected {PROFILE_VERSION}): "
                             "re-materialize the project's reference_profile asset to rebuild it")
        kinds = {"numeric": NumericProfile, "categorical": CategoricalProfile}
        return cls(features={f["name"]: kinds[f["kind"]].from_dict(f) for f in d["features"]})
