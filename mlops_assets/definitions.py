"""The one assembly point: every project spec's assets, jobs, schedules and resources."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    EnvVar,
    definitions,
    in_process_executor,
)

from mlops_assets import constants as C
from mlops_assets.automation import (
    ingest_job,
    ingest_schedule,
    labeled_traffic_job,
    monitor_job,
    monitor_schedule,
    train_job,
    train_schedule,
)
from mlops_assets.deployment.alias_sensor import build_alias_sensor
from mlops_assets.deployment.assets import build_rollback_job
from mlops_assets.deployment.assets import build_sync_champion_job
from mlops_assets.deployment.local_process import LocalProcessDeployer
from mlops_assets.monitoring.alerts import AlertSink, build_alert_sensors
from mlops_assets.monitoring.freshness import policies_by_key
from mlops_assets.monitoring.sensors import RetrainTargets, build_monitoring_sensors
from mlops_assets.project_assets import build_project_assets
from mlops_assets.resources.dbt import DBT_PROJECT_DIR, DbtProjectResource, cached_manifest
from mlops_assets.resources.storage import DataDirectory, JsonIOManager, ParquetIOManager
from mlops_assets.resources.tracking import MlflowTracking
from mlops_assets.spec import DbtFeatures, ProjectSpec, load_specs
from mlops_assets.training.jobs import build_reproduce_job

REPO_ROOT = Path(__file__).resolve().parents[1]


def local_tracking_uri(data_dir: str) -> str:
    """The embedded MLflow store: sqlite in the data directory (artifacts beside it)."""
    return f"sqlite:///{Path(data_dir).resolve()}/mlflow/mlflow.db"


def default_resources(data_dir: str | EnvVar = EnvVar(C.DATA_DIR_ENV), tracking_uri: str | EnvVar | None = None) -> dict:
    """Resources on embedded defaults, all rooted in the one data directory (MLflow: sqlite inside it).

    Bound from the environment (`MLOPS_DATA_DIR`, `MLFLOW_TRACKING_URI`; the Makefile sets both) unless given.
    """
    if tracking_uri is None:
        tracking_uri = EnvVar(C.TRACKING_URI_ENV) if isinstance(data_dir, EnvVar) else local_tracking_uri(data_dir)
    return {
        "io_manager": ParquetIOManager(data_dir=data_dir),
        "json_io_manager": JsonIOManager(data_dir=data_dir),
        "tracking": MlflowTracking(tracking_uri=tracking_uri),
        "deployer": LocalProcessDeployer(data_dir=data_dir, tracking_uri=tracking_uri),
        "alerts": AlertSink(webhook_url=EnvVar(C.ALERT_WEBHOOK_ENV) if isinstance(data_dir, EnvVar) else ""),
        "storage": DataDirectory(data_dir=data_dir),
        # Configuration only: dbt-core is imported by the steps that run dbt.
        "dbt": DbtProjectResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR)),
    }


def build_definitions(specs: list[ProjectSpec], resources: dict | None = None) -> Definitions:
    """Definitions for the given project specs."""
    manifest = cached_manifest() if any(isinstance(s.features, DbtFeatures) for s in specs) else None
    assets, jobs, schedules, sensors = [], [], [], []
    for spec in specs:
        assets += build_project_assets(spec, manifest)
        ingest, train, monitor = ingest_job(spec), train_job(spec), monitor_job(spec)
        traffic = labeled_traffic_job(spec)
        jobs += [ingest, train, monitor, traffic, build_reproduce_job(spec), build_rollback_job(spec)]
        schedules += [ingest_schedule(ingest), train_schedule(train), monitor_schedule(monitor)]
        sensors += build_monitoring_sensors(spec, RetrainTargets(train=train, ingest=ingest, labeled_traffic=traffic))
        sync_champion = build_sync_champion_job(spec)  # the registry's champion alias moved by hand
        jobs.append(sync_champion)
        sensors.append(build_alias_sensor(spec, sync_champion))
    sensors += build_alert_sensors(policies_by_key(specs))
    # Declarative automation (reference_profile follows the champion) evaluated by the daemon, on by default.
    sensors.append(
        AutomationConditionSensorDefinition(
            "automation_conditions", target=AssetSelection.all(), default_status=DefaultSensorStatus.RUNNING
        )
    )
    return Definitions(
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources=resources if resources is not None else default_resources(),
        # Steps here are small pandas/dbt steps on a 2-core box: a process per step costs more than it buys.
        executor=in_process_executor,
    )


def projects_dir() -> Path:
    """Where the model-project specs are read from (`MLOPS_PROJECTS_DIR`, default ./projects)."""
    return Path(os.environ.get(C.PROJECTS_DIR_ENV, REPO_ROOT / "projects"))


@definitions
def defs() -> Definitions:
    return build_definitions(load_specs(projects_dir()))
