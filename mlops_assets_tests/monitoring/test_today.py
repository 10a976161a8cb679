"""Today is monitorable: the monitor job runs on today's partition over the server's log so far; the schedule takes
the day that has just ended."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster import AssetKey, AssetSpec, Definitions, build_schedule_context, instance_for_test

from mlops_assets.automation import monitor_job, monitor_schedule
from mlops_assets.definitions import local_tracking_uri
from mlops_assets.deployment.assets import build_feedback, build_prediction_log
from mlops_assets.deployment.local_process import LocalProcessDeployer
from mlops_assets.monitoring.assets import build_drift_report, build_performance_report
from mlops_assets.partitions import IN_PROGRESS, daily_partitions, day_status, monitoring_partitions
from mlops_assets.resources.storage import DataDirectory, JsonIOManager, ParquetIOManager

from .helpers import LogWriter, monitored_spec, raw_rows, write_champion, write_reference

UTC = dt.timezone.utc
LIVE, SHADOW = 600, 200


def monitor_definitions(spec, data_dir) -> Definitions:
    """The monitor job's four assets; the champion and its reference are stored inputs (materialized by the test)."""
    stored = [AssetSpec(AssetKey([spec.name, name])).with_io_manager_key("json_io_manager")
              for name in ("champion", "reference_profile")]
    return Definitions(
        assets=[build_prediction_log(spec), build_feedback(spec), build_drift_report(spec),
                build_performance_report(spec), *stored],
        jobs=[monitor_job(spec)],
        resources={
            "io_manager": ParquetIOManager(data_dir=str(data_dir)),
            "json_io_manager": JsonIOManager(data_dir=str(data_dir)),
            "storage": DataDirectory(data_dir=str(data_dir)),
            "deployer": LocalProcessDeployer(data_dir=str(data_dir), tracking_uri=local_tracking_uri(str(data_dir))),
        },
    )


def test_monitor_job_reports_todays_traffic_so_far(tmp_path, fitted):
    spec = monitored_spec()
    now = dt.datetime.now(UTC)
    today = now.date().isoformat()
    log = LogWriter(tmp_path, spec, fitted[0])
    raw = raw_rows(spec, now.date(), LIVE, seed=11)
    ids = log.predictions(raw, now)  # the server logs under the UTC date of the request: today
    log.predictions(raw_rows(spec, now.date(), SHADOW, seed=12), now, role="shadow", version="2")
    log.feedback(ids, raw["churned"].to_numpy(), now)

    with instance_for_test() as instance:
        write_reference(instance, tmp_path, spec, fitted)
        write_champion(instance, tmp_path, spec, fitted[2])
        job = monitor_definitions(spec, tmp_path).resolve_job_def(f"{spec.name}__monitor")
        result = job.execute_in_process(partition_key=today, instance=instance)
    assert result.success
    meta = {node: {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}
            for node in ("churn__prediction_log", "churn__feedback", "churn__drift_report", "churn__performance_report")}

    for node, m in meta.items():
        assert m["day_complete"] is False, node
        assert m["note"].startswith(IN_PROGRESS), node
    assert meta["churn__prediction_log"]["row_count"] == LIVE + SHADOW
    assert meta["churn__feedback"]["row_count"] == LIVE

    drift = meta["churn__drift_report"]
    assert drift["decision"] in ("drift", "no drift") and drift["rows"] == LIVE  # live rows only
    assert drift["dagster/row_count"] > 0
    performance = meta["churn__performance_report"]
    assert performance["decision"] in ("ok", "decayed")
    assert performance["labels"] == LIVE and performance["joined"] == LIVE
    assert performance["dagster/row_count"] > 0


def test_monitoring_days_run_to_today_while_data_days_end_yesterday():
    spec = monitored_spec()
    today = dt.datetime.now(UTC).date()
    assert spec.end_date is None
    assert monitoring_partitions(spec).get_last_partition_key() == today.isoformat()
    assert daily_partitions(spec).get_last_partition_key() == (today - dt.timedelta(days=1)).isoformat()
    ended = spec.model_copy(update={"end_date": dt.date(2026, 3, 1)})
    assert monitoring_partitions(ended) == daily_partitions(ended)
    assert monitoring_partitions(ended).get_last_partition_key() == "2026-03-01"


@pytest.mark.parametrize("day, now, complete", [
    ("2026-03-04", dt.datetime(2026, 3, 5, 0, 0, tzinfo=UTC), True),
    ("2026-03-05", dt.datetime(2026, 3, 5, 0, 0, tzinfo=UTC), False),
    ("2026-03-05", dt.datetime(2026, 3, 5, 23, 59, tzinfo=UTC), False),
    # 20:00 on the 4th in New York is already the 5th in UTC: the 4th (UTC) is over.
    ("2026-03-04", dt.datetime(2026, 3, 4, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), True),
])
def test_day_status(day, now, complete):
    status = day_status(day, {"note": "no feedback"}, now=now)
    assert status["day_complete"] is complete
    assert status["note"] == ("no feedback" if complete else f"{IN_PROGRESS}; no feedback")


def test_monitor_schedule_runs_the_day_that_just_ended():
    spec = monitored_spec()
    schedule = monitor_schedule(monitor_job(spec))
    assert (schedule.name, schedule.cron_schedule, schedule.execution_timezone) == (
        "churn__monitor_schedule", "0 2 * * *", "UTC")
    assert schedule.job_name == "churn__monitor" and schedule.default_status.value == "STOPPED"
    request = schedule(build_schedule_context(scheduled_execution_time=dt.datetime(2026, 3, 5, 2, tzinfo=UTC)))
    assert request.partition_key == "2026-03-04" and request.run_key == "2026-03-04"


@pytest.mark.parametrize("at", [dt.datetime(2026, 1, 1, 2, tzinfo=UTC), dt.datetime(2026, 3, 3, 2, tzinfo=UTC)])
def test_monitor_schedule_skips_days_outside_the_project(at):
    ended = monitored_spec().model_copy(update={"end_date": dt.date(2026, 3, 1)})  # days 2026-01-01 .. 2026-03-01
    data = monitor_schedule(monitor_job(ended)).evaluate_tick(build_schedule_context(scheduled_execution_time=at))
    assert data.run_requests == [] and "outside churn__monitor's days" in data.skip_message
    last = monitor_schedule(monitor_job(ended))(
        build_schedule_context(scheduled_execution_time=dt.datetime(2026, 3, 2, 2, tzinfo=UTC)))
    assert last.partition_key == "2026-03-01"
