"""The model history: a manual promotion, a promotion by the drift sensor and a rollback, each with its trigger,
evidence, gates and new data, in `lineage.history.model_history` and on the champion asset's `model_history`.

Drives the closed loop of test_closed_loop (real instance, MLflow sqlite store, model server); the sensor's run
request is executed with the tags the daemon adds to it (``dagster/sensor_name``).
"""

from __future__ import annotations

from dagster import AssetKey
from mlflow import MlflowClient

from mlops_assets.lineage.history import model_history
from mlops_assets.resources.tracking import CHAMPION

from .deployment.helpers import stopping
from .monitoring.helpers import retrain_targets
from .closed_loop import (DRIFT, LIVE_DAYS, Clock, _bootstrap, _ingest, _live_version, _loop_spec, _send_traffic,
                               _tick_until_quiet, _wait_logged, loop)  # noqa: F401  (loop: the fixture)
from mlops_assets.monitoring.sensors import build_drift_sensor


def test_history_lists_a_manual_promotion_a_drift_promotion_and_a_rollback_with_their_evidence(loop):
    instance, data_dir, resources = loop
    spec = _loop_spec()
    with stopping(resources["deployer"], spec):
        defs, url = _bootstrap(spec, instance, data_dir, resources)  # v1: churn__train launched by hand
        sent = _send_traffic(spec, url, LIVE_DAYS, DRIFT)
        _ingest(spec, instance, resources, LIVE_DAYS, DRIFT)
        _wait_logged(data_dir, sent)
        sensor = build_drift_sensor(spec, retrain_targets(spec), clock=Clock())
        fired, _ = _tick_until_quiet(sensor, instance, resources)
        assert len(fired) == 1
        request = fired[0]
        daemon_tags = {**request.tags, "dagster/sensor_name": sensor.name, "dagster/run_key": request.run_key}
        assert defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, run_config=request.run_config, tags=daemon_tags).success
        assert _live_version(url) == "2"
        assert defs.resolve_job_def("churn__rollback").execute_in_process(instance=instance).success
        assert _live_version(url) == "1"

    client = MlflowClient(resources["tracking"].tracking_uri)
    rows = model_history(instance, "churn", client)
    assert [(r["action"], r["from_version"], r["to_version"]) for r in rows] == [
        ("promote", None, "1"), ("promote", "1", "2"), ("rollback", "2", "1")]
    manual, drift, rollback = rows
    assert manual["trigger"].startswith("manual run") and manual["job"] == "churn__train"
    assert drift["trigger"] == f"sensor {sensor.name} (drift)" and drift["job"] == "churn__train"
    assert "monthly_charges" in drift["evidence"] and "effect_size" in drift["evidence"]
    assert rollback["trigger"].startswith("manual run") and rollback["job"] == "churn__rollback"
    assert rollback["reason"] == "rollback requested" and rollback["gates"] is None
    for promotion in (manual, drift):  # the gates of the report each promotion was decided on, all passed
        assert promotion["gates"] and all(g["passed"] for g in promotion["gates"].values())
    # The data new in each model, from the versions' MLflow training windows.
    v1, v2 = (client.get_model_version("churn", v).tags for v in ("1", "2"))
    assert manual["new_data"].startswith(f"days {v1['window_start']}..{v1['window_end']}")
    assert v2["window_end"] == LIVE_DAYS[-1].isoformat()
    assert drift["new_data"].startswith(f"days {LIVE_DAYS[0]}..{LIVE_DAYS[-1]} (3)")
    assert rollback["new_data"] == "none (same window)" or rollback["new_data"].startswith("days")
    assert resources["tracking"].alias_version("churn", CHAMPION) == "1"

    # The same history on the champion asset, as the UI shows it (newest first).
    latest = instance.get_latest_materialization_event(AssetKey(["churn", "champion"])).asset_materialization
    table = latest.metadata["model_history"].value.splitlines()
    assert len(table) == 2 + 3
    assert "rollback" in table[2] and f"sensor {sensor.name} (drift)" in table[3] and "manual run" in table[4]
    assert "monthly_charges" in table[3] and "meets_thresholds pass" in table[3]
