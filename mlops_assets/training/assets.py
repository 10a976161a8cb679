"""Per-project training_set and candidate_model assets: a windowed, event-time split set; a seeded Pipeline in MLflow."""

import functools
import subprocess
from datetime import date
from pathlib import Path

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
    ResourceParam,
    asset,
)
from pydantic import Field

from mlops_assets import __version__
from mlops_assets import constants as C
from mlops_assets.data.fingerprint import frame_fingerprint
from mlops_assets.labels import LabelError, binary_labels, encode_target
from mlops_assets.resources.storage import ParquetIOManager
from mlops_assets.resources.tracking import CHALLENGER, SKOPS_TRUSTED_TYPES, MlflowTracking, model_pip_requirements
from mlops_assets.spec import ProjectSpec
from mlops_assets.training.estimators import EstimatorError, model_scores
from mlops_assets.training.split import Window
from mlops_assets.training.training_set import TrainingInputs, fit_candidate
from mlops_assets.evaluation.metrics import compute_metrics

# mlflow and joblib are imported inside the asset bodies that use them, not at module import (start-up time).


class TrainingSetConfig(Config):
    as_of: str | None = Field(
        None, description="last day (YYYY-MM-DD) of the window; default: the newest materialized features partition"
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


def traffic_days(spec: ProjectSpec, instance, window: Window) -> list[str]:
    """The materialized labelled-traffic days a training set over `window` takes (none unless the spec asks)."""
    if not spec.training.include_labeled_traffic:
        return []
    days = instance.get_materialized_partitions(AssetKey([spec.name, C.LABELED_TRAFFIC]))
    return sorted(d for d in days if d >= window.start.isoformat())


def load_training_inputs(spec: ProjectSpec, instance, store: ParquetIOManager, as_of: str | None) -> TrainingInputs:
    """Load the feature partitions of the window ending `as_of` (default: the newest materialized day) and the
    labelled traffic since its start through their IO manager (`store`), as the training_set asset does (the
    retrain sensor uses it too). The window is chosen at run time, so these are not the asset's declared inputs."""
    features_key = AssetKey([spec.name, C.FEATURES_ASSET])
    window = resolve_window(spec, as_of, set(instance.get_materialized_partitions(features_key)))
    frames = {k: store.load_partition(features_key, k) for k in window.partition_keys()}
    traffic_key = AssetKey([spec.name, C.LABELED_TRAFFIC])
    traffic = {d: store.load_partition(traffic_key, d) for d in traffic_days(spec, instance, window)}
    return TrainingInputs(window, frames, traffic)


def _balance(spec: ProjectSpec, frame: pd.DataFrame) -> dict:
    """The share of the positive class per split (classification), from the 0/1 codes of the labels."""
    labels = binary_labels(spec)
    if labels is None:
        return {}
    try:
        codes = labels.encode(frame[spec.target.column])
    except LabelError as err:
        raise Failure(
            f"{spec.name}/training_set: {err}. Fix those rows in the feed (or schema.columns.{spec.target.column} "
            "and target.positive_class in the spec), re-ingest the days and re-materialize the training set."
        ) from None
    rates = pd.Series(codes, dtype=float).groupby(frame["split"].to_numpy()).mean()
    return {"positive_class": str(labels.positive),
            **{f"positive_rate_{k}": round(float(v), 4) for k, v in rates.items()}}


def window_of(spec: ProjectSpec, training_set: pd.DataFrame) -> dict[str, str]:
    """The window a training set covers, read from the set itself (not from the instance's latest record).

    The warehouse rows define it; labelled-traffic days are listed separately (``labeled_traffic_days``).
    """
    warehouse = training_set[training_set["source"] == "warehouse"] if "source" in training_set else training_set
    times = pd.to_datetime(warehouse[spec.schema_.event_time_column])
    holdout = times[warehouse["split"] == "holdout"]
    days = sorted(training_set["traffic_day"].dropna().unique()) if "traffic_day" in training_set else []
    return {
        "window_start": times.min().date().isoformat(),
        "window_end": times.max().date().isoformat(),
        "holdout_start": holdout.min().date().isoformat() if len(holdout) else "",
        "labeled_traffic_days": ",".join(days),
    }


def _days_table(spec: ProjectSpec, data: pd.DataFrame, versions: dict[str, str]) -> str:
    """One line per day the set used: source, rows per split, its data version."""
    day = pd.to_datetime(data[spec.schema_.event_time_column]).dt.date.astype(str)
    key = data["traffic_day"].fillna(day) if "traffic_day" in data else day
    counts = data.groupby([data["source"], key, data["split"]]).size().unstack(fill_value=0)
    lines = ["| source | day | train | holdout | data version |", "| --- | --- | ---: | ---: | --- |"]
    for (source, d), row in counts.iterrows():
        lines.append(f"| {source} | {d} | {int(row.get('train', 0))} | {int(row.get('holdout', 0))} | "
                     f"`{versions.get(f'{source}:{d}', '')[:12]}` |")
    return "\n".join(lines)


def build_training_set(spec: ProjectSpec) -> AssetsDefinition:
    features_key = AssetKey([spec.name, C.FEATURES_ASSET])
    deps = [features_key] + ([AssetKey([spec.name, C.LABELED_TRAFFIC])] if spec.training.include_labeled_traffic else [])
    traffic = " plus the labelled production traffic since its start" if spec.training.include_labeled_traffic else ""

    @asset(
        key=AssetKey([spec.name, C.TRAINING_SET]),
        deps=deps,
        group_name=spec.name,
        tags=C.asset_tags(spec.name, C.TRAINING),
        kinds={"pandas", "parquet"},
        description=(
            f"'{spec.name}' features over the {spec.training.window_days}+{spec.training.holdout_days} days ending "
            f"on the newest ingested day{traffic}, split by event time into train and holdout."
        ),
    )
    def training_set(context: AssetExecutionContext, config: TrainingSetConfig,
                     io_manager: ResourceParam[ParquetIOManager]):
        inputs = load_training_inputs(spec, context.instance, io_manager, config.as_of)
        window = inputs.window
        versions = {f"warehouse:{k}": frame_fingerprint(f) for k, f in inputs.frames.items()}
        versions.update({f"traffic:{k}": frame_fingerprint(f) for k, f in inputs.traffic.items()})
        data = inputs.assemble(spec)
        version = frame_fingerprint(data)
        counts = data["split"].value_counts().to_dict()
        traffic_rows = int((data["source"] == "traffic").sum())
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
                "feedback_rows": traffic_rows,
                "labeled_traffic_days": ", ".join(sorted(inputs.traffic)) or "none",
                **_balance(spec, data),
                "content_hash": version,
                "days": MetadataValue.md(_days_table(spec, data, versions)),
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


def build_candidate_model(spec: ProjectSpec) -> AssetsDefinition:
    @asset(
        key=AssetKey([spec.name, C.CANDIDATE_MODEL]),
        ins={"training_set": AssetIn(key=AssetKey([spec.name, C.TRAINING_SET]))},
        group_name=spec.name,
        io_manager_key="json_io_manager",
        tags=C.asset_tags(spec.name, C.TRAINING),
        kinds={"scikitlearn", "mlflow"},
        description=f"A seeded scikit-learn Pipeline for '{spec.name}', logged and registered in MLflow as challenger.",
    )
    def candidate_model(
        context: AssetExecutionContext, config: CandidateConfig, training_set: pd.DataFrame, tracking: MlflowTracking
    ):
        import joblib
        import mlflow
        from mlflow.models import infer_signature

        estimator = config.estimator or spec.training.estimator
        params = _params(spec, config)
        seed = spec.training.seed if config.seed is None else config.seed
        train = training_set[training_set["split"] == "train"]
        holdout = training_set[training_set["split"] == "holdout"]
        training_version = frame_fingerprint(training_set)
        window = window_of(spec, training_set)
        tags = {
            "project": spec.name,
            "dagster_run_id": context.run.run_id,
            C.TRAINING_SET_VERSION_TAG: training_version,
            "spec_hash": spec.spec_hash(),
            "code_version": f"{__version__}+{_git_sha()}",
            **window,
        }
        labels = binary_labels(spec)
        if labels is not None:  # what the model's class codes 0/1 stand for
            tags[C.LABEL_CLASSES_TAG] = labels.allowed
        tracking.activate()
        with tracking.start_run(spec.name, run_name=f"{spec.name}-{estimator}", tags=tags) as run:
            mlflow.log_params({"estimator": estimator, "seed": seed, **{f"param_{k}": v for k, v in params.items()}})
            mlflow.log_dict(params, "params.json")
            try:
                pipeline = fit_candidate(spec, train, estimator, params, seed)
            except EstimatorError as err:
                raise Failure(f"{spec.name}: {err}. Fix training.estimator/params in the spec or the run config.") from err
            X = train[list(spec.features.columns)]
            y = encode_target(spec, train[spec.target.column])
            train_metrics = compute_metrics(spec.target.task, y, model_scores(pipeline, spec.target.task, X))
            mlflow.log_metrics({f"train_{k}": v for k, v in train_metrics.items() if v == v})
            example = holdout[list(spec.features.columns)].head(5) if len(holdout) else X.head(5)
            signature = infer_signature(example, pipeline.predict(example))
            info = mlflow.sklearn.log_model(
                pipeline, name="model", signature=signature, input_example=example,
                skops_trusted_types=SKOPS_TRUSTED_TYPES, pip_requirements=model_pip_requirements(),
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
                **tracking.run_metadata(experiment_id, run_id),
                "model_version": str(version),
                "model_uri": ref["model_uri"],
                "model_hash": model_hash,
                "estimator": estimator,
                "params": MetadataValue.json(params),
                "train_metrics": MetadataValue.md(_metrics_table(train_metrics)),
            },
        )

    return candidate_model


def _metrics_table(metrics):
    from mlops_assets.evaluation.report import metrics_table

    return metrics_table(metrics)
