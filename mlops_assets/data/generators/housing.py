"""Synthetic house-listing batches with a sale price: realistic, seeded per (seed, day), with drift knobs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_assets.data.generators.common import BatchRequest, event_times, make_ids

CATEGORIES = {
    "neighborhood": ("downtown", "riverside", "hillcrest", "old_town", "suburbs", "lakeside"),
    "condition": ("poor", "fair", "good", "excellent"),
}

# Per neighborhood (in CATEGORIES order): share of listings, typical distance, build year, size, lot/size ratio,
# garage share, and price per sqft. The alternate prices (concept drift) reshuffle the neighborhood premiums.
_SHARE = np.array([0.12, 0.15, 0.14, 0.11, 0.32, 0.16])
_DISTANCE_KM = np.array([1.8, 5.0, 8.0, 3.0, 18.0, 12.0])
_YEAR_MEAN, _YEAR_SD = np.array([1968, 1985, 1978, 1925, 1998, 1992]), np.array([25, 20, 18, 25, 15, 18])
_SQFT_MEDIAN = np.array([1100.0, 1600.0, 2300.0, 1450.0, 2000.0, 2200.0])
_LOT_RATIO = np.array([0.5, 2.5, 5.0, 1.5, 4.0, 6.0])
_GARAGE_SHARE = np.array([0.25, 0.7, 0.85, 0.45, 0.9, 0.8])
BASE_PPSF = np.array([650.0, 420.0, 480.0, 520.0, 300.0, 450.0])
ALT_PPSF = np.array([300.0, 520.0, 420.0, 450.0, 650.0, 480.0])
_CONDITION_BASE, _CONDITION_ALT = np.array([-0.25, -0.1, 0.0, 0.12]), np.array([-0.05, 0.0, 0.02, 0.05])
_LOT_NULL_SHARE = 0.03
_PRICE_NOISE = 0.2  # sd of the multiplicative (log-scale) price noise


def generate_housing(request: BatchRequest) -> pd.DataFrame:
    """Generate one day of house listings with their sale ``price``.

    Called as every generator is (``generators.common.BatchRequest``). A drift window's
    ``label_rate`` does not apply to a regression target and raises ``ValueError``.

    Returns
    -------
    pandas.DataFrame
        The columns of ``projects/housing.yaml`` in order.

    Examples
    --------
    >>> import datetime
    >>> generate_housing(BatchRequest(datetime.date(2026, 1, 1), rows=2, seed=1))["listing_id"].tolist()
    ['H20260101-000001', 'H20260101-000002']
    """
    day, n = request.day, request.rows
    knobs = request.knobs(CATEGORIES)
    if knobs.label_rate is not None:
        raise ValueError(
            "label_rate (prior shift of a positive-label rate) does not apply to the housing regression target; "
            "use covariate drift on 'price' or concept drift instead"
        )
    rng = request.rng()
    num, cat = knobs.numeric, knobs.category

    listed_at = event_times(rng, day, n)
    hood = cat("neighborhood", rng.choice(6, size=n, p=_SHARE))
    distance = num("distance_to_center_km", np.clip(rng.gamma(4.0, _DISTANCE_KM[hood] / 4.0), 0.0, 150.0))
    newest = min(day.year, 2030)
    year_built = np.rint(rng.normal(_YEAR_MEAN[hood], _YEAR_SD[hood])).clip(1800, newest).astype(np.int64)
    year_built = num("year_built", year_built)
    sqft = num("sqft", np.clip(_SQFT_MEDIAN[hood] * np.exp(rng.normal(0.0, 0.35, n)), 150.0, 20000.0))
    bedrooms = num("bedrooms", np.rint(sqft / 650.0 + rng.normal(0.0, 0.8, n)).clip(0, 12).astype(np.int64))
    bathrooms = np.clip(np.round(2.0 * (1.0 + 0.45 * bedrooms + rng.normal(0.0, 0.5, n))) / 2.0, 1.0, 10.0)
    bathrooms = num("bathrooms", bathrooms)
    lot_size = np.clip(sqft * _LOT_RATIO[hood] * np.exp(rng.normal(0.0, 0.5, n)), 0.0, 500000.0)
    lot_size = num("lot_size", np.where(rng.random(n) < _LOT_NULL_SHARE, np.nan, lot_size))

    age = np.maximum(day.year - year_built, 0)
    score = rng.normal(0.3, 1.0, n) - 0.012 * age
    condition = cat("condition", np.searchsorted([-1.6, -0.6, 0.9], score))
    garage = rng.random(n) < _GARAGE_SHARE[hood]

    lot_term = np.log1p(np.nan_to_num(lot_size, nan=0.0) / 1000.0)
    shared = -0.0025 * age + 0.04 * (bathrooms - 2.0) + 0.04 * lot_term
    base = np.log(BASE_PPSF[hood] * 1500.0) + 0.85 * np.log(sqft / 1500.0) + _CONDITION_BASE[condition]
    base += shared - 0.01 * distance + 0.06 * garage
    log_price, c = base, knobs.concept
    if c > 0:
        alt = np.log(ALT_PPSF[hood] * 1500.0) + 0.6 * np.log(sqft / 1500.0) + _CONDITION_ALT[condition]
        alt += shared + 0.008 * distance + 0.15 * garage
        alt += base.mean() - alt.mean() if n else 0.0  # keep the batch's price level; change what drives it
        log_price = (1.0 - c) * base + c * alt
    price = num("price", np.clip(np.exp(log_price + rng.normal(0.0, _PRICE_NOISE, n)), 1000.0, 20000000.0))
    knobs.check_drawn("housing")

    return pd.DataFrame(
        {
            "listing_id": make_ids("H", day, n),
            "listed_at": listed_at,
            "sqft": sqft.astype(np.float64),
            "bedrooms": bedrooms.astype(np.int64),
            "bathrooms": bathrooms.astype(np.float64),
            "year_built": year_built.astype(np.int64),
            "lot_size": lot_size.astype(np.float64),
            "neighborhood": np.array(CATEGORIES["neighborhood"], dtype=object)[hood],
            "condition": np.array(CATEGORIES["condition"], dtype=object)[condition],
            "garage": garage.astype(bool),
            "distance_to_center_km": distance.astype(np.float64),
            "price": price.astype(np.float64),
        }
    )
