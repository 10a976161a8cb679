"""Feature computation by spec: the registry of feature functions shared by dbt models and serving."""

from __future__ import annotations

from typing import Callable

import pandas as pd

from mlops_assets.features.churn import compute_churn_features
from mlops_assets.spec import DbtFeatures, ProjectSpec

#: dbt model name -> the pure function its Python model calls.
FEATURE_FUNCTIONS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "churn_features": compute_churn_features,
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
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise KeyError(f"project '{spec.name}': feature columns {missing} were not produced")
    return features[columns]
