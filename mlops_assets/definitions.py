"""The one assembly point: every project spec's assets, jobs, schedules and resources."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from dagster import (
    AssetKey,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    EnvVar,
    definitions,
)

from mlops_assets import constants as C
from mlops_assets import locations
from mlops_assets.locations import local_tracking_uri  # noqa: F401  (re-exported: tests and tools use it here)
from mlops_assets.spec import DbtFeatures, ProjectSpec, load_specs

# The asset factories, sensors and resources are imported by the functions that build the definitions, not here:
# importing this module (every `dagster` CLI call, every run worker) costs Dagster's own import, and the
# definitions are built once, lazily, by `defs` (Dagster's `@definitions`).

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_resources(data_dir: str | EnvVar | None = None, tracking_uri: str | EnvVar | None = None) -> dict:
    """Resources on embedded defaults, all rooted in the one data directory (MLflow: sqlite inside it).

    With no `data_dir`, each setting is bound from its environment variable when set (`MLOPS_DATA_DIR`,
    `MLFLOW_TRACKING_URI`, `MLOPS_ALERT_WEBHOOK_URL`; the Makefile sets them; the model servers' first port is
    `MLOPS_SERVING_BASE_PORT`, default 8081, at any `data_dir`) and otherwise takes the embedded
    default of :mod:`mlops_assets.locations`, so `dagster dev` works from a clone with nothing set.
    """
    from mlops_assets.deployment.local_process import LocalProcessDeployer
    from mlops_assets.monitoring.alerts import AlertSink
    from mlops_assets.resources.dbt import DBT_PROJECT_DIR, DbtProjectResource
    from mlops_assets.resources.storage import DataDirectory, JsonIOManager, ParquetIOManager
    from mlops_assets.resources.tracking import MlflowTracking

    webhook: str | EnvVar = ""
    if data_dir is None:
        data_dir = EnvVar(C.DATA_DIR_ENV) if locations.is_set(C.DATA_DIR_ENV) else str(locations.data_dir())
        if tracking_uri is None and locations.is_set(C.TRACKING_URI_ENV):
            tracking_uri = EnvVar(C.TRACKING_URI_ENV)
        if locations.is_set(C.ALERT_WEBHOOK_ENV):
            webhook = EnvVar(C.ALERT_WEBHOOK_ENV)
    if tracking_uri is None:
        tracking_uri = local_tracking_uri(
            locations.data_dir() if isinstance(data_dir, EnvVar) else data_dir)
    return {
        "io_manager": ParquetIOManager(data_dir=data_dir),
        "json_io_manager": JsonIOManager(data_dir=data_dir),
        # MLflow run links only when an MLflow UI serves the store (`make dev` starts one and sets the variable).
        "tracking": MlflowTracking(tracking_uri=tracking_uri, ui_url=os.environ.get(C.MLFLOW_UI_URL_ENV, "")),
        "deployer": LocalProcessDeployer(data_dir=data_dir, tracking_uri=tracking_uri,
                                         base_port=locations.serving_base_port()),
        "alerts": AlertSink(webhook_url=webhook),
        "storage": DataDirectory(data_dir=data_dir),
        # Configuration only: dbt-core is imported by the steps that run dbt.
        "dbt": DbtProjectResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR)),
    }


@functools.cache
def shared_resources() -> dict:
    """One set of :func:`default_resources` per process: every `ModelProject` component of a dg project binds
    these same objects, which is what lets Dagster merge their definitions (it refuses two different resources
    under one key). Read once: the environment is the process's start-up configuration."""
    return default_resources()


def build_project_definitions(spec: ProjectSpec, dbt_manifest: Path | None = None) -> Definitions:
    """One project's assets, jobs, schedules and sensors (its alerts and declarative automation included),
    without resources: what :func:`build_definitions` and the `ModelProject` component merge."""
    from mlops_assets.automation import (
        ingest_job,
        ingest_selection,
        ingest_schedule,
        labeled_traffic_job,
        monitor_job,
        monitor_schedule,
        train_job,
        train_schedule,
    )
    from mlops_assets.data.good_days_sensor import build_good_days_sensor
    from mlops_assets.deployment.alias_sensor import build_alias_sensor
    from mlops_assets.deployment.assets import build_rollback_job, build_sync_champion_job
    from mlops_assets.monitoring.alerts import build_alert_sensors
    from mlops_assets.monitoring.freshness import policies_by_key
    from mlops_assets.monitoring.sensors import RetrainTargets, build_monitoring_sensors
    from mlops_assets.project_assets import build_project_assets
    from mlops_assets.resources.dbt import cached_manifest
    from mlops_assets.training.jobs import build_reproduce_job

    if dbt_manifest is None and isinstance(spec.features, DbtFeatures):
        dbt_manifest = cached_manifest()
    ingest, train, monitor = ingest_job(spec), train_job(spec), monitor_job(spec)
    traffic = labeled_traffic_job(spec)
    sync_champion = build_sync_champion_job(spec)  # the registry's champion alias moved by hand
    assets = build_project_assets(spec, dbt_manifest)
    raw_key = AssetKey([spec.name, C.RAW_DATA])
    downstream = sorted(k for k in ingest_selection(spec).resolve(assets) if k != raw_key)
    sensors = [
        build_good_days_sensor(spec, ingest, downstream),
        *build_monitoring_sensors(spec, RetrainTargets(train=train, ingest=ingest, labeled_traffic=traffic)),
        build_alias_sensor(spec, sync_champion),
        *build_alert_sensors(policies_by_key([spec]), project=spec.name),
        # Declarative automation (reference_profile follows the champion) evaluated by the daemon, on by default.
        AutomationConditionSensorDefinition(
            f"{spec.name}__automation_conditions",
            target=AssetSelection.key_prefixes([spec.name]),
            default_status=DefaultSensorStatus.RUNNING,
        ),
    ]
    return Definitions(
        assets=assets,
        jobs=[ingest, train, monitor, traffic, build_reproduce_job(spec), build_rollback_job(spec), sync_champion],
        schedules=[ingest_schedule(ingest), train_schedule(train), monitor_schedule(monitor)],
        sensors=sensors,
    )


def platform_definitions(resources: dict | None = None) -> Definitions:
    """What every project shares: the resources and the executor."""
    from mlops_assets.executors import deployment_executor

    return Definitions(
        resources=resources if resources is not None else shared_resources(),
        # Chosen per deployment by MLOPS_EXECUTOR (mlops_assets/executors.py). The default, in_process: steps here
        # are small pandas/dbt steps on a 2-core box, where a process per step costs more than it buys.
        executor=deployment_executor(),
    )


def build_definitions(specs: list[ProjectSpec], resources: dict | None = None) -> Definitions:
    """Definitions for the given project specs."""
    from mlops_assets.resources.dbt import cached_manifest

    manifest = cached_manifest() if any(isinstance(s.features, DbtFeatures) for s in specs) else None
    return Definitions.merge(
        *(build_project_definitions(spec, manifest) for spec in specs), platform_definitions(resources)
    )


def projects_dir() -> Path:
    """Where the model-project specs are read from (`MLOPS_PROJECTS_DIR`, default ./projects)."""
    return Path(os.environ.get(C.PROJECTS_DIR_ENV, REPO_ROOT / "projects"))


@definitions
def defs() -> Definitions:
    return build_definitions(load_specs(projects_dir()))
