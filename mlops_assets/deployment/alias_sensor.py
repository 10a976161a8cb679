"""The ``<project>__champion_alias`` sensor: when the registry's champion alias is moved by hand, sync to it."""

from __future__ import annotations

from datetime import datetime, timezone

from dagster import (
    AssetKey, DefaultSensorStatus, EventLogRecord, RunRequest, SensorDefinition, SensorEvaluationContext, SkipReason,
    sensor,
)

from mlops_assets import constants as C
from mlops_assets.dagster_types import AssetJob
from mlops_assets.records import latest, metadata_value
from mlops_assets.resources.tracking import CHAMPION, MlflowTracking
from mlops_assets.spec import ProjectSpec

TRIGGER_TAG = "mlops/trigger"


def alias_request(project: str, alias: str | None, recorded: str | None, written: str = "") -> RunRequest | SkipReason:
    """What one tick decides, from the registry's alias and the champion's latest materialization: the version it
    `recorded` (None: never materialized) and when it was `written` (pure).

    The run key names the record being replaced (its version and when it was written) and the alias's version, so
    one move is requested once, and the same move made again later (after another rollback) is requested again.
    """
    if alias is None:
        if recorded is None:
            return SkipReason(f"no '{CHAMPION}' alias in the registry and no champion record: nothing promoted yet")
        return SkipReason(f"the registry has no '{CHAMPION}' alias while {project}/champion records v{recorded}: "
                          f"set the alias in MLflow to the version to serve (this sensor then syncs to it)")
    if alias == recorded:
        return SkipReason(f"the '{CHAMPION}' alias and {project}/champion agree: v{alias} is the champion")
    return RunRequest(
        run_key=f"{project}-alias-v{recorded or 'none'}@{written}-to-v{alias}",
        run_config={"reason": f"'{CHAMPION}' alias moved in the registry from v{recorded or 'none'} to v{alias}"},
        tags={"project": project, TRIGGER_TAG: "alias_moved", "mlops/from_version": recorded or "none",
              "mlops/to_version": alias},
    )


def build_alias_sensor(
    spec: ProjectSpec,
    sync_job: AssetJob,
    *,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
) -> SensorDefinition:
    """A sensor requesting `sync_job` (``<project>__sync_champion``) when the alias leaves the champion record.

    Resources: ``tracking`` (the registry). The champion record is the instance's latest materialization of
    ``<project>/champion`` (its ``champion_version`` metadata).
    """

    @sensor(
        name=f"{spec.name}__champion_alias",
        job=sync_job,
        minimum_interval_seconds=spec.monitoring.sensor_interval_seconds,
        default_status=default_status,
        description=(f"Syncs '{spec.name}' (champion record, reference profile, endpoint) to the registry's "
                     f"'{CHAMPION}' alias when it is moved by hand in MLflow."),
    )
    def champion_alias(context: SensorEvaluationContext, tracking: MlflowTracking):
        alias = tracking.alias_version(spec.name, CHAMPION)
        record = latest(context.instance, AssetKey([spec.name, C.CHAMPION]))
        return alias_request(spec.name, alias, *recorded_champion(record))

    return champion_alias


def recorded_champion(record: EventLogRecord | None) -> tuple[str | None, str]:
    """The version a champion materialization recorded and when it was written (None, "" when never)."""
    if record is None:
        return None, ""
    version = metadata_value(record, "champion_version")
    return (None if version is None else str(version),
            datetime.fromtimestamp(record.timestamp, tz=timezone.utc).isoformat())
