"""Retrain a registered model version from the data versions and params recorded on it; compare predictions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from mlops_assets import constants as C
from mlops_assets.data.fingerprint import frame_fingerprint
from mlops_assets.spec import ProjectSpec
from mlops_assets.training.estimators import model_scores
from mlops_assets.training.split import Window
from mlops_assets.training.training_set import assemble_training_set, fit_candidate

if TYPE_CHECKING:  # a Dagster resource: only its MLflow client is used here
    from mlops_assets.resources.tracking import MlflowTracking

# mlflow and joblib are imported inside reproduce(), not at module import (start-up time).


class PartitionStore(Protocol):
    """Where the recorded partitions are loaded from: the Parquet IO manager
    (:class:`mlops_assets.resources.storage.ParquetIOManager`), passed in by the reproduce job."""

    def load_partition(self, key: list[str], partition: str | None = None) -> pd.DataFrame: ...


def _recorded(store: PartitionStore, key: list[str], day: str, remedy: str) -> pd.DataFrame:
    try:
        return store.load_partition(key, day)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{'/'.join(key)} partition {day} is gone ({err}); {remedy} to reproduce") from None


@dataclass(frozen=True)
class ReproduceResult:
    model: str
    version: str
    identical_predictions: bool
    max_abs_diff: float
    same_training_set: bool
    same_model_hash: bool
    same_spec: bool
    holdout_rows: int

    def summary(self) -> str:
        verdict = "IDENTICAL" if self.identical_predictions else "DIFFERENT"
        return (
            f"{self.model} v{self.version}: holdout predictions {verdict} over {self.holdout_rows} rows "
            f"(max |diff| {self.max_abs_diff:.3g}); training set {'same' if self.same_training_set else 'CHANGED'}; "
            f"model hash {'same' if self.same_model_hash else 'differs'}; spec {'same' if self.same_spec else 'changed'}"
        )


def recorded_window(tags: dict[str, str]) -> Window:
    start, end, holdout = (date.fromisoformat(tags[k]) for k in ("window_start", "window_end", "holdout_start"))
    holdout_days = (end - holdout).days + 1
    return Window(end=end, train_days=(end - start).days + 1 - holdout_days, holdout_days=holdout_days)


def reproduce(spec: ProjectSpec, tracking: MlflowTracking, version: str, store: PartitionStore) -> ReproduceResult:
    """Rebuild the recorded training set from `store`, refit with the recorded params and seed, compare holdout
    predictions."""
    import joblib
    import mlflow

    client = tracking.client()
    mv = client.get_model_version(spec.name, str(version))
    run = client.get_run(mv.run_id)
    tags, params = run.data.tags, run.data.params
    window = recorded_window(tags)
    frames = [_recorded(store, [spec.name, C.FEATURES_ASSET], day, "re-ingest it")
              for day in window.partition_keys()]
    traffic = {day: _recorded(store, [spec.name, C.LABELED_TRAFFIC], day, "re-materialize it")
               for day in filter(None, tags.get("labeled_traffic_days", "").split(","))}
    data = assemble_training_set(spec, frames, window, traffic)
    hyper = mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/params.json")
    train = data[data["split"] == "train"]
    holdout = data[data["split"] == "holdout"]
    refit = fit_candidate(spec, train, params["estimator"], hyper, int(params["seed"]))
    registered = mlflow.sklearn.load_model(f"models:/{spec.name}/{version}")
    X = holdout[list(spec.features.columns)]
    a = np.asarray(model_scores(registered, spec.target.task, X), dtype=float)
    b = np.asarray(model_scores(refit, spec.target.task, X), dtype=float)
    return ReproduceResult(
        model=spec.name,
        version=str(version),
        identical_predictions=bool(np.array_equal(a, b)),
        max_abs_diff=float(np.max(np.abs(a - b))) if len(a) else 0.0,
        same_training_set=frame_fingerprint(data) == tags.get(C.TRAINING_SET_VERSION_TAG),
        same_model_hash=joblib.hash(refit) == tags.get("model_hash", mv.tags.get("model_hash")),
        same_spec=spec.spec_hash() == tags.get("spec_hash"),
        holdout_rows=len(holdout),
    )
