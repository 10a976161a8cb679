"""Feature computation by spec: the registry of feature functions shared by dbt models and serving."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Callable

import numpy as np
import pandas as pd

from mlops_assets.features.churn import churn_feature_arrays, compute_churn_features
from mlops_assets.spec import DbtFeatures, ProjectSpec

#: dbt model name -> the pure function its Python model calls.
FEATURE_FUNCTIONS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "churn_features": compute_churn_features,
}

#: dbt model name -> the same function on a dict of numpy columns (serving's small batches, no pandas). Optional:
#: a model without one is served through :data:`FEATURE_FUNCTIONS`.
FEATURE_ARRAY_FUNCTIONS: dict[str, Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]] = {
    "churn_features": churn_feature_arrays,
}


def build_features(spec: ProjectSpec, raw: pd.DataFrame) -> pd.DataFrame:
    """Compute the feature columns of ``spec`` from raw rows (training and serving share this).

    Returns exactly ``spec.features.columns``, in that order.
    """
    if isinstance(spec.features, DbtFeatures):
        fn = FEATURE_FUNCTIONS.get(spec.features.model)
        if fn is None:
            raise KeyError(
                f"project '{spec.name}': dbt model '{spec.features.model}' has no feature function; "
                f"register one in mlops_assets.features.transforms.FEATURE_FUNCTIONS (known: {sorted(FEATURE_FUNCTIONS)})"
            )
        features = fn(raw)
    else:
        features = raw
    columns = list(spec.features.columns)
    if features is not raw and features.columns.tolist() == columns:
        # Already the features, in order: a new frame of the function's own. Selecting would copy every column
        # (~0.3 ms for one row, as much as computing them: serving pays it per request).
        return features
    _check_produced(spec, features.columns)
    return features[columns]


def build_feature_arrays(spec: ProjectSpec, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """:func:`build_features` of raw rows given as numpy columns, as a dict of numpy columns (same order), or
    None when the project's feature function has no array twin in :data:`FEATURE_ARRAY_FUNCTIONS` (use
    :func:`build_features` then).

    ``pd.DataFrame(build_feature_arrays(spec, cols))`` equals ``build_features(spec, pd.DataFrame(cols))``.
    """
    if isinstance(spec.features, DbtFeatures):
        fn = FEATURE_ARRAY_FUNCTIONS.get(spec.features.model)
        if fn is None:
            return None
        features = fn(columns)
    else:
        features = columns
    _check_produced(spec, features)
    return {c: features[c] for c in spec.features.columns}


def _check_produced(spec: ProjectSpec, produced) -> None:
    missing = [c for c in spec.features.columns if c not in produced]
    if missing:
        raise KeyError(f"project '{spec.name}': feature columns {missing} were not produced")
