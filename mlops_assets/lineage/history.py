"""A project's model history from the Dagster instance: every move of the champion alias, why, and on what data.

Read with public APIs only: the champion asset's materializations (``fetch_materializations``), their runs' tags
(``dagster/sensor_name``, ``dagster/schedule_name``, our sensors' ``mlops/*`` evidence), the evaluation report
materialized before each promotion (its gates) and the MLflow tags of the versions (their training windows).
"""

from __future__ import annotations

from datetime import datetime, timezone

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from mlops_assets import constants as C
from mlops_assets.lineage.report import new_data, trigger_of

LIMIT = 10_000


def _value(metadata: dict, key: str):
    entry = metadata.get(key)
    return None if entry is None else entry.value


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def _gates_before(instance: DagsterInstance, project: str, timestamp: float) -> dict | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(AssetKey([project, C.EVALUATION_REPORT]), before_timestamp=timestamp + 1e-6), limit=1).records
    if not records:
        return None
    md = records[0].asset_materialization.metadata
    return _value(md, "gates") or {"gates_passed": bool(_value(md, "gates_passed"))}


def _version_tags(client, project: str, version: str | None) -> dict:
    if client is None or not version:
        return {}
    from mlflow.exceptions import MlflowException

    try:
        return dict(client.get_model_version(project, str(version)).tags or {})
    except MlflowException:
        return {}


def history_row(instance: DagsterInstance, project: str, client, *, timestamp: float, action: str,
                from_version: str | None, to_version: str, reason: str, run_id: str) -> dict:
    """One move: its trigger from the run's tags, its gates (promotions) and the data new in it."""
    run = instance.get_run_by_id(run_id)
    tags = dict(run.tags) if run is not None else {}
    who, evidence = trigger_of(tags)
    new = (new_data(_version_tags(client, project, to_version), _version_tags(client, project, from_version) or None)
           if client is not None else "")
    return {"time": iso(timestamp), "action": action, "from_version": from_version, "to_version": to_version,
            "trigger": who, "evidence": evidence, "reason": reason,
            "gates": _gates_before(instance, project, timestamp) if action == "promote" else None,
            "new_data": new, "run_id": run_id, "job": run.job_name if run is not None else "?"}


def model_history(instance: DagsterInstance, project: str, client=None) -> list[dict]:
    """Every champion move of ``project``, oldest first (re-materializations that moved nothing are left out).

    ``client`` (an ``MlflowClient``) adds the data each model was trained on that its predecessor was not.
    """
    records = instance.fetch_materializations(AssetKey([project, C.CHAMPION]), limit=LIMIT, ascending=True).records
    rows, current = [], None
    for record in records:
        md = record.asset_materialization.metadata
        version = str(_value(md, "champion_version"))
        if version == current:
            continue
        reason = _value(md, "reason") or ""
        rows.append(history_row(instance, project, client, timestamp=record.timestamp,
                                action=str(_value(md, "action")), from_version=current, to_version=version,
                                reason=reason, run_id=record.run_id))
        current = version
    return rows


def champion_at(rows: list[dict], at: str) -> str | None:
    """The champion version at ISO time ``at`` according to the history rows (None before the first move)."""
    version = None
    for r in rows:
        if r["time"] <= at:
            version = r["to_version"]
    return version
