"""Alerts: a webhook sink (or the log when no URL is set), a failed-run sensor and a freshness sensor."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Callable, Mapping

from dagster import (
    AssetKey,
    ConfigurableResource,
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    FreshnessPolicy,
    RunFailureSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    get_dagster_logger,
    run_failure_sensor,
    sensor,
)
from pydantic import Field

Clock = Callable[[], datetime]
ALERTS_RESOURCE = "alerts"
MAX_TEXT = 500


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _short(text: object, limit: int = MAX_TEXT) -> str:
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


class AlertSink(ConfigurableResource):
    """Posts alerts as JSON to a webhook (Slack-compatible ``text`` field included); logs them when no URL is set.

    A failing webhook is logged, never raised: an alert must not fail the sensor or run that sends it.
    """

    webhook_url: str = Field("", description="URL to POST alerts to; empty: alerts go to the Dagster log")
    timeout_s: float = Field(5.0, gt=0, description="HTTP timeout of one post")

    def send(self, kind: str, project: str, payload: Mapping) -> bool:
        """Send one alert; True when it was delivered (or logged, without a URL)."""
        body = {
            "kind": kind,
            "project": project,
            "sent_at": utcnow().isoformat(),
            "text": f"[mlops] {kind} on '{project}': {_short(payload.get('summary', ''), 300)}",
            "payload": dict(payload),
        }
        log = get_dagster_logger("mlops_assets.alerts")
        if not self.webhook_url:
            log.warning("ALERT %s", json.dumps(body, default=str, sort_keys=True))
            return True
        data = json.dumps(body, default=str).encode()
        request = urllib.request.Request(
            self.webhook_url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
            return True
        except (urllib.error.URLError, OSError, ValueError) as err:
            log.error("alert %s for '%s' could not be posted to the webhook: %s; alert: %s",
                      kind, project, err, json.dumps(body, default=str)[:2000])
            return False


# ---------------------------------------------------------------- failed runs
def failed_checks(instance: DagsterInstance, run_id: str) -> list[dict]:
    """The asset checks that failed in a run, read from its ASSET_CHECK_EVALUATION events."""
    out = []
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.get_dagster_event().event_specific_data
        if evaluation.passed:
            continue
        summary = evaluation.metadata.get("summary")
        out.append({
            "asset": evaluation.asset_key.to_user_string(),
            "check": evaluation.check_name,
            "blocking": bool(evaluation.blocking),
            "severity": evaluation.severity.value,
            "description": _short(evaluation.description or (summary.value if summary is not None else ""), 300),
            "partition": evaluation.partition,
        })
    return out


def failure_payload(context: RunFailureSensorContext) -> dict:
    run = context.dagster_run
    checks = failed_checks(context.instance, run.run_id)
    steps = [{"step": e.step_key, "error": _short(e.event_specific_data.error.message if e.event_specific_data and
                                                   e.event_specific_data.error else e.message, 300)}
             for e in context.get_step_failure_events()]
    blocking = [c for c in checks if c["blocking"]]
    reason = (f"blocking checks failed: {', '.join(c['asset'] + ':' + c['check'] for c in blocking)}" if blocking
              else _short(context.failure_event.message or "run failed", 300))
    return {
        "summary": f"run {run.run_id[:8]} of {run.job_name} failed — {reason}",
        "run_id": run.run_id,
        "job": run.job_name,
        "tags": {k: v for k, v in run.tags.items() if not k.startswith("dagster/") or k == "dagster/partition"},
        "failed_checks": checks,
        "failed_steps": steps,
        "message": _short(context.failure_event.message, 1000),
    }


def run_project(run, step_keys: list[str] = ()) -> str:
    """The project a run belongs to: its ``project`` tag (the platform's jobs set it), else the first key part of
    the assets or checks it selected (a materialization launched from the UI), else the ``<project>__`` prefix
    that the platform's job and op names carry (an ad-hoc asset job's failed steps); "" when none says."""
    if run.tags.get("project"):
        return run.tags["project"]
    keys = [*(run.asset_selection or ()), *(c.asset_key for c in (run.asset_check_selection or ()))]
    if keys:
        return min(k.path[0] for k in keys)
    prefixed = [name.split("__", 1)[0] for name in (run.job_name, *step_keys) if "__" in name.strip("_")]
    return prefixed[0] if prefixed else ""


def build_run_failure_alert_sensor(
    name: str = "alert_on_run_failure",
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
    project: str | None = None,
) -> SensorDefinition:
    """Alerts on every failed run of the code location (of `project`'s runs only, when given), naming the
    blocking checks that stopped it."""

    @run_failure_sensor(name=name, default_status=default_status,
                        description="Posts every failed run (and the blocking checks that failed in it) to the alert sink.")
    def alert_on_run_failure(context: RunFailureSensorContext, alerts: AlertSink):
        payload = failure_payload(context)
        run_of = run_project(context.dagster_run, [s["step"] for s in payload["failed_steps"]])
        if project is not None and run_of != project:
            return
        alerts.send("run_failure", run_of, payload)

    return alert_on_run_failure


# ---------------------------------------------------------------- freshness
#: The state Dagster's freshness daemon records for an asset failing its policy (``FreshnessState.FAIL``, a str enum).
FAIL = "FAIL"


def freshness_states(instance: DagsterInstance, keys: list[AssetKey]) -> dict:
    """Per asset: the state Dagster's freshness daemon last recorded ("PASS", "WARN", "FAIL", "UNKNOWN"; None when
    never evaluated) and its latest materialization (ISO time, None when never)."""
    records = instance.get_freshness_state_records(list(keys))
    out = {}
    for key in keys:
        event = instance.get_latest_materialization_event(key)
        record = records.get(key)
        out[key] = {
            "state": str(record.freshness_state.value) if record is not None else None,
            "last_materialized": (datetime.fromtimestamp(event.timestamp, tz=timezone.utc).isoformat()
                                  if event is not None else None),
        }
    return out


def build_freshness_alert_sensor(
    policies: Mapping[AssetKey, FreshnessPolicy],
    name: str = "alert_on_freshness",
    clock: Clock = utcnow,
    minimum_interval_seconds: int = 300,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
) -> SensorDefinition:
    """Alerts once when an asset starts failing its freshness policy (and once when it recovers).

    Dagster evaluates the policies itself: its freshness daemon (run by ``dagster dev`` and ``dagster-daemon``)
    records a FRESHNESS_STATE_CHANGE whenever an asset's state changes, read here with
    ``instance.get_freshness_state_records``. The set of failing assets is kept in the cursor. `clock` stamps
    the alerts.
    """

    @sensor(name=name, minimum_interval_seconds=minimum_interval_seconds, default_status=default_status,
            description="Alerts when an asset fails its freshness policy (the state Dagster's freshness daemon "
                        "records).")
    def alert_on_freshness(context: SensorEvaluationContext, alerts: AlertSink):
        now = clock()
        previous = set(json.loads(context.cursor)["failing"]) if context.cursor else set()
        states = freshness_states(context.instance, list(policies))
        failing = {key.to_user_string() for key, s in states.items() if s["state"] == FAIL}
        by_name = {key.to_user_string(): (key, s) for key, s in states.items()}
        for name_ in sorted(failing - previous):
            key, s = by_name[name_]
            policy = policies[key]
            window = getattr(policy, "fail_window", None)
            alerts.send("freshness", key.path[0], {
                "summary": f"{name_} is stale: last materialized {s['last_materialized'] or 'never'}"
                           + (f", fail window {window.to_timedelta()}" if window is not None else ""),
                "asset": name_,
                "last_materialized": s["last_materialized"],
                "state": s["state"],
                "checked_at": now.isoformat(),
            })
        for name_ in sorted(previous - failing):
            key, s = by_name.get(name_, (AssetKey.from_user_string(name_), {"last_materialized": None}))
            alerts.send("freshness_recovered", key.path[0], {
                "summary": f"{name_} is fresh again (last materialized {s['last_materialized']})", "asset": name_})
        context.update_cursor(json.dumps({"failing": sorted(failing)}))
        new = sorted(failing - previous)
        return SkipReason(
            f"{len(failing)} of {len(policies)} assets failing freshness"
            + (f"; alerted: {', '.join(new)}" if new else "; no new failures")
        )

    return alert_on_freshness


def build_alert_sensors(
    policies: Mapping[AssetKey, FreshnessPolicy],
    clock: Clock = utcnow,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
    project: str | None = None,
) -> list[SensorDefinition]:
    """The failed-run sensor and the freshness sensor (both need the ``alerts`` resource). With `project`, they
    are that project's (named ``<project>__alert_on_…``; the failed-run sensor alerts on its runs only)."""
    prefix = f"{project}__" if project else ""
    return [
        build_run_failure_alert_sensor(f"{prefix}alert_on_run_failure", default_status, project),
        build_freshness_alert_sensor(policies, f"{prefix}alert_on_freshness", clock=clock,
                                     default_status=default_status),
    ]
