"""The lineage of one served prediction: its log rows -> model version -> MLflow run -> training set -> feature
partitions -> raw partitions, each with the Dagster run that produced it (public Dagster APIs only)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from dagster import AssetKey, DagsterInstance

from mlops_assets import constants as C
from mlops_assets.lineage.history import LIMIT, champion_at, iso, model_history
from mlops_assets.lineage.logs import find_in_projects
from mlops_assets.lineage.report import trigger_of
from mlops_assets.records import latest, metadata_value as _md
from mlops_assets.resources.storage import ParquetIOManager
from mlops_assets.spec import PREDICTION_LOG_COLUMNS

DATA_VERSION_TAG = "dagster/data_version"  # the tag Dagster records a materialization's data version under


def _json(v):
    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v.item() if hasattr(v, "item") else v


def _run(instance: DagsterInstance, run_id: str) -> dict:
    run = instance.get_run_by_id(run_id)
    tags = dict(run.tags) if run is not None else {}
    return {"run_id": run_id, "job": run.job_name if run is not None else "?", "trigger": trigger_of(tags)[0],
            "status": run.status.value if run is not None else "unknown"}


def _request_rows(preds: pd.DataFrame, feedback: pd.DataFrame) -> list[dict]:
    labels = {}
    for _, f in feedback.iterrows():  # the newest label of each row wins
        labels[int(f["row"])] = (_json(f["label"]), _json(f["time"]))
    inputs = [c for c in preds.columns if c not in PREDICTION_LOG_COLUMNS and c != "date"]
    out = []
    for _, r in preds.iterrows():
        label, at = labels.get(int(r["row"]), (None, None))
        out.append({"row": int(r["row"]), "role": r["role"], "model_version": str(r["model_version"]),
                    "prediction": _json(r["prediction"]), "score": _json(r["score"]),
                    "data_version": _json(r.get("data_version")), "feature_hash": _json(r.get("feature_hash")),
                    "inputs": {c: _json(r[c]) for c in inputs}, "label": label, "feedback_time": at})
    return out


def _training_set(instance: DagsterInstance, project: str, version: str):
    key = AssetKey([project, C.TRAINING_SET])
    for record in instance.fetch_materializations(key, limit=LIMIT).records:
        m = record.asset_materialization
        if m.tags.get(DATA_VERSION_TAG) == version or _md(record, "content_hash") == version:
            return record
    raise LookupError(f"{project}/training_set has no materialization with data version {version} in this Dagster "
                      "instance (DAGSTER_HOME): was the model trained against another instance?")


def _days(start: str, end: str) -> list[str]:
    a, b = date.fromisoformat(start), date.fromisoformat(end)
    return [(a + timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


def _partitions(instance: DagsterInstance, project: str, store: ParquetIOManager, days: list[str], before: float,
                seen: dict) -> list[dict]:
    out = []
    for day in days:
        feat = latest(instance, AssetKey([project, C.FEATURES_ASSET]), day, before)
        if feat is None:
            out.append({"partition": day, "data_version": None, "content_hash": None, "run": None, "raw": None,
                        "seen_by_training_set": seen.get(f"warehouse:{day}")})
            continue
        raw = latest(instance, AssetKey([project, C.RAW_DATA]), day, feat.timestamp + 1e-6)
        raw_info = None if raw is None else {
            "partition": day, "content_hash": _md(raw, "content_hash"),
            "data_version": raw.asset_materialization.tags.get(DATA_VERSION_TAG),
            "source": _md(raw, "source"), "seed": _md(raw, "seed"), "file_sha256": _md(raw, "file_sha256"),
            "path": store.location([project, C.RAW_DATA], day), "run": _run(instance, raw.run_id),
            "materialized_at": iso(raw.timestamp)}
        out.append({"partition": day, "data_version": feat.asset_materialization.tags.get(DATA_VERSION_TAG),
                    "content_hash": _md(feat, "content_hash"), "seen_by_training_set": seen.get(f"warehouse:{day}"),
                    "run": _run(instance, feat.run_id), "materialized_at": iso(feat.timestamp), "raw": raw_info})
    return out


def trace(request_id: str, data_dir: str | Path, instance: DagsterInstance, tracking) -> dict:
    """The whole chain of ``request_id`` as a JSON-ready dict (see :func:`.report.chain_text` for the text).

    ``tracking`` is the :class:`~mlops_assets.resources.tracking.MlflowTracking` resource of the store the model
    came from. Raises LookupError, saying where it looked, when a link is missing.
    """
    found = find_in_projects(data_dir, request_id)
    if found is None:
        raise LookupError(f"request {request_id} is in no prediction log under {Path(data_dir).resolve()}/predictions:"
                          " check the id (the answer's request_id or its x-request-id header) and MLOPS_DATA_DIR")
    project, logged = found
    rows = _request_rows(logged["predictions"], logged["feedback"])
    answered = [r for r in rows if r["role"] != "shadow"] or rows
    version, at = answered[0]["model_version"], logged["predictions"]["time"].min()
    client = tracking.client()
    mv = client.get_model_version(project, version)
    run = client.get_run(mv.run_id)
    champion_then = champion_at(model_history(instance, project), at.isoformat(timespec="seconds"))
    alias_then = "champion" if champion_then == version else (answered[0]["role"] if answered[0]["role"] != "live"
                                                              else None)
    ts_version = mv.tags.get(C.TRAINING_SET_VERSION_TAG)
    ts = _training_set(instance, project, ts_version)
    seen = _md(ts, "upstream_data_versions") or {}
    window = {k: _md(ts, k) for k in ("window_start", "window_end", "holdout_start", "train_rows", "holdout_rows")}
    traffic = _md(ts, "labeled_traffic_days")
    return {
        "project": project,
        "request": {"request_id": request_id, "time": at.isoformat(), "rows": rows},
        "model": {"name": project, "version": version, "alias_at_time": alias_then,
                  "aliases_now": list(mv.aliases or []), "model_uri": f"models:/{project}/{version}",
                  "data_version": ts_version},
        "mlflow_run": {"run_id": mv.run_id, "experiment_id": run.info.experiment_id,
                       "link": tracking.run_url(run.info.experiment_id, mv.run_id),
                       "params": dict(run.data.params), "metrics": dict(run.data.metrics),
                       "dagster_run_id": run.data.tags.get("dagster_run_id")},
        "training_set": {"data_version": ts.asset_materialization.tags.get(DATA_VERSION_TAG) or ts_version, **window,
                         "labeled_traffic_days": None if traffic in (None, "none") else traffic,
                         "materialized_at": iso(ts.timestamp), "run": _run(instance, ts.run_id)},
        "features": _partitions(instance, project, ParquetIOManager(data_dir=str(data_dir)),
                                _days(window["window_start"], window["window_end"]),
                                ts.timestamp, seen),
    }
