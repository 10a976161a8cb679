"""Logged prediction rows as a drift window against a stored reference profile (no Dagster, no plotting)."""

from __future__ import annotations

import pandas as pd

from mlops_assets.features.transforms import build_features
from mlops_assets.monitoring.drift import DEFAULT_ALPHA, DriftReport, drift_from_counts
from mlops_assets.monitoring.profile import ReferenceProfile
from mlops_assets.spec import ProjectSpec

#: The champion's score, profiled like a feature (prediction drift).
SCORE = "__score__"


def live_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows the live model answered (canary and shadow rows describe other models' traffic)."""
    if rows.empty or "role" not in rows.columns:
        return rows
    return rows[rows["role"] == "live"].reset_index(drop=True)


def drift_of_rows(spec: ProjectSpec, rows: pd.DataFrame, record: dict, alpha: float = DEFAULT_ALPHA) -> DriftReport:
    """Drift of logged raw rows (features computed as in training) against a stored reference record.

    The score column is compared only on rows scored by the model version the reference was built for; when a
    window holds none (another version is live), the score is left out of that window's comparison.
    """
    profile = ReferenceProfile.from_dict(record)
    features = build_features(spec, rows.reset_index(drop=True))
    counts = {name: feat.bin(features[name]) for name, feat in profile.features.items() if name != SCORE}
    if SCORE in profile.features:
        same = rows["model_version"].astype(str).to_numpy() == str(record.get("model_version"))
        if same.any():
            counts[SCORE] = profile.features[SCORE].bin(rows["score"][same])
        else:
            profile = ReferenceProfile({k: v for k, v in profile.features.items() if k != SCORE})
    m = spec.monitoring
    return drift_from_counts(profile, counts, alpha, m.effect_size_floor, m.moved_mass_floor)
