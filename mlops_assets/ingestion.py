"""Ingesting a range of days of one project (raw -> validated -> features) as one run, day-by-day gated.

A range runs as one Dagster run (the chain's assets have single-run backfill policies), so dbt starts once per
range. Each day is judged on its own: a day failing a blocking check keeps its raw batch and failing check
results, and its downstream partitions are not built. Dagster cannot materialize part of a range step
(dagster-io/dagster#17836), so a failed blocking check stops the range's downstream steps; the good days are then
built in one follow-up run per stretch of consecutive good days (`good_stretches`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlops_assets import constants as C

#: Dagster's run tags for a run over a range of partitions (what `dagster asset materialize --partition-range` sets).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
#: On a follow-up run of the good days, the id of the range run it follows up; on a range run whose caller follows
#: up itself (`ingest_range`), "caller": the `<project>__ingest_good_days` sensor leaves runs carrying it alone.
FOLLOW_UP_TAG = "mlops/ingest_follow_up"


@dataclass
class IngestResult:
    """What an ingest of a range of days did."""

    project: str
    run_ids: list[str] = field(default_factory=list)
    #: days whose features now exist
    ingested: list[str] = field(default_factory=list)
    #: day -> names of the blocking checks that failed on it (its downstream partitions were not built)
    blocked: dict[str, list[str]] = field(default_factory=dict)
    #: raw rows loaded over the range
    rows: int = 0
    #: False when a run failed for another reason than blocked days
    success: bool = True


def range_tags(first: str, last: str) -> dict[str, str]:
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def good_stretches(days: list[str], blocked: set[str] | dict) -> list[tuple[str, str]]:
    """The (first, last) day of each stretch of consecutive days in `days` (in order) that are not blocked.

    >>> good_stretches(["d1", "d2", "d3", "d4", "d5"], {"d3"})
    [('d1', 'd2'), ('d4', 'd5')]
    >>> good_stretches(["d1", "d2"], {"d1", "d2"})
    []
    """
    out: list[tuple[str, str]] = []
    current: list[str] = []
    for day in [*days, None]:
        if day is not None and day not in blocked:
            current.append(day)
            continue
        if current:
            out.append((current[0], current[-1]))
        current = []
    return out


def blocked_days(check_evaluations) -> dict[str, list[str]]:
    """Day -> the blocking checks that failed on it, from a run's check evaluations."""
    out: dict[str, list[str]] = {}
    for evaluation in check_evaluations:
        if not evaluation.passed and evaluation.blocking and evaluation.partition is not None:
            out.setdefault(evaluation.partition, []).append(evaluation.check_name)
    return {day: sorted(names) for day, names in sorted(out.items())}


def _execute(job, first: str, last: str, instance, run_config: dict | None, follow_up: str, asset_selection=None):
    tags = {FOLLOW_UP_TAG: follow_up} if first == last else {FOLLOW_UP_TAG: follow_up, **range_tags(first, last)}
    options = {"partition_key": first} if first == last else {}
    return job.execute_in_process(
        instance=instance, raise_on_error=False, run_config=run_config, asset_selection=asset_selection, tags=tags,
        **options,
    )


def ingest_range(defs, spec, partition_keys: list[str], instance, run_config: dict | None = None) -> IngestResult:
    """Materialize the project's ingest chain for `partition_keys` (consecutive days) as one run; then, if some
    days were blocked, build the good days' downstream in one run per stretch of good days."""
    from dagster import AssetKey

    from mlops_assets.automation import ingest_selection

    days = sorted(partition_keys)
    result = IngestResult(project=spec.name)
    job = defs.resolve_job_def(f"{spec.name}__ingest")
    raw_key = AssetKey([spec.name, C.RAW_DATA])
    features_key = AssetKey([spec.name, C.FEATURES_ASSET])
    runs = [_execute(job, days[0], days[-1], instance, run_config, "caller")]
    result.blocked = blocked_days(runs[0].get_asset_check_evaluations())
    if result.blocked and not runs[0].success:
        downstream = [k for k in ingest_selection(spec).resolve(defs.resolve_asset_graph()) if k != raw_key]
        # Raw is not re-run: drop its op config (rows/seed/drift), keep the rest (loggers, other ops).
        config = {**(run_config or {})}
        config["ops"] = {k: v for k, v in config.get("ops", {}).items() if k != f"{spec.name}__{C.RAW_DATA}"}
        for first, last in good_stretches(days, result.blocked):
            runs.append(_execute(job, first, last, instance, config, runs[0].run_id, asset_selection=downstream))
    built = set()
    for run in runs:
        result.run_ids.append(run.run_id)
        for event in run.get_asset_materialization_events():
            materialization = event.materialization
            if materialization.asset_key == features_key:
                built.add(materialization.partition)
            elif materialization.asset_key == raw_key and "dagster/row_count" in materialization.metadata:
                result.rows += int(materialization.metadata["dagster/row_count"].value)
    result.ingested = sorted(built)
    result.success = set(result.ingested) | set(result.blocked) == set(days)
    return result
