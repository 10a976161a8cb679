"""Jobs and schedules per project."""

from __future__ import annotations

from dagster import AssetSelection, ScheduleDefinition, build_schedule_from_partitioned_job, define_asset_job
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from mlops_assets import constants as C
from mlops_assets.monitoring.assets import DRIFT_REPORT, PERFORMANCE_REPORT, REFERENCE_PROFILE
from mlops_assets.partitions import daily_partitions
from mlops_assets.spec import ProjectSpec


def ingest_selection(spec: ProjectSpec) -> AssetSelection:
    """raw -> validated -> features (dbt staging models included) of one project."""
    return AssetSelection.key_prefixes([spec.name]) & AssetSelection.groups(C.INGESTION, C.VALIDATION, C.FEATURES)


def ingest_job(spec: ProjectSpec) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        name=f"{spec.name}__ingest",
        selection=ingest_selection(spec),
        partitions_def=daily_partitions(spec),
        description=f"Ingest, validate and build features for one day of '{spec.name}'.",
        tags={"project": spec.name},
    )


def ingest_schedule(job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    """Daily at 01:00 UTC, for the day that just ended."""
    return build_schedule_from_partitioned_job(job, hour_of_day=1, minute_of_hour=0)


def train_job(spec: ProjectSpec) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        name=f"{spec.name}__train",
        selection=retrain_selection(spec),
        description=(
            f"Train and evaluate a '{spec.name}' model; if its gates pass (and promotion is auto) promote it, "
            "refresh the reference profile and deploy it."
        ),
        tags={"project": spec.name},
    )


def train_schedule(job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    """Weekly retraining, Mondays 03:00 UTC (off by default; toggle it in the UI)."""
    return ScheduleDefinition(job=job, cron_schedule="0 3 * * 1", execution_timezone="UTC")


def retrain_selection(spec: ProjectSpec) -> AssetSelection:
    """What a drift or decay sensor materializes: the training chain and, with auto promotion, reference + endpoint."""
    names = [C.TRAINING_SET, C.CANDIDATE_MODEL, C.EVALUATION_REPORT]
    if spec.evaluation.promotion == "auto":
        names += [C.CHAMPION, REFERENCE_PROFILE, C.ENDPOINT]
    return AssetSelection.assets(*[[spec.name, n] for n in names])


def monitor_job(spec: ProjectSpec) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        name=f"{spec.name}__monitor",
        selection=AssetSelection.assets(
            [spec.name, C.PREDICTION_LOG], [spec.name, C.FEEDBACK], [spec.name, DRIFT_REPORT], [spec.name, PERFORMANCE_REPORT]
        ),
        partitions_def=daily_partitions(spec),
        description=f"Compact the day's prediction and feedback logs of '{spec.name}'; drift and performance reports.",
        tags={"project": spec.name},
    )


def monitor_schedule(job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    """Daily at 02:00 UTC, for the day that just ended."""
    return build_schedule_from_partitioned_job(job, hour_of_day=2, minute_of_hour=0)
