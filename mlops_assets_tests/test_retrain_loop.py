"""The retraining loop with the real daemon: drift on day D → new days ingested → one retrain on new data that beats
the champion on the recent holdout → served → the reference follows → new-regime traffic stays quiet.

`dagster-daemon run` on a temporary DAGSTER_HOME runs the sensors, the queued runs and their workers; the model
server is a real process on 127.0.0.1. Nothing is ticked or executed by the test itself after the bootstrap.
"""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest

from mlops_assets.resources.tracking import CHAMPION, MlflowTracking

from .loop_timeline import PROJECT, LoopTimeline


@pytest.fixture
def timeline(request, tmp_path, monkeypatch):
    t = LoopTimeline(tmp_path, drift=request.param)
    t.write_files()
    for key, value in t.env.items():
        monkeypatch.setenv(key, value)
    instance = t.instance()
    try:
        yield t, instance
    finally:
        t.stop()
        instance.dispose()


def _ticks_since(t, instance, name, since):
    return [tick for tick in t.sensor_ticks(instance, name, limit=200) if tick.timestamp > since]


@pytest.mark.slow
@pytest.mark.parametrize("timeline", [True], indirect=True, ids=["drift_from_day_D"])
def test_one_retrain_on_new_data_beats_the_champion_and_the_loop_goes_quiet(timeline):
    t, instance = timeline
    t.bootstrap(instance)
    tracking = MlflowTracking(tracking_uri=t.env["MLFLOW_TRACKING_URI"])
    v1_tags = tracking.client().get_model_version(PROJECT, "1").tags
    t.start_daemon()

    sent = t.send(3 * t.window_rows, seed=101)  # drifted live traffic, every label fed back
    runs = t.wait(lambda: [r for r in t.retrain_runs(instance) if r.is_finished], 420, "the automatic retrain")
    assert len(runs) == 1 and runs[0].is_success, [(r.run_id, r.status) for r in runs]
    retrain = runs[0]
    assert retrain.job_name == f"{PROJECT}__train"  # a named job, tagged with its evidence
    assert retrain.tags["mlops/trigger"] in ("drift", "performance") and retrain.tags["mlops/evidence"]
    t.wait(lambda: t.version() == "2", 60, "/version to say 2")
    assert tracking.alias_version(PROJECT, CHAMPION) == "2"

    # It learned from new data: the days from D to yesterday, and the labelled traffic.
    v2_tags = tracking.client().get_model_version(PROJECT, "2").tags
    assert v2_tags["training_set_version"] != v1_tags["training_set_version"]
    assert v2_tags["training_set_version"] == retrain.tags["mlops/training_set_version"]
    yesterday = t.today - dt.timedelta(days=1)
    assert v1_tags["window_end"] < t.onset.isoformat() <= v2_tags["window_start"]
    assert v2_tags["window_end"] == yesterday.isoformat()
    assert t.today.isoformat() in v2_tags["labeled_traffic_days"].split(",")
    data = t.training_set()
    assert (data["source"] == "traffic").sum() > 0

    # It beats v1 on the same recent (drifted) holdout, with a CI above zero.
    report = t.evaluation()
    assert report["challenger_version"] == "2" and report["champion_version"] == "1"
    assert report["metrics"]["roc_auc"] > report["champion_metrics"]["roc_auc"]
    assert report["comparison"]["ci_low"] > 0

    # The reference follows, built from the newest days of the new window.
    reference = t.reference()
    assert reference["model_version"] == "2"

    # Continued new-regime traffic, several windows: no drift confirmed, no retrain (cooldown is 0).
    sending = time.time()  # the sensor may judge windows while the traffic is still being sent
    sent += t.send(4 * t.window_rows, seed=202, day=yesterday)
    since = t.wait_logged(sent)  # ticks after this have every row to read
    t.wait_quiet(instance, since, timeout_s=240)
    assert len(t.retrain_runs(instance)) == 1
    judged = [tick.skip_reason for tick in _ticks_since(t, instance, f"{PROJECT}__drift", sending)
              if tick.skip_reason and "window(s)" in tick.skip_reason]
    assert judged and all("no confirmed drift" in reason for reason in judged), judged
    assert t.version() == "2"

    # The recovered live metric shows in today's performance report: v2's labelled rows beat v1's.
    monitor = t.definitions().resolve_job_def(f"{PROJECT}__monitor")
    assert monitor.execute_in_process(instance=instance, partition_key=t.today.isoformat()).success
    perf = pd.read_parquet(t.data_dir / "assets" / PROJECT / "performance_report" / f"{t.today}.parquet")
    by_version = perf.set_index("model_version")
    assert by_version.loc["2", "value"] > by_version.loc["1", "value"]
    assert not by_version.loc["2", "decayed"] and by_version.loc["1", "decayed"]


@pytest.mark.slow
@pytest.mark.parametrize("timeline", [False], indirect=True, ids=["no_drift"])
def test_the_same_timeline_without_drift_requests_no_retrain(timeline):
    t, instance = timeline
    t.bootstrap(instance)
    t.start_daemon()
    sent = t.send(3 * t.window_rows, seed=101)
    sent += t.send(4 * t.window_rows, seed=202, day=t.today - dt.timedelta(days=1))
    since = t.wait_logged(sent)
    t.wait_quiet(instance, since, timeout_s=240)
    assert t.retrain_runs(instance) == []
    assert instance.get_runs_count() == len([r for r in instance.get_runs() if r.tags.get("mlops/trigger") is None])
    assert t.version() == "1"
