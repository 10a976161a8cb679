"""Dispatch a generator source to its generator (the helpers they share: ``generators.common``)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import pandas as pd

from mlops_assets.data.generators.churn import generate_churn
from mlops_assets.data.generators.common import BatchRequest
from mlops_assets.data.generators.housing import generate_housing
from mlops_assets.spec import DriftWindow, GeneratorSource

GENERATORS = {"churn": generate_churn, "housing": generate_housing}


def generate_batch(
    source: GeneratorSource,
    day: datetime.date,
    rows: int | None = None,
    seed: int | None = None,
    drift: list[DriftWindow] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Generate one day's batch for a generator source.

    Parameters
    ----------
    source : GeneratorSource
        The project's source; ``source.generator`` picks the generator.
    day : datetime.date
        The day (partition) to generate; event times fall within it.
    rows, seed, drift : optional
        Override ``source.rows_per_day``, ``source.seed`` and ``source.drift``.
    bounds : mapping, optional
        The project schema's numeric bounds (``spec.schema.bounds()``): drifted columns are clipped to them, and
        only a column with bounds can be drifted.

    Returns
    -------
    pandas.DataFrame
        The batch, with the columns of the project's schema in order.

    Examples
    --------
    >>> src = GeneratorSource(kind="generator", generator="churn", seed=1, rows_per_day=5)
    >>> generate_batch(src, datetime.date(2026, 1, 1)).shape
    (5, 16)
    """
    if source.generator not in GENERATORS:
        raise ValueError(f"unknown generator '{source.generator}'; expected one of {sorted(GENERATORS)}")
    return GENERATORS[source.generator](BatchRequest(
        day=day,
        rows=source.rows_per_day if rows is None else rows,
        seed=source.seed if seed is None else seed,
        drift=list(source.drift) if drift is None else drift,
        bounds=bounds,
    ))
