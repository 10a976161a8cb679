"""Per-project training_set and candidate_model assets: a windowed, event-time split set; a seeded Pipeline in MLflow."""

import functools
import subprocess
from datetime import date
from pathlib import Path

import joblib
import mlflow
import pandas as pd
import yaml
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    Config,
    DataVersion,
    Failure,
    MetadataValue,
    Output,
    asset,
)
from mlflow.models import infer_signature
from pydantic import Field

from mlops_assets import __version__
from mlops_assets import constants as C
from mlops_assets.data.fingerprint import frame_fingerprint
from mlops_assets.resources.storage import DataDirectory, asset_path
from mlops_assets.resources.tracking import CHALLENGER, SKOPS_TRUSTED_TYPES, MlflowTracking
from mlops_assets.spec import ProjectSpec
from mlops_assets.training.estimators import EstimatorError, build_pipeline, model_scores, split_columns
from mlops_assets.training.split import Window, split_by_event_time
from mlops_assets.evaluation.metrics import compute_metrics


class TrainingSetConfig(Config):
    as_of: str | None = Field(
        None, description="last day (YYYY-MM-DD) of the window; default: the latest materialized features partition"
    )


class CandidateConfig(Config):
    estimator: str | None = Field(None, description="estimator from the allow-list (default: spec training.estimator)")
    params: str | None = Field(None, description="YAML mapping of hyperparameters; replaces spec training.params")
    seed: int | None = Field(None, description="random seed (default: spec training.seed)")


def resolve_window(spec: ProjectSpec, as_of: str | None, materialized: set[str]) -> Window:
    """The training window ending `as_of` (or the latest materialized day); every day must be materialized."""
    if as_of is None:
        if not materialized:
            raise Failure(f"{spec.name}/features has no materialized partition; run {spec.name}__ingest first")
        as_of = max(materialized)
    window = Window(date.fromisoformat(as_of), spec.training.window_days, spec.training.holdout_days)
    missing = [k for k in window.partition_keys() if k not in materialized]
    if missing:
        raise Failure(
            f"{spec.name}/training_set needs {spec.name}/features for {window.start}..{window.end}; "
            f"missing partitions: {', '.join(missing)}. Backfill them with the {spec.name}__ingest job."
        )
    return window


def assemble_training_set(spec: ProjectSpec, frames: list[pd.DataFrame], window: Window) -> pd.DataFrame:
    """Concatenate the window's feature partitions and label each row train/holdout by event time."""
    frame = pd.concat(frames, ignore_index=True)
    frame["split"] = split_by_event_time(frame, spec.schema_.event_time_column, window.holdout_start)
    return frame


def _balance(spec: ProjectSpec, frame: pd.DataFrame) -> dict:
    if spec.target.task != "classification":
        return {}
    rates = frame.groupby("split")[spec.target.column].mean()
    return {f"positive_rate_{k}": float(v) for k, v in rates.items()}


def window_of(spec: ProjectSpec, training_set: pd.DataFrame) -> dict[str, str]:
    """The window a training set covers, read from the set itself (not from the instance's latest record)."""
    times = pd.to_datetime(training_set[spec.schema_.event_time_column])
    holdout = times[training_set["split"] == "holdout"]
    return {
        "window_start": times.min().date().isoformat(),
        "window_end": times.max().date().isoformat(),
        "holdout_start": holdout.min().date().isoformat() if len(holdout) else "",
    }


def build_training_set(spec: ProjectSpec) -> AssetsDefinition:
    features_key = AssetKey([spec.name, C.FEATURES_ASSET])

    @asset(
        key=AssetKey([spec.name, C.TRAINING_SET]),
        deps=[features_key],
        group_name=C.TRAINING,
        tags={"project": spec.name},
        kinds={"pandas", "parquet"},
        description=(
            f"'{spec.name}' features over {spec.training.window_days}+{spec.training.holdout_days} days, "
            "split by event time into train and holdout."
        ),
    )
    def training_set(context: AssetExecutionContext, config: TrainingSetConfig, storage: DataDirectory):
        materialized = set(context.instance.get_materialized_partitions(features_key))
        window = resolve_window(spec, config.as_of, materialized)
        frames, versions = [], {}
        for key in window.partition_keys():
            frame = pd.read_parquet(asset_path(storage.root, features_key.path, key))
            frames.append(frame)
            versions[key] = frame_fingerprint(frame)
        data = assemble_training_set(spec, frames, window)
        version = frame_fingerprint(data)
        counts = data["split"].value_counts().to_dict()
        return Output(
            data,
            data_version=DataVersion(version),
            metadata={
                "window_start": window.start.isoformat(),
                "window_end": window.end.isoformat(),
                "holdout_start": window.holdout_start.isoformat(),
                "dagster/row_count": len(data),
                "train_rows": int(counts.get("train", 0)),
                "holdout_rows": int(counts.get("holdout", 0)),
                **_balance(spec, data),
                "content_hash": version,
                "upstream_data_versions": MetadataValue.json(versions),
            },
        )

    return training_set


def _params(spec: ProjectSpec, config: CandidateConfig) -> dict:
    if config.params is None:
        return dict(spec.training.params)
    parsed = yaml.safe_load(config.params) or {}
    if not isinstance(parsed, dict):
        raise Failure(f"run config 'params' must be a YAML mapping of hyperparameters, got: {config.params!r}")
    return parsed


@functools.lru_cache(maxsize=1)
def _git_sha() -> str:
    """The code's commit, once per process ('unknown' outside a git checkout, e.g. in the image)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def fit_candidate(spec: ProjectSpec, train: pd.DataFrame, estimator: str, params: dict, seed: int):
    """Fit the spec's pipeline on the train rows (pure apart from sklearn)."""
    X = train[list(spec.features.columns)]
    numeric, categorical = split_columns(X, list(spec.features.columns))
    pipeline = build_pipeline(spec.target.task, estimator, params, seed, numeric, categorical)
    return pipeline.fit(X, train[spec.target.column])


def build_candidate_model(spec: ProjectSpec) -> AssetsDefinition:
    @asset(
        key=AssetKey([spec.name, C.CANDIDATE_MODEL]),
        ins={"training_set": AssetIn(key=AssetKey([spec.name, C.TRAINING_SET]))},
        group_name=C.TRAINING,
        io_manager_key="json_io_manager",
        tags={"project": spec.name},
        kinds={"scikitlearn", "mlflow"},
        description=f"A seeded scikit-learn Pipeline for '{spec.name}', logged and registered in MLflow as challenger.",
    )
    def candidate_model(
        context: AssetExecutionContext, config: CandidateConfig, training_set: pd.DataFrame, tracking: MlflowTracking
    ):
        estimator = config.estimator or spec.training.estimator
        params = _params(spec, config)
        seed = spec.training.seed if config.seed is None else config.seed
        train = training_set[training_set["split"] == "train"]
        holdout = training_set[training_set["split"] == "holdout"]
        training_version = frame_fingerprint(training_set)
        window = window_of(spec, training_set)
        tags = {
            "project": spec.name,
            "dagster_run_id": context.run_id,
            "training_set_version": training_version,
            "spec_hash": spec.spec_hash(),
            "code_version": f"{__version__}+{_git_sha()}",
            **window,
        }
        tracking.activate()
        with tracking.start_run(spec.name, run_name=f"{spec.name}-{estimator}", tags=tags) as run:
            mlflow.log_params({"estimator": estimator, "seed": seed, **{f"param_{k}": v for k, v in params.items()}})
            mlflow.log_dict(params, "params.json")
            try:
                pipeline = fit_candidate(spec, train, estimator, params, seed)
            except EstimatorError as err:
                raise Failure(f"{spec.name}: {err}. Fix training.estimator/params in the spec or the run config.") from err
            X = train[list(spec.features.columns)]
            train_metrics = compute_metrics(spec.target.task, train[spec.target.column], model_scores(pipeline, spec.target.task, X))
            mlflow.log_metrics({f"train_{k}": v for k, v in train_metrics.items() if v == v})
            example = holdout[list(spec.features.columns)].head(5) if len(holdout) else X.head(5)
            signature = infer_signature(example, pipeline.predict(example))
            info = mlflow.sklearn.log_model(
                pipeline, name="model", signature=signature, input_example=example,
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
            )
            model_hash = joblib.hash(pipeline)
            mlflow.set_tag("model_hash", model_hash)
            version = str(mlflow.register_model(info.model_uri, spec.name, tags={**tags, "model_hash": model_hash}).version)
            client = tracking.client()
            client.set_registered_model_alias(spec.name, CHALLENGER, version)
            experiment_id = run.info.experiment_id
            run_id = run.info.run_id
        ref = {
            "registered_model": spec.name,
            "version": str(version),
            "model_uri": f"models:/{spec.name}/{version}",
            "run_id": run_id,
            "experiment_id": experiment_id,
            "estimator": estimator,
            "params": params,
            "seed": seed,
            "model_hash": model_hash,
            "training_set_version": training_version,
            "spec_hash": spec.spec_hash(),
            "train_metrics": train_metrics,
        }
        return Output(
            ref,
            metadata={
                "mlflow_run": MetadataValue.url(tracking.run_url(experiment_id, run_id)),
                "model_version": str(version),
                "model_uri": ref["model_uri"],
                "model_hash": model_hash,
                "estimator": estimator,
                "params": MetadataValue.json(params),
                "train_metrics": MetadataValue.json(train_metrics),
            },
        )

    return candidate_model
