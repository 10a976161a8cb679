"""The seeding, ids, timestamps and drift knobs the data generators share (numpy only).

Every generator is called as ``generate_<name>(BatchRequest(day, rows=2000, seed=0, drift=None, bounds=None))`` and
returns one day's batch, a pure function of the request:

- ``day``: the day (partition); event times fall within it and ids embed it.
- ``rows``: the number of rows (non-negative).
- ``seed``: a non-negative seed (:func:`make_rng` derives the day's stream from it).
- ``drift``: the spec's drift windows; those active on ``day`` shift inputs (:class:`Drift`) before the target is
  drawn, and ``concept`` changes the target's relationship to the same inputs.
- ``bounds``: the project schema's ``(min, max)`` per numeric column (``SchemaSpec.bounds()``): a drifted column is
  clipped to them, so drift moves a batch without making it invalid. Only a column with bounds can be drifted.

A generator owns its world (the category levels its parameters are indexed by); the column bounds have one home,
the project's schema.
"""

from __future__ import annotations

import datetime
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlops_assets.spec import DriftWindow

_MS_PER_DAY = 86_400_000


def make_rng(seed: int, day: datetime.date, *stream: int) -> np.random.Generator:
    """The random generator for one (seed, day[, stream]); raises on a negative seed."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return np.random.default_rng([seed, day.toordinal(), *stream])


@dataclass(frozen=True)
class BatchRequest:
    """What a generator is asked for (the module docstring says what each field does)."""

    day: datetime.date
    rows: int = 2000
    seed: int = 0
    drift: Sequence[DriftWindow] | None = None
    bounds: Mapping[str, tuple[float, float]] | None = None

    def __post_init__(self) -> None:
        if self.rows < 0:
            raise ValueError(f"rows must be >= 0, got {self.rows}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")

    def rng(self) -> np.random.Generator:
        """The day's random stream."""
        return make_rng(self.seed, self.day)

    def knobs(self, categories: Mapping[str, Sequence[str]]) -> "Drift":
        """The drift windows active on the day, over a generator's category levels."""
        return Drift(self.drift, self.day, self.seed, self.bounds, categories)


def make_ids(prefix: str, day: datetime.date, n: int) -> np.ndarray:
    """Ids unique within and across days, e.g. ``C20260101-000001`` (object array of str)."""
    stem = f"{prefix}{day:%Y%m%d}-"
    width = max(6, len(str(n)))
    return np.array([f"{stem}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def event_times(rng: np.random.Generator, day: datetime.date, n: int) -> np.ndarray:
    """Sorted naive ``datetime64[ns]`` timestamps (millisecond resolution) within `day`."""
    offsets = np.sort(rng.integers(0, _MS_PER_DAY, size=n))
    return (np.datetime64(day, "ns") + offsets.astype("timedelta64[ms]")).astype("datetime64[ns]")


def draw_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category code per row from per-row probabilities (an ``(n, k)`` array whose rows sum to 1)."""
    u = rng.random(len(probs))
    return (u[:, None] >= np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Overflow-free logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def calibrate_offset(logit: np.ndarray, rate: float, iterations: int = 60) -> float:
    """The shift ``d`` (by bisection) such that ``mean(sigmoid(logit + d)) == rate``."""
    if len(logit) == 0:
        return 0.0
    lo, hi = -40.0, 40.0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if sigmoid(logit + mid).mean() < rate else (lo, mid)
    return 0.5 * (lo + hi)


class Drift:
    """The drift windows active on one day, applied column by column while a generator builds a batch.

    Each numeric or category column is passed through :meth:`numeric` / :meth:`category` right after it is
    drawn, so the columns derived from it (and the label) follow the drifted values.
    """

    def __init__(
        self,
        windows: Sequence[DriftWindow] | None,
        day: datetime.date,
        seed: int,
        bounds: Mapping[str, tuple[float, float]] | None,
        categories: Mapping[str, Sequence[str]],
    ):
        self.windows = [w for w in windows or () if w.active_on(day)]
        self._seed, self._day = seed, day
        self._bounds, self._categories = dict(bounds or {}), categories
        self._drawn: set[str] = set()
        for w in self.windows:
            for col in w.covariate:
                if col not in self._bounds:
                    given = (f"not a numeric column with a min and max in the project's schema ({sorted(self._bounds)})"
                             if self._bounds else "no bounds given: pass the project's, bounds=spec.schema.bounds()")
                    raise ValueError(f"covariate drift on '{col}': {given}; a drifted column is clipped to its bounds")
            for col, mix in w.category_mix.items():
                if col not in categories:
                    raise ValueError(f"category_mix on '{col}': not a category column ({sorted(categories)})")
                unknown = set(mix) - set(categories[col])
                if unknown or any(p < 0 for p in mix.values()) or sum(mix.values()) <= 0:
                    raise ValueError(
                        f"category_mix for '{col}' must give non-negative probabilities, not all zero, "
                        f"to categories among {list(categories[col])}; got {mix}"
                    )

    @property
    def concept(self) -> float:
        """The strongest concept drift among the active windows (0 when none)."""
        return max((w.concept for w in self.windows), default=0.0)

    @property
    def label_rate(self) -> float | None:
        """The positive rate set by the last active window that sets one."""
        rates = [w.label_rate for w in self.windows if w.label_rate is not None]
        return rates[-1] if rates else None

    def numeric(self, column: str, values: np.ndarray) -> np.ndarray:
        """Shift the mean by ``mean_shift`` standard deviations, scale the spread, clip, keep ints ints."""
        self._drawn.add(column)
        for i, w in enumerate(self.windows):
            shift = w.covariate.get(column)
            if shift is None or not np.isfinite(values).any():
                continue
            lo, hi = self._bounds[column]
            as_float = values.astype(np.float64)
            mean, std = np.nanmean(as_float), np.nanstd(as_float)
            moved = np.clip(mean + shift.scale * (as_float - mean) + shift.mean_shift * std, lo, hi)
            if values.dtype.kind in "iu":  # stochastic rounding: plain rounding would bias small shifts
                moved = np.floor(moved + self._stream(column, i).random(len(moved))).astype(np.int64)
            values = moved
        return values

    def category(self, column: str, codes: np.ndarray) -> np.ndarray:
        """Resample category codes from each active window's mix for `column` (normalised)."""
        names = list(self._categories[column])
        for i, w in enumerate(self.windows):
            mix = w.category_mix.get(column)
            if mix is None:
                continue
            p = np.array([mix.get(name, 0.0) for name in names], dtype=np.float64)
            codes = self._stream(column, i).choice(len(names), size=len(codes), p=p / p.sum())
        return codes

    def check_drawn(self, generator: str) -> None:
        """Raise if an active window shifts a column the generator never passed through :meth:`numeric`."""
        missed = sorted({col for w in self.windows for col in w.covariate} - self._drawn)
        if missed:
            raise ValueError(f"covariate drift on {missed}: the {generator} generator does not draw "
                             f"{'it' if len(missed) == 1 else 'them'} as an input (its numeric inputs: "
                             f"{sorted(self._drawn)}); drift a label with label_rate or concept")

    def _stream(self, column: str, window: int) -> np.random.Generator:
        # A random stream of its own per (column, window), so drift never changes the draws of other columns.
        return make_rng(self._seed, self._day, zlib.crc32(column.encode()), window)
