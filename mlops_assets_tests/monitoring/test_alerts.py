"""The alert sink against a real local HTTP server; failed-run and freshness alert sensors on a real instance."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    FreshnessPolicy,
    Output,
    SkipReason,
    asset,
    build_run_status_sensor_context,
    build_sensor_context,
    deserialize_value,
    materialize,
)

from mlops_assets.monitoring.alerts import AlertSink, build_alert_sensors


def test_sink_posts_json(webhook):
    url, received = webhook
    assert AlertSink(webhook_url=url).send("drift", "churn", {"summary": "x drifted", "evidence": [1, 2]})
    assert received[0]["kind"] == "drift" and received[0]["project"] == "churn"
    assert received[0]["payload"]["evidence"] == [1, 2] and "x drifted" in received[0]["text"]


def test_sink_logs_errors_instead_of_raising(caplog):
    assert not AlertSink(webhook_url="http://127.0.0.1:9/none", timeout_s=1).send("drift", "churn", {"summary": "s"})
    assert "could not be posted" in caplog.text
    assert AlertSink().send("drift", "churn", {"summary": "logged only"})
    assert "logged only" in caplog.text


KEY = AssetKey(["churn", "evaluation_report"])


@asset(key=KEY, check_specs=[AssetCheckSpec("meets_thresholds", asset=KEY, blocking=True)])
def gated():
    yield Output(1)
    yield AssetCheckResult(check_name="meets_thresholds", passed=False, description="roc_auc 0.61 < 0.70")


@asset(key=AssetKey(["churn", "champion"]), deps=[KEY])
def after():
    return None


def test_failed_run_alert_names_the_blocking_check(instance, webhook):
    url, received = webhook
    result = materialize([gated, after], instance=instance, raise_on_error=False, tags={"project": "churn"})
    assert not result.success
    sink = AlertSink(webhook_url=url)
    failure_sensor = build_alert_sensors({})[0]
    context = build_run_status_sensor_context(
        sensor_name=failure_sensor.name, dagster_event=result.get_run_failure_event(), dagster_instance=instance,
        dagster_run=result.dagster_run, resources={"alerts": sink},
    )
    failure_sensor(context.for_run_failure())
    (alert,) = received
    assert alert["kind"] == "run_failure" and alert["project"] == "churn"
    checks = alert["payload"]["failed_checks"]
    assert checks == [{"asset": "churn/evaluation_report", "check": "meets_thresholds", "blocking": True,
                       "severity": "ERROR", "description": "roc_auc 0.61 < 0.70", "partition": None}]
    assert "churn/evaluation_report:meets_thresholds" in alert["payload"]["summary"]


def test_project_failure_sensor_alerts_on_its_own_runs_only(instance, webhook):
    """A UI materialization carries no project tag: the project comes from the selected asset keys."""
    url, received = webhook
    result = materialize([gated, after], instance=instance, raise_on_error=False)
    assert not result.success and "project" not in result.dagster_run.tags
    resources = {"alerts": AlertSink(webhook_url=url)}
    for project in ("housing", "churn"):
        sensor = build_alert_sensors({}, project=project)[0]
        assert sensor.name == f"{project}__alert_on_run_failure"
        context = build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=result.get_run_failure_event(), dagster_instance=instance,
            dagster_run=result.dagster_run, resources=resources,
        )
        sensor(context.for_run_failure())
    (alert,) = received  # housing's sensor stayed silent
    assert alert["project"] == "churn" and alert["payload"]["failed_checks"][0]["check"] == "meets_thresholds"


def record_freshness(instance, key: AssetKey, new: str, previous: str, at: dt.datetime) -> None:
    """Record what Dagster's freshness daemon records when an asset's state changes (a FRESHNESS_STATE_CHANGE).

    Dagster exports no constructor for that event, so it is built from its stored (serdes) form, which Dagster
    keeps readable across releases because event logs hold it."""
    instance.report_runless_asset_event(deserialize_value(json.dumps({
        "__class__": "FreshnessStateChange",
        "key": {"__class__": "AssetKey", "path": list(key.path)},
        "new_state": {"__enum__": f"FreshnessState.{new}"},
        "previous_state": {"__enum__": f"FreshnessState.{previous}"},
        "state_change_timestamp": at.timestamp(),
    })))


def test_freshness_alerts_once_per_failure_from_the_daemons_records_and_on_recovery(instance, webhook):
    url, received = webhook
    fresh = AssetKey(["churn", "raw_data"])
    other = AssetKey(["churn", "features"])

    @asset(key=fresh)
    def raw():
        return 1

    assert materialize([raw], instance=instance).success
    policy = FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=36))
    now = dt.datetime(2026, 12, 6, 12, tzinfo=dt.timezone.utc)
    sensor = build_alert_sensors({fresh: policy, other: policy}, clock=lambda: now)[1]
    resources = {"alerts": AlertSink(webhook_url=url)}

    def tick(cursor):
        ctx = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        out = sensor(ctx)
        assert isinstance(out, SkipReason)
        return ctx.cursor, out.skip_message

    cursor, msg = tick(None)
    assert received == [] and "0 of 2" in msg  # no state recorded yet: nothing failing
    record_freshness(instance, fresh, "PASS", "UNKNOWN", now)
    cursor, msg = tick(cursor)
    assert received == [] and "0 of 2" in msg
    record_freshness(instance, fresh, "FAIL", "PASS", now)
    cursor, msg = tick(cursor)
    assert [a["payload"]["asset"] for a in received] == ["churn/raw_data"] and "1 of 2" in msg
    assert received[0]["kind"] == "freshness" and received[0]["payload"]["state"] == "FAIL"
    assert received[0]["payload"]["last_materialized"] is not None and "1 day, 12:00:00" in received[0]["text"]
    cursor, msg = tick(cursor)
    assert len(received) == 1  # still failing: not alerted again
    record_freshness(instance, other, "FAIL", "UNKNOWN", now)
    cursor, msg = tick(cursor)
    assert len(received) == 2 and received[-1]["payload"]["asset"] == "churn/features"
    assert received[-1]["payload"]["last_materialized"] is None and "never" in received[-1]["text"]
    record_freshness(instance, fresh, "PASS", "FAIL", now)
    cursor, msg = tick(cursor)
    assert received[-1]["kind"] == "freshness_recovered" and received[-1]["payload"]["asset"] == "churn/raw_data"
    assert json.loads(cursor) == {"failing": ["churn/features"]}
