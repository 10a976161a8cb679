"""Helpers for the tests in this package (imported by test modules; fixtures stay in conftest.py)."""

from __future__ import annotations

import datetime
import functools
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import AssetKey, BackfillPolicy, Output, asset, materialize

from mlops_assets.data.generators.registry import generate_batch
from mlops_assets.features.transforms import build_features
from mlops_assets.ingestion import RANGE_END_TAG, RANGE_START_TAG
from mlops_assets.monitoring.logs import project_log_dir
from mlops_assets.monitoring.profile import ReferenceProfile
from mlops_assets.monitoring.windows import SCORE
from mlops_assets.partitions import daily_partitions
from mlops_assets.resources.storage import JsonIOManager, ParquetIOManager
from mlops_assets.serving.contract import Contract
from mlops_assets.serving.predlog import PredictionLog
from mlops_assets.spec import DriftWindow, NumericShift, ProjectSpec, load_spec
from mlops_assets.training.estimators import model_scores, split_columns
from mlops_assets.training.training_set import fit_candidate
from ..helpers import PROJECTS


BASE_DAYS = [datetime.date(2026, 1, d) for d in (1, 2, 3)]


LIVE_DAY = datetime.date(2026, 2, 1)


COVARIATE = [DriftWindow(start=LIVE_DAY, covariate={"monthly_charges": NumericShift(mean_shift=1.0)})]


CONCEPT = [DriftWindow(start=LIVE_DAY, concept=1.0)]


def monitored_spec(**monitoring) -> ProjectSpec:
    """The shipped churn spec (dbt features, computed by the shared pure function) with test-sized windows."""
    spec = load_spec(PROJECTS / "churn.yaml")
    defaults = {"window_rows": 1000, "min_feedback": 500, "cooldown_hours": 6, "max_retrains_per_day": 2}
    return spec.model_copy(update={"monitoring": spec.monitoring.model_copy(update={**defaults, **monitoring})})


def raw_rows(spec: ProjectSpec, day: datetime.date, rows: int, drift=(), seed: int | None = None) -> pd.DataFrame:
    return generate_batch(spec.source, day, rows=rows, drift=list(drift), seed=seed, bounds=spec.schema.bounds())


@functools.lru_cache(maxsize=1)
def _fitted():
    spec = monitored_spec()
    train = pd.concat([raw_rows(spec, d, 2000) for d in BASE_DAYS], ignore_index=True)
    frame = pd.concat([build_features(spec, train), train[[spec.target.column]]], axis=1)
    model = fit_candidate(spec, frame, "logistic_regression", {}, 0)
    holdout = raw_rows(spec, datetime.date(2026, 1, 4), 2000)
    from mlops_assets.evaluation.metrics import compute_metrics

    metrics = compute_metrics("classification", holdout[spec.target.column], scores(spec, model, holdout))
    return model, frame, metrics


def scores(spec: ProjectSpec, model, raw: pd.DataFrame) -> np.ndarray:
    return model_scores(model, spec.target.task, build_features(spec, raw))


def store_record(instance, data_dir: Path, key: list[str], record: dict, metadata: dict) -> None:
    """Materialize `record` as the asset `key` through the real JSON IO manager, with the metadata the real asset
    records: the stored value and the instance's materialization record, as a run of the asset leaves them."""
    @asset(key=AssetKey(key), io_manager_key="json_io_manager")
    def stored():
        return Output(record, metadata=metadata)

    result = materialize([stored], instance=instance,
                         resources={"json_io_manager": JsonIOManager(data_dir=str(data_dir))})
    assert result.success


def write_reference(instance, data_dir: Path, spec: ProjectSpec, fitted, version: str = "1") -> dict:
    """What reference_profile stores, materialized as reference_profile is (see :func:`store_record`)."""
    model, frame, metrics = fitted
    columns = list(spec.features.columns)
    scored = frame[columns].assign(**{SCORE: model_scores(model, spec.target.task, frame[columns])})
    numeric, categorical = split_columns(scored, columns)
    profile = ReferenceProfile.from_frame(scored, numeric=[*numeric, SCORE], categorical=categorical)
    record = {**profile.to_dict(), "model_version": version, "created_at": "2026-01-05T00:00:00+00:00"}
    store_record(instance, data_dir, [spec.name, "reference_profile"], record, {"model_version": version})
    return record


def write_champion(instance, data_dir: Path, spec: ProjectSpec, metrics: dict, version: str = "1") -> None:
    """A champion record naming `version` with holdout `metrics`, materialized as the champion asset is."""
    record = {"version": version, "metrics": metrics, "model_uri": f"models:/{spec.name}/{version}"}
    store_record(instance, data_dir, [spec.name, "champion"], record, {"champion_version": version})


class LogWriter:
    """Writes through the real PredictionLog into the layout the server uses, one part file per call."""

    def __init__(self, data_dir: Path, spec: ProjectSpec, model):
        self.spec, self.model = spec, model
        self.contract = Contract(spec)
        self.log = PredictionLog(project_log_dir(data_dir, spec.name), spec.name, self.contract.columns)
        self.requests = 0

    def predictions(self, raw: pd.DataFrame, at: datetime.datetime, role: str = "live", version: str = "1",
                    request_size: int = 100) -> list[str]:
        """Log `raw` as requests of `request_size` rows; returns their request ids."""
        ids = []
        inputs = self.contract.validate(raw[self.contract.fields].reset_index(drop=True)).raw
        score = scores(self.spec, self.model, inputs)
        for start in range(0, len(inputs), request_size):
            self.requests += 1
            rid = f"req-{self.requests:06d}"
            chunk = slice(start, start + request_size)
            s = score[chunk]
            self.log.append(rid, at, version, role, inputs.iloc[chunk].reset_index(drop=True), (s >= 0.5) * 1.0, s)
            ids.append(rid)
        self.log.flush()
        return ids

    def feedback(self, ids: list[str], labels: np.ndarray, at: datetime.datetime, request_size: int = 100) -> None:
        for i, label in enumerate(labels):
            self.log.append_feedback(ids[i // request_size], i % request_size, float(label), at)
        self.log.flush()


def retrain_targets(spec: ProjectSpec):
    """The jobs a project's monitoring sensors launch (as definitions.py wires them)."""
    from mlops_assets.automation import ingest_job, labeled_traffic_job, train_job
    from mlops_assets.monitoring.sensors import RetrainTargets

    return RetrainTargets(train=train_job(spec), ingest=ingest_job(spec), labeled_traffic=labeled_traffic_job(spec))


def land_features(instance, data_dir: Path, spec: ProjectSpec, days, rows: int = 500, drift=()) -> None:
    """Features partitions for the consecutive `days`, materialized in one run through the real Parquet IO manager
    (what an ingest backfill leaves behind: the stored partitions and their materialization records)."""
    keys = [d.isoformat() for d in days]
    assert keys == [(days[0] + datetime.timedelta(days=i)).isoformat() for i in range(len(days))], "consecutive days"

    def features_of(day: str) -> pd.DataFrame:
        raw = raw_rows(spec, datetime.date.fromisoformat(day), rows, drift)
        schema = spec.schema_
        return pd.concat([raw[[schema.id_column, schema.event_time_column]], build_features(spec, raw),
                          raw[[spec.target.column]]], axis=1)

    @asset(key=AssetKey([spec.name, "features"]), partitions_def=daily_partitions(spec),
           backfill_policy=BackfillPolicy.single_run())
    def features(context) -> dict:
        return {day: features_of(day) for day in context.partition_keys}

    store = ParquetIOManager(data_dir=str(data_dir))
    result = materialize([features], instance=instance, resources={"io_manager": store},
                         tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]})
    assert result.success

