"""The whole Definitions: both projects' graphs, a group per project and a stage tag per asset, jobs and schedules; CLI validation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey, AssetSelection

from mlops_assets.definitions import defs
from mlops_assets.partitions import monitoring_partitions
from mlops_assets.spec import load_spec

from .helpers import PROJECTS, REPO


def test_definitions_snapshot():
    d = defs()
    graph = d.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    # One group per project (the global lineage shows one box per project); the stage is the `stage` tag.
    assert {key.to_user_string(): graph.get(key).group_name for key in keys} == {
        key.to_user_string(): key.path[0] for key in keys}
    stages = {key.to_user_string(): graph.get(key).tags["stage"] for key in keys}
    assert {key.to_user_string(): graph.get(key).tags["project"] for key in keys} == {
        key.to_user_string(): key.path[0] for key in keys}
    assert stages == {
        "churn/raw_data": "ingestion",
        "churn/validated_data": "validation",
        "churn/stg_churn": "features",
        "churn/features": "features",
        "housing/raw_data": "ingestion",
        "housing/validated_data": "validation",
        "housing/features": "features",
        **{f"{p}/{n}": g for p in ("churn", "housing") for n, g in (
            ("training_set", "training"), ("candidate_model", "training"),
            ("evaluation_report", "evaluation"), ("champion", "promotion"),
            ("reference_profile", "monitoring"), ("drift_report", "monitoring"), ("performance_report", "monitoring"),
            ("labeled_traffic", "monitoring"),
            ("endpoint", "deployment"), ("prediction_log", "monitoring"), ("feedback", "monitoring"))},
    }
    # The README's selection of one project's ingest chain (what the <project>__ingest job runs).
    chain = AssetSelection.from_string("group:churn and tag:chain=ingest").resolve(graph)
    assert {k.to_user_string() for k in chain} == {
        "churn/raw_data", "churn/validated_data", "churn/stg_churn", "churn/features"}
    assert chain == d.resolve_job_def("churn__ingest").asset_layer.selected_asset_keys
    # Lineage: dbt's source is our validated asset; the features model reads the staging model.
    assert graph.get(AssetKey(["churn", "stg_churn"])).parent_keys == {AssetKey(["churn", "validated_data"])}
    assert graph.get(AssetKey(["churn", "features"])).parent_keys == {AssetKey(["churn", "stg_churn"])}
    assert graph.get(AssetKey(["housing", "features"])).parent_keys == {AssetKey(["housing", "validated_data"])}
    raw_checks = {k.name for k in graph.get(AssetKey(["churn", "raw_data"])).check_keys}
    assert {"columns_present", "dtypes", "value_ranges", "categories", "unique_ids", "min_rows"} <= raw_checks
    jobs = {j.name for j in d.resolve_all_job_defs()}
    assert {"churn__ingest", "housing__ingest", "churn__train", "churn__reproduce", "housing__train",
            "churn__rollback", "churn__monitor", "churn__sync_champion", "housing__sync_champion"} <= jobs
    for name in ("churn__rollback", "churn__sync_champion"):  # the alias moves, then its reference, then serving
        assert {k.to_user_string() for k in d.resolve_job_def(name).asset_layer.selected_asset_keys} == {
            "churn/champion", "churn/reference_profile", "churn/endpoint"}
    gates = {k.name for k in graph.get(AssetKey(["churn", "evaluation_report"])).check_keys}
    assert gates == {"meets_thresholds", "not_worse_than_champion", "slice_gap_within"}
    assert graph.get(AssetKey(["churn", "candidate_model"])).parent_keys == {AssetKey(["churn", "training_set"])}
    schedules = {s.name: s for s in d.schedules}
    assert schedules["churn__ingest_schedule"].cron_schedule == "0 1 * * *"
    assert schedules["churn__ingest_schedule"].job_name == "churn__ingest"
    assert schedules["churn__train_schedule"].cron_schedule == "0 3 * * 1"
    assert schedules["churn__train_schedule"].job_name == "churn__train"
    assert schedules["housing__monitor_schedule"].cron_schedule == "0 2 * * *"
    # Monitoring days include today; the schedule still runs the day that has just ended (yesterday), off by default.
    monitor = schedules["churn__monitor_schedule"]
    assert (monitor.job_name, monitor.execution_timezone, monitor.default_status.value) == (
        "churn__monitor", "UTC", "STOPPED")
    assert d.resolve_job_def("churn__monitor").partitions_def == monitoring_partitions(load_spec(PROJECTS / "churn.yaml"))
    sensors = {s.name: s for s in d.sensors}
    for p in ("churn", "housing"):
        assert {f"{p}__drift", f"{p}__performance", f"{p}__alert_on_run_failure", f"{p}__alert_on_freshness",
                f"{p}__automation_conditions"} <= set(sensors)
        automation = sensors[f"{p}__automation_conditions"]
        assert automation.default_status.value == "RUNNING"
        targeted = automation.asset_selection.resolve(graph)
        assert AssetKey([p, "reference_profile"]) in targeted and {k.path[0] for k in targeted} == {p}
    assert sensors["churn__champion_alias"].job_name == "churn__sync_champion"
    assert sensors["churn__champion_alias"].default_status.value == "RUNNING"
    assert graph.get(AssetKey(["churn", "reference_profile"])).automation_condition is not None
    for name in ("churn__drift", "churn__performance"):
        # Named jobs: the retrain, and the runs that bring its new data in first.
        assert {j.name for j in sensors[name].jobs} == {"churn__train", "churn__ingest", "churn__label_traffic"}
        retrain_job = d.resolve_job_def("churn__train")
        assert {k.to_user_string() for k in retrain_job.asset_layer.selected_asset_keys} == {
            "churn/training_set", "churn/candidate_model", "churn/evaluation_report", "churn/champion",
            "churn/reference_profile", "churn/endpoint"}
    # Freshness policies so staleness shows in the UI.
    for key in (["churn", "raw_data"], ["churn", "features"], ["churn", "champion"], ["housing", "features"],
                ["churn", "endpoint"]):
        assert graph.get(AssetKey(key)).freshness_policy is not None, key


def test_dagster_definitions_validate_passes(tmp_path):
    env = {**os.environ, "MLOPS_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All code locations passed validation" in proc.stdout + proc.stderr
