"""Drift and performance sensors: read only new log files, confirm with k-of-m persistence, request one retrain.

Both sensors keep everything in their cursor (JSON): the log position, the persistence history, the reference
(or champion) they compare with — a new materialization of it resets the history — and the times of the retrains
they requested. What they compare with is found on the instance (the asset's latest materialization record and its
metadata) and its value loaded through its IO manager, never read from a file by path.
A retrain is requested at most once per ``cooldown_hours`` and at most ``max_retrains_per_day`` times in any
24 hours; runs tagged ``mlops/retrain=<project>`` by either sensor count too, so the two share the budget.
Rows accumulate across ticks: the cursor only moves once a full window is there (the files are re-read until
then, at most one window's worth). Both default to RUNNING: a tick with nothing new costs one query of the
instance's records and two directory listings.

A confirmed drift or decay does not go straight to a run: it becomes a *pending* retrain (kept in the cursor),
which :func:`advance_pending` carries forward tick by tick with :func:`~mlops_assets.monitoring.retrain.plan_retrain`:
first the days of the new training window that are not yet ingested (and the labelled-traffic days whose feedback
grew) are requested as ``<project>__ingest`` / ``<project>__label_traffic`` runs; once they are in, the training
set the retrain would build is compared with the champion's: the same data version means no run (a skip reason and
one alert; cooldown and cap untouched) until new data exists; new data means a ``<project>__train`` run for the
window ending on the newest day, tagged with the evidence.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol, TypedDict, Unpack

import pandas as pd
from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultSensorStatus,
    EventLogRecord,
    ResourceParam,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from mlops_assets import constants as C
from mlops_assets.dagster_types import AssetJob
from mlops_assets.monitoring.alerts import AlertSink, Clock, utcnow
from mlops_assets.monitoring.logs import (
    DEFAULT_MAX_FILES, FEEDBACK, PREDICTIONS, LogCursor, new_parts, project_log_dir, read_days, read_parts,
)
from mlops_assets.monitoring.performance import decide_performance, join_feedback, live_metric
from mlops_assets.monitoring.persistence import Persistence
from mlops_assets.monitoring.retrain import plan_retrain
from mlops_assets.monitoring.windows import drift_of_rows, live_rows
from mlops_assets.records import latest, metadata_value
from mlops_assets.resources.storage import DataDirectory, JsonIOManager, ParquetIOManager
from mlops_assets.resources.tracking import MlflowTracking
from mlops_assets.spec import ProjectSpec

RETRAIN_TAG = "mlops/retrain"
PREPARE_TAG = "mlops/prepare"
TRAINING_SET_TAG = "mlops/training_set_version"
MAX_EVIDENCE = 1000


@dataclass(frozen=True)
class RetrainTargets:
    """The jobs a monitoring sensor launches: the retrain, and the runs that bring new data in before it."""

    train: AssetJob
    ingest: AssetJob
    labeled_traffic: AssetJob

    @property
    def jobs(self) -> list[AssetJob]:
        return [self.train, self.ingest, self.labeled_traffic]


@dataclass(frozen=True)
class MonitoringResources:
    """What a monitoring sensor works with: the data directory (logs, landing files), the feature store (the
    Parquet IO manager), the registry and the alert sink."""

    storage: DataDirectory
    store: ParquetIOManager
    tracking: MlflowTracking
    alerts: AlertSink


@dataclass
class SensorState:
    """What a monitoring sensor remembers between ticks (serialised as its cursor)."""

    log: LogCursor
    persistence: Persistence
    reference: str | None = None
    requests: list[str] = field(default_factory=list)  # ISO times of requested retrains, last 24 h
    pending: dict | None = None  # a confirmed retrain waiting for its data: trigger, summary, tags, alert, id

    @classmethod
    def from_cursor(cls, cursor: str | None, k: int, m: int) -> "SensorState":
        if not cursor:
            return cls(LogCursor(), Persistence(k, m))
        d = json.loads(cursor)
        return cls(LogCursor.from_dict(d["log"]), Persistence.from_cursor(json.dumps(d["persistence"]), k, m),
                   d.get("reference"), list(d.get("requests", [])), d.get("pending"))

    def to_cursor(self) -> str:
        return json.dumps({"log": self.log.to_dict(), "persistence": json.loads(self.persistence.to_cursor()),
                           "reference": self.reference, "requests": self.requests, "pending": self.pending},
                          sort_keys=True)

    def follow(self, reference: str) -> None:
        """Compare against `reference` from now on; a new reference starts a fresh persistence history
        (and drops a pending retrain: it was confirmed against the old one)."""
        if reference != self.reference:
            self.persistence = Persistence(self.persistence.k, self.persistence.m)
            self.reference = reference
            self.pending = None


def retrain_gate(
    state: SensorState, context: SensorEvaluationContext, project: str, now: datetime, cooldown_hours: float, cap: int
) -> str | None:
    """Why a retrain may not be requested now (None when it may): cooldown, or the 24-hour cap."""
    day_ago = now - timedelta(hours=24)
    mine = [t for t in (datetime.fromisoformat(s) for s in state.requests) if t > day_ago]
    state.requests = [t.isoformat() for t in mine]
    runs = context.instance.get_run_records(RunsFilter(tags={RETRAIN_TAG: project}, created_after=day_ago), limit=50)
    theirs = [r.create_timestamp for r in runs if r.dagster_run.status != DagsterRunStatus.CANCELED]
    count = max(len(mine), len(theirs))
    last = max([*mine, *theirs], default=None)
    if cap <= 0:
        return "max_retrains_per_day is 0: retrains are not requested automatically"
    if last is not None and now - last < timedelta(hours=cooldown_hours):
        return f"in cooldown until {(last + timedelta(hours=cooldown_hours)).isoformat(timespec='minutes')}"
    if count >= cap:
        oldest = min([*mine, *theirs])
        return f"cap of {cap} retrains per 24 h reached (next at {(oldest + timedelta(hours=24)).isoformat(timespec='minutes')})"
    return None


def _windows(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    """Consecutive windows of `size` rows (the last one takes the remainder)."""
    n = max(1, len(frame) // size)
    bounds = [i * size for i in range(n)] + [len(frame)]
    return [frame.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _run_key(kind: str, project: str, state: SensorState) -> str:
    digest = hashlib.sha256(json.dumps([state.reference, state.log.to_dict()], sort_keys=True).encode()).hexdigest()
    return f"{project}-{kind}-{digest[:16]}"


def _short(obj: object, limit: int = MAX_EVIDENCE) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _evidence(report) -> list[dict]:
    table = report.table.sort_values("effect_size", ascending=False, na_position="last")
    rows = table[table["drifted"]] if report.drifted else table.head(3)
    return [{"feature": r.feature, "measure": r.measure, "effect_size": round(float(r.effect_size), 4),
             "floor": float(r.floor), "p_adjusted": float(f"{r.p_adjusted:.3g}"), "psi": round(float(r.psi), 4),
             **({"off_support": round(float(r.off_support), 4), "off_support_values": r.off_support_values}
                if r.off_support_values else {})}
            for r in rows.itertuples()][:10]


IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED]


def _in_flight(context: SensorEvaluationContext, job_name: str) -> set[str]:
    """Partitions of `job_name` with a run queued or running (launched by anyone: either sensor, a person)."""
    runs = context.instance.get_run_records(RunsFilter(job_name=job_name, statuses=IN_FLIGHT), limit=200)
    return {r.dagster_run.tags.get("dagster/partition") for r in runs}


def _prepare_requests(
    context: SensorEvaluationContext, spec: ProjectSpec, targets: RetrainTargets, pending_id: str, plan
) -> list[RunRequest]:
    """Ingest runs for the window's missing days, labelled-traffic runs for days whose feedback grew (days that
    already have such a run in flight are left to it)."""
    tags = {"project": spec.name, PREPARE_TAG: pending_id, "mlops/trigger": "retrain_data"}
    busy = _in_flight(context, targets.ingest.name)
    out = [RunRequest(run_key=f"{pending_id}-ingest-{day}", job_name=targets.ingest.name, partition_key=day,
                      tags=tags) for day in plan.missing_days if day not in busy]
    busy = _in_flight(context, targets.labeled_traffic.name)
    out += [RunRequest(run_key=f"{pending_id}-traffic-{day}-{mtime}", job_name=targets.labeled_traffic.name,
                       partition_key=day, tags=tags)
            for day, mtime in sorted(plan.stale_traffic.items()) if day not in busy]
    return out


def _failed_preparation(context: SensorEvaluationContext, pending_id: str, days: list[str]) -> list[str]:
    """Days among `days` whose preparation run (tagged with this pending retrain) failed."""
    runs = context.instance.get_run_records(RunsFilter(tags={PREPARE_TAG: pending_id},
                                                       statuses=[DagsterRunStatus.FAILURE]), limit=100)
    failed = {r.dagster_run.tags.get("dagster/partition") for r in runs}
    return [d for d in days if d in failed]


def _retrain_on(context: SensorEvaluationContext, project: str, training_set_version: str | None) -> str | None:
    """The id of a retrain already requested (by either sensor) on this training set, if any: never twice."""
    runs = context.instance.get_run_records(
        RunsFilter(tags={RETRAIN_TAG: project, TRAINING_SET_TAG: str(training_set_version)}), limit=5)
    return next((r.dagster_run.run_id for r in runs if r.dagster_run.status != DagsterRunStatus.CANCELED), None)


def advance_pending(
    context: SensorEvaluationContext,
    state: SensorState,
    spec: ProjectSpec,
    targets: RetrainTargets,
    res: MonitoringResources,
    now: datetime,
) -> SensorResult | SkipReason | RunRequest:
    """Carry a confirmed retrain forward: bring its data in, skip when there is none new, else request the run."""
    pending = state.pending
    assert pending is not None
    summary = pending["summary"]
    alerts = res.alerts
    plan = plan_retrain(spec, context.instance, res.storage.root, res.store, res.tracking, now.date(),
                        pending.get("feedback_until_ns"))
    if plan.blocked:
        context.update_cursor(state.to_cursor())
        return SkipReason(f"{summary}, but no retrain can be planned: {plan.blocked}")
    if not plan.ready:
        failed = _failed_preparation(context, pending["id"], plan.missing_days + list(plan.stale_traffic))
        if failed:
            if not pending.get("alerted_failure"):
                alerts.send("retrain_waiting", spec.name, {
                    "summary": f"{summary}; the retrain waits: loading {', '.join(failed)} failed",
                    "failed_days": failed, "evidence": pending.get("alert", {}).get("evidence")})
                pending["alerted_failure"] = True
            context.update_cursor(state.to_cursor())
            return SkipReason(f"{summary}; the retrain waits for {', '.join(failed)}, whose ingestion failed: see "
                              f"the failed {targets.ingest.name} runs, fix the batch and re-materialize the day")
        requests = _prepare_requests(context, spec, targets, pending["id"], plan)
        context.update_cursor(state.to_cursor())
        if not requests:
            waiting = plan.missing_days + sorted(plan.stale_traffic)
            return SkipReason(f"{summary}; waiting for the runs loading {', '.join(waiting)} before retraining")
        return SensorResult(run_requests=requests)
    window = f"{plan.window.start}..{plan.window.end}"
    earlier = None if not plan.new_data else _retrain_on(context, spec.name, plan.training_set_version)
    if not plan.new_data or earlier is not None:
        reason = (plan.no_new_data_reason() if not plan.new_data else
                  f"a retrain on this very training set ({plan.training_set_version}, {window}) was already "
                  f"requested (run {earlier}); waiting for new data")
        if not pending.get("alerted_no_data"):
            alerts.send("retrain_skipped", spec.name, {"summary": f"{summary}, but {reason}",
                                                       "evidence": pending.get("alert", {}).get("evidence")})
            pending["alerted_no_data"] = True
        context.update_cursor(state.to_cursor())
        return SkipReason(f"{summary}, but {reason}")
    blocked = retrain_gate(state, context, spec.name, now, spec.monitoring.cooldown_hours,
                           spec.monitoring.max_retrains_per_day)
    if blocked:
        state.pending = None  # confirmed again (from fresh windows) once the budget allows
        context.update_cursor(state.to_cursor())
        return SkipReason(f"{summary} but {blocked}")
    state.requests.append(now.isoformat())
    state.pending = None
    context.update_cursor(state.to_cursor())
    alerts.send(pending["trigger"], spec.name, {**pending.get("alert", {}), "summary": f"{summary}; retraining",
                                                "training_window": window,
                                                "training_set_version": plan.training_set_version})
    return RunRequest(
        run_key=f"{pending['id']}-train",
        job_name=targets.train.name,
        run_config={"ops": {f"{spec.name}__{C.TRAINING_SET}": {"config": {"as_of": plan.window.end.isoformat()}}}},
        tags={**pending["tags"], "mlops/training_window": window,
              TRAINING_SET_TAG: str(plan.training_set_version),
              "mlops/champion_training_set": str(plan.champion_training_set)},
    )


def _confirm(state: SensorState, kind: str, project: str, now: datetime, summary: str, tags: dict, alert: dict) -> None:
    state.pending = {"id": _run_key(kind, project, state), "trigger": kind, "summary": summary,
                     "since": now.isoformat(timespec="seconds"), "tags": tags, "alert": alert,
                     "feedback_until_ns": time.time_ns()}


def _followed(context: SensorEvaluationContext, spec: ProjectSpec, asset: str, identity) -> tuple[
        SensorState, EventLogRecord | None]:
    """The sensor's state from its cursor, following the latest materialization of ``<project>/<asset>`` (the
    record; None when never materialized): `identity(record)` names what is compared with."""
    k, m = spec.monitoring.persistence
    state = SensorState.from_cursor(context.cursor, k, m)
    record = latest(context.instance, AssetKey([spec.name, asset]))
    if record is not None:
        state.follow(identity(record))
    return state, record


class _Watch(Protocol):
    """What sets one monitoring sensor apart; :func:`_watch_sensor` is the tick both share.

    A tick reads the new files of one log stream, turns them into window verdicts (:meth:`judge`), feeds each
    verdict's flag to the k-of-m persistence and, when it confirms, records a pending retrain with this watch's
    summary, tags and alert (:meth:`confirm`).
    """

    kind: str  # the trigger's name: sensor name suffix, ``mlops/trigger`` tag, alert kind
    follows: str  # the asset compared with: a new materialization of it resets the persistence
    missing: str  # the skip reason while it was never materialized
    log: str  # the log stream read: PREDICTIONS or FEEDBACK
    nothing_new: str  # the skip reason when that stream has no new file
    change: str  # what a confirmed verdict is called

    def identity(self, record: EventLogRecord) -> str:
        """What the followed asset's materialization `record` is compared by (a new one resets the persistence)."""
        ...

    def description(self, spec: ProjectSpec) -> str:
        """The sensor's description in the UI."""
        ...

    def judge(self, spec: ProjectSpec, rows: pd.DataFrame, log_dir, followed) -> list | str:
        """One verdict per window of the new rows, or the reason no window is complete yet (the log position
        then stays and the rows are read again). `followed()` loads the followed asset's value."""
        ...

    def flagged(self, verdict) -> bool:
        """Whether one window's verdict counts toward the k-of-m persistence."""
        ...

    def quiet(self, spec: ProjectSpec, verdicts: list) -> str:
        """What the windows showed when none confirmed."""
        ...

    def confirm(self, spec: ProjectSpec, verdict, state: SensorState) -> tuple[str, dict, dict]:
        """The summary, the run tags and the alert fields of a confirmed verdict."""
        ...


class _DriftWatch(_Watch):
    kind, follows, log, change = "drift", C.REFERENCE_PROFILE, PREDICTIONS, "drift"
    missing = "no reference profile: promote a champion first ({project}/reference_profile is materialized from it)"
    nothing_new = "no new prediction-log files since the last tick"

    def identity(self, record: EventLogRecord) -> str:
        """A reference profile's materialization: its champion version and when it was built."""
        at = datetime.fromtimestamp(record.timestamp, tz=timezone.utc).isoformat(timespec="seconds")
        return f"{metadata_value(record, 'model_version')}@{at}"

    def description(self, spec: ProjectSpec) -> str:
        m = spec.monitoring
        k, window_count = m.persistence
        return (f"Retrains '{spec.name}' when {k} of the last {window_count} windows of {m.window_rows} live "
                "predictions drift from the champion's reference profile, on a window ending on the newest "
                "day (ingested first), and only when that data is new to the champion.")

    def judge(self, spec: ProjectSpec, rows: pd.DataFrame, log_dir, followed) -> list | str:
        size = spec.monitoring.window_rows
        rows = live_rows(rows)
        if len(rows) < size:
            return f"{len(rows)} new live predictions, need {size} for a drift window"
        if "time" in rows.columns:
            rows = rows.sort_values("time", kind="stable").reset_index(drop=True)
        reference = followed()
        return [drift_of_rows(spec, w, reference) for w in _windows(rows, size)]

    def flagged(self, verdict) -> bool:
        return verdict.drifted

    def quiet(self, spec: ProjectSpec, verdicts: list) -> str:
        drifted = sum(r.drifted for r in verdicts)
        return f"{len(verdicts)} window(s) of ~{spec.monitoring.window_rows} rows, {drifted} drifted"

    def confirm(self, spec: ProjectSpec, verdict, state: SensorState) -> tuple[str, dict, dict]:
        k, window_count = spec.monitoring.persistence
        evidence = _evidence(verdict)
        summary = (f"drift confirmed in {', '.join(verdict.drifted_features)} ({k} of last {window_count} windows "
                   f"of ~{spec.monitoring.window_rows} rows)")
        tags = {
            "mlops/drifted_features": _short(",".join(verdict.drifted_features), 200),
            "mlops/evidence": _short(evidence),
            "mlops/window_rows": str(verdict.n_current),
            "mlops/reference": _short(state.reference or "", 100),
        }
        return summary, tags, {"evidence": evidence, "window_rows": verdict.n_current, "reference": state.reference}


class _PerformanceWatch(_Watch):
    kind, follows, log, change = "performance", C.CHAMPION, FEEDBACK, "decay"
    missing = "no champion: promote a champion first (its holdout metric is the baseline)"
    nothing_new = "no new feedback files since the last tick"

    def identity(self, record: EventLogRecord) -> str:
        return str(metadata_value(record, "champion_version"))

    def description(self, spec: ProjectSpec) -> str:
        m = spec.monitoring
        k, window_count = m.persistence
        return (f"Retrains '{spec.name}' when live {_metric(spec)} on windows of {m.min_feedback} feedback labels "
                f"falls more than {m.performance_tolerance:.0%} short of the holdout in {k} of {window_count} "
                "windows.")

    def judge(self, spec: ProjectSpec, feedback: pd.DataFrame, log_dir, followed) -> list | str:
        m, metric = spec.monitoring, _metric(spec)
        if len(feedback) < m.min_feedback:
            return f"{len(feedback)} new feedback labels, need {m.min_feedback} for a performance window"
        days = pd.to_datetime(feedback["time"], utc=True).dt.date
        first = days.min() - timedelta(days=m.feedback_lookback_days)
        predictions = read_days(log_dir, PREDICTIONS, first, days.max(),
                                columns=["request_id", "row", "time", "role", "model_version", "score", "prediction"])
        joined = join_feedback(predictions, feedback)
        if len(joined) < m.min_feedback:
            return (f"{len(joined)} of {len(feedback)} new labels joined to a live prediction, "
                    f"need {m.min_feedback}")
        joined = joined.sort_values("time", kind="stable").reset_index(drop=True)
        baseline = float(followed()["metrics"][metric])
        return [decide_performance(spec.target.task, metric, w["label"], w["score"], baseline,
                                   m.performance_tolerance, m.min_feedback)
                for w in _windows(joined, m.min_feedback)]

    def flagged(self, verdict) -> bool:
        return verdict.decayed

    def quiet(self, spec: ProjectSpec, verdicts: list) -> str:
        values = ", ".join(f"{d.value:.3f}" for d in verdicts)
        return f"{_metric(spec)} on {len(verdicts)} window(s): {values} vs holdout {verdicts[0].baseline:.3f}"

    def confirm(self, spec: ProjectSpec, verdict, state: SensorState) -> tuple[str, dict, dict]:
        evidence = {k: v for k, v in verdict.to_dict().items() if k != "higher_is_better"}
        tags = {
            "mlops/metric": verdict.metric,
            "mlops/value": f"{verdict.value:.4f}",
            "mlops/baseline": f"{verdict.baseline:.4f}",
            "mlops/labels": str(verdict.n),
            "mlops/evidence": _short(evidence),
            "mlops/champion_version": str(state.reference),
        }
        summary = f"performance decay confirmed ({verdict.reason})"
        return summary, tags, {"evidence": evidence, "champion_version": state.reference}


def _metric(spec: ProjectSpec) -> str:
    return live_metric(spec.target.task, spec.evaluation.primary_metric)


def _watch_sensor(
    spec: ProjectSpec,
    targets: RetrainTargets,
    watch: _Watch,
    *,
    name: str | None = None,
    clock: Clock = utcnow,
    minimum_interval_seconds: int | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
    max_files: int = DEFAULT_MAX_FILES,
) -> SensorDefinition:
    """The tick both monitoring sensors share (see the module docstring); `watch` says what it reads and judges.

    `name` defaults to ``<project>__<kind>``; `clock` gives the evaluation time (tests simulate hourly ticks with
    it); `minimum_interval_seconds` defaults to the spec's ``sensor_interval_seconds``; `max_files` caps the log
    files read in one tick. Resources: ``storage``, ``alerts``, ``tracking``, ``io_manager``, ``json_io_manager``.
    """
    m = spec.monitoring
    k, window_count = m.persistence

    @sensor(
        name=name or f"{spec.name}__{watch.kind}",
        jobs=targets.jobs,
        minimum_interval_seconds=minimum_interval_seconds or m.sensor_interval_seconds,
        default_status=default_status,
        description=watch.description(spec),
    )
    def watch_sensor(context: SensorEvaluationContext, storage: DataDirectory, alerts: AlertSink,
                     tracking: MlflowTracking, io_manager: ResourceParam[ParquetIOManager],
                     json_io_manager: ResourceParam[JsonIOManager]):
        now = clock()
        res = MonitoringResources(storage, io_manager, tracking, alerts)
        state, followed = _followed(context, spec, watch.follows, watch.identity)
        if followed is None:
            return SkipReason(watch.missing.format(project=spec.name))
        if state.pending is not None:
            return advance_pending(context, state, spec, targets, res, now)
        log_dir = project_log_dir(storage.root, spec.name)
        parts = new_parts(log_dir, watch.log, state.log, max_files=max_files)
        if not parts:
            context.update_cursor(state.to_cursor())
            return SkipReason(watch.nothing_new)
        followed_value = lambda: json_io_manager.load_record(followed.asset_key)  # noqa: E731 (loaded only if needed)
        verdicts = watch.judge(spec, read_parts(parts), log_dir, followed_value)
        if isinstance(verdicts, str):
            context.update_cursor(state.to_cursor())  # the log position stays: these rows are read again
            return SkipReason(verdicts)
        confirmed = [state.persistence.observe(watch.flagged(v)) for v in verdicts]
        state.log = state.log.advance(parts)
        history = list(state.persistence.history)
        if not any(confirmed):
            context.update_cursor(state.to_cursor())
            return SkipReason(f"{watch.quiet(spec, verdicts)}; persistence {history} needs {k} of {window_count}: "
                              f"no confirmed {watch.change}")
        verdict = verdicts[max(i for i, c in enumerate(confirmed) if c)]
        summary, tags, alert = watch.confirm(spec, verdict, state)
        tags = {"project": spec.name, RETRAIN_TAG: spec.name, "mlops/trigger": watch.kind, **tags,
                "mlops/evaluated_at": now.isoformat(timespec="seconds")}
        _confirm(state, watch.kind, spec.name, now, summary, tags, {**alert, "persistence": history})
        return advance_pending(context, state, spec, targets, res, now)

    return watch_sensor


class SensorOptions(TypedDict, total=False):
    """What a caller may set on a monitoring sensor (all optional; see :func:`_watch_sensor`)."""

    name: str
    clock: Clock
    minimum_interval_seconds: int
    default_status: DefaultSensorStatus
    max_files: int


def build_drift_sensor(
    spec: ProjectSpec, targets: RetrainTargets, **options: Unpack[SensorOptions]
) -> SensorDefinition:
    """A sensor that retrains (``targets.train``) when live inputs drift persistently from the reference profile.

    `options`: :class:`SensorOptions`, as :func:`_watch_sensor` takes them.
    """
    return _watch_sensor(spec, targets, _DriftWatch(), **options)


def build_performance_sensor(
    spec: ProjectSpec, targets: RetrainTargets, **options: Unpack[SensorOptions]
) -> SensorDefinition:
    """A sensor that retrains (``targets.train``) when the live metric on feedback labels decays persistently.

    Labels are joined to live predictions logged up to ``feedback_lookback_days`` before them; the baseline is
    the champion's holdout figure (the evaluation report's metrics recorded in the champion record). The retrain
    goes through :func:`advance_pending` like the drift sensor's: with ``training.include_labeled_traffic`` the
    labels that showed the decay are in its training set. `options`: as :func:`build_drift_sensor`'s.
    """
    return _watch_sensor(spec, targets, _PerformanceWatch(), **options)


def build_monitoring_sensors(
    spec: ProjectSpec, targets: RetrainTargets, **options: Unpack[SensorOptions]
) -> list[SensorDefinition]:
    """The drift and performance sensors of one project."""
    return [build_drift_sensor(spec, targets, **options), build_performance_sensor(spec, targets, **options)]
