"""Jobs and schedules per project."""

from __future__ import annotations

from dagster import AssetSelection, ScheduleDefinition, build_schedule_from_partitioned_job, define_asset_job
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from mlops_assets import constants as C
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


def train_selection(spec: ProjectSpec) -> AssetSelection:
    """training_set -> candidate_model -> evaluation_report (-> champion unless promotion is manual)."""
    names = [C.TRAINING_SET, C.CANDIDATE_MODEL, C.EVALUATION_REPORT]
    if spec.evaluation.promotion == "auto":
        names.append(C.CHAMPION)
    return AssetSelection.assets(*[[spec.name, n] for n in names])


def train_job(spec: ProjectSpec) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        name=f"{spec.name}__train",
        selection=train_selection(spec),
        description=f"Train, evaluate and (if the gates pass) promote a '{spec.name}' model.",
        tags={"project": spec.name},
    )
