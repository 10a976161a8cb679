"""Jobs and schedules per project."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    TimeWindowPartitionsDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
    schedule,
)

from mlops_assets import constants as C
from mlops_assets.dagster_types import AssetJob
from mlops_assets.monitoring.assets import DRIFT_REPORT, PERFORMANCE_REPORT, REFERENCE_PROFILE
from mlops_assets.partitions import daily_partitions, monitoring_partitions
from mlops_assets.spec import ProjectSpec


def ingest_selection(spec: ProjectSpec) -> AssetSelection:
    """raw -> validated -> features (dbt staging models included) of one project.

    In the UI's selection syntax: `group:<project> and tag:chain=ingest`."""
    return AssetSelection.groups(spec.name) & AssetSelection.tag(C.CHAIN_TAG, C.INGEST_CHAIN)


def ingest_job(spec: ProjectSpec) -> AssetJob:
    return define_asset_job(
        name=f"{spec.name}__ingest",
        selection=ingest_selection(spec),
        partitions_def=daily_partitions(spec),
        description=f"Ingest, validate and build features for one day of '{spec.name}'.",
        tags={"project": spec.name},
    )


def ingest_schedule(job: AssetJob) -> ScheduleDefinition:
    """Daily at 01:00 UTC, for the day that just ended."""
    return build_schedule_from_partitioned_job(job, hour_of_day=1, minute_of_hour=0)


def train_job(spec: ProjectSpec) -> AssetJob:
    return define_asset_job(
        name=f"{spec.name}__train",
        selection=retrain_selection(spec),
        description=(
            f"Train and evaluate a '{spec.name}' model; if its gates pass (and promotion is auto) promote it, "
            "refresh the reference profile and deploy it."
        ),
        tags={"project": spec.name, C.TRAINING_RUN_TAG: spec.name},
    )


def train_schedule(job: AssetJob) -> ScheduleDefinition:
    """Weekly retraining, Mondays 03:00 UTC (off by default; toggle it in the UI)."""
    return ScheduleDefinition(job=job, cron_schedule="0 3 * * 1", execution_timezone="UTC")


def retrain_selection(spec: ProjectSpec) -> AssetSelection:
    """What a drift or decay sensor materializes: the training chain and, with auto promotion, reference + endpoint."""
    names = [C.TRAINING_SET, C.CANDIDATE_MODEL, C.EVALUATION_REPORT]
    if spec.evaluation.promotion == "auto":
        names += [C.CHAMPION, REFERENCE_PROFILE, C.ENDPOINT]
    return AssetSelection.assets(*[[spec.name, n] for n in names])


def monitor_job(spec: ProjectSpec) -> AssetJob:
    return define_asset_job(
        name=f"{spec.name}__monitor",
        selection=AssetSelection.assets(
            [spec.name, C.PREDICTION_LOG], [spec.name, C.FEEDBACK], [spec.name, DRIFT_REPORT], [spec.name, PERFORMANCE_REPORT]
        ),
        partitions_def=monitoring_partitions(spec),
        description=(f"Compact the day's prediction and feedback logs of '{spec.name}'; drift and performance reports. "
                     "Days run up to today; today's partition covers the day in progress (the traffic so far)."),
        tags={"project": spec.name},
    )


def ended_day(at: datetime) -> str:
    """The UTC day before `at` (a naive `at` is taken as UTC): the day that has just ended.

    Examples
    --------
    >>> ended_day(datetime(2026, 3, 5, 2, tzinfo=timezone.utc))
    '2026-03-04'
    """
    at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
    return (at.date() - timedelta(days=1)).isoformat()


def monitor_schedule(job: AssetJob) -> ScheduleDefinition:
    """Daily at 02:00 UTC, for the day that just ended (off by default).

    The monitor job's partitions include today, so Dagster's partitioned-job schedule would pick today's partition
    (the day just begun); this one requests yesterday's, computed from the tick's scheduled time.
    """
    partitions = job.partitions_def
    if not isinstance(partitions, TimeWindowPartitionsDefinition):
        raise TypeError(f"{job.name} must be daily-partitioned to be scheduled, got {partitions!r}")
    first = partitions.start.date()
    last = None if partitions.end is None else (partitions.end - timedelta(days=1)).date()

    @schedule(
        name=f"{job.name}_schedule",
        job=job,
        cron_schedule="0 2 * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
        description=f"Daily at 02:00 UTC: {job.name} for the day (UTC) that just ended.",
    )
    def _monitor_schedule(context: ScheduleEvaluationContext):
        day = ended_day(context.scheduled_execution_time or datetime.now(timezone.utc))
        if day < first.isoformat() or (last is not None and day > last.isoformat()):
            return SkipReason(f"{day} is outside {job.name}'s days ({first} to {last or 'today'})")
        return RunRequest(run_key=day, partition_key=day)

    return _monitor_schedule


def labeled_traffic_job(spec: ProjectSpec) -> AssetJob:
    """``<project>__label_traffic``: one feedback day's labels joined to their predictions (a training input)."""
    return define_asset_job(
        name=f"{spec.name}__label_traffic",
        selection=AssetSelection.assets([spec.name, C.LABELED_TRAFFIC]),
        partitions_def=monitoring_partitions(spec),
        description=f"Join one day's '{spec.name}' feedback labels to the live predictions they are about.",
        tags={"project": spec.name},
    )
