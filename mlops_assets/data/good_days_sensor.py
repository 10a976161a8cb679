"""After a range run of a project's ingest chain stops on blocked days, build the other days' downstream.

A range of days runs as one run, and Dagster cannot materialize part of a range step (dagster-io/dagster#17836): a
day failing a blocking check fails the range's validated step, so a UI backfill or a schedule's range would leave
every day of the range without features. `mlops_assets.ingestion.ingest_range` follows up in process; this sensor
does the same for the runs the daemon sees: one run per stretch of consecutive good days, raw not re-run (its
batches and the blocked days' failing checks stay as they are).
"""

from __future__ import annotations

from dagster import (
    AssetKey,
    DagsterEventType,
    DefaultSensorStatus,
    PartitionKeyRange,
    RunFailureSensorContext,
    RunRequest,
    SensorDefinition,
    SkipReason,
    run_failure_sensor,
)

from mlops_assets import constants as C
from mlops_assets.dagster_types import AssetJob
from mlops_assets.ingestion import (
    FOLLOW_UP_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    blocked_days,
    good_stretches,
    range_tags,
)
from mlops_assets.partitions import daily_partitions
from mlops_assets.spec import ProjectSpec


def run_days(run, partitions_def) -> list[str]:
    """The partition keys a run covered: its range tags, else its partition tag; [] for an unpartitioned run."""
    tags = run.tags
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        span = PartitionKeyRange(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
        return list(partitions_def.get_partition_keys_in_range(span))
    return [tags["dagster/partition"]] if "dagster/partition" in tags else []


def build_good_days_sensor(
    spec: ProjectSpec,
    ingest: AssetJob,
    downstream: list[AssetKey],
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
) -> SensorDefinition:
    """`<project>__ingest_good_days`: for a failed run that loaded `spec`'s raw data over days of which some failed
    a blocking check, requests `downstream` (the ingest chain without raw) for each stretch of good days."""
    raw_key = AssetKey([spec.name, C.RAW_DATA])
    partitions_def = daily_partitions(spec)

    @run_failure_sensor(
        name=f"{spec.name}__ingest_good_days",
        request_job=ingest,
        default_status=default_status,
        description=(
            f"When a run over a range of '{spec.name}' days stops on days failing a blocking check, builds the "
            "validated data and features of the other days (one run per stretch of consecutive good days)."
        ),
    )
    def ingest_good_days(context: RunFailureSensorContext):
        run = context.dagster_run
        if FOLLOW_UP_TAG in run.tags:
            yield SkipReason(f"run {run.run_id[:8]} is itself a follow-up (or its caller follows up): nothing to do")
            return
        if run.asset_selection and raw_key not in run.asset_selection:
            yield SkipReason(f"run {run.run_id[:8]} did not load {raw_key.to_user_string()}")
            return
        days = run_days(run, partitions_def)
        evaluations = [
            entry.get_dagster_event().event_specific_data
            for entry in context.instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        ]
        blocked = blocked_days(e for e in evaluations if e.asset_key == raw_key)
        if not days or not blocked:
            yield SkipReason(f"run {run.run_id[:8]} failed for another reason than blocked days: see its logs")
            return
        stretches = good_stretches(days, blocked)
        if not stretches:
            yield SkipReason(f"every day of run {run.run_id[:8]} was blocked: {', '.join(blocked)}")
            return
        context.log.info(f"blocked days {blocked}; building {len(stretches)} stretch(es) of good days")
        for first, last in stretches:
            tags = {FOLLOW_UP_TAG: run.run_id, "project": spec.name}
            if first == last:
                yield RunRequest(run_key=f"{run.run_id}:{first}", asset_selection=downstream, tags=tags,
                                 partition_key=first)
            else:
                yield RunRequest(run_key=f"{run.run_id}:{first}", asset_selection=downstream,
                                 tags={**tags, **range_tags(first, last)})

    return ingest_good_days
