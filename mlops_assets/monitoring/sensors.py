"""Drift and performance sensors: read only new log files, confirm with k-of-m persistence, request one retrain.

Both sensors keep everything in their cursor (JSON): the log position, the persistence history, the reference
(or champion) they compare with — a new one resets the history — and the times of the retrains they requested.
A retrain is requested at most once per ``cooldown_hours`` and at most ``max_retrains_per_day`` times in any
24 hours; runs tagged ``mlops/retrain=<project>`` by either sensor count too, so the two share the budget.
Rows accumulate across ticks: the cursor only moves once a full window is there (the files are re-read until
then, at most one window's worth). Both default to RUNNING: a tick with nothing new costs two directory listings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from dagster import (
    AssetSelection,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from mlops_assets.monitoring.alerts import AlertSink, Clock, utcnow
from mlops_assets.monitoring.assets import champion_path, drift_of_rows, live_rows, load_json, reference_path
from mlops_assets.monitoring.logs import (
    DEFAULT_MAX_FILES, FEEDBACK, PREDICTIONS, LogCursor, new_parts, project_log_dir, read_days, read_parts,
)
from mlops_assets.monitoring.performance import decide_performance, join_feedback, live_metric
from mlops_assets.monitoring.persistence import Persistence
from mlops_assets.resources.storage import DataDirectory
from mlops_assets.spec import ProjectSpec

RETRAIN_TAG = "mlops/retrain"
MAX_EVIDENCE = 1000


@dataclass
class SensorState:
    """What a monitoring sensor remembers between ticks (serialised as its cursor)."""

    log: LogCursor
    persistence: Persistence
    reference: str | None = None
    requests: list[str] = field(default_factory=list)  # ISO times of requested retrains, last 24 h

    @classmethod
    def from_cursor(cls, cursor: str | None, k: int, m: int) -> "SensorState":
        if not cursor:
            return cls(LogCursor(), Persistence(k, m))
        d = json.loads(cursor)
        return cls(LogCursor.from_dict(d["log"]), Persistence.from_cursor(json.dumps(d["persistence"]), k, m),
                   d.get("reference"), list(d.get("requests", [])))

    def to_cursor(self) -> str:
        return json.dumps({"log": self.log.to_dict(), "persistence": json.loads(self.persistence.to_cursor()),
                           "reference": self.reference, "requests": self.requests}, sort_keys=True)

    def follow(self, reference: str) -> None:
        """Compare against `reference` from now on; a new reference starts a fresh persistence history."""
        if reference != self.reference:
            self.persistence = Persistence(self.persistence.k, self.persistence.m)
            self.reference = reference


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
    return [{"feature": r.feature, "effect_size": round(float(r.effect_size), 4), "p_adjusted": float(f"{r.p_adjusted:.3g}"),
             "psi": round(float(r.psi), 4)} for r in rows.itertuples()][:10]


def build_drift_sensor(
    spec: ProjectSpec,
    retrain_selection: AssetSelection,
    *,
    name: str | None = None,
    clock: Clock = utcnow,
    minimum_interval_seconds: int = 60,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
    max_files: int = DEFAULT_MAX_FILES,
) -> SensorDefinition:
    """A sensor that requests `retrain_selection` when live inputs drift persistently from the reference profile.

    `clock` gives the evaluation time (tests simulate hourly ticks with it); resources: ``storage``, ``alerts``.
    """
    m = spec.monitoring
    k, window_count = m.persistence

    @sensor(
        name=name or f"{spec.name}__drift",
        target=retrain_selection,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(f"Retrains '{spec.name}' when {k} of the last {window_count} windows of {m.window_rows} live "
                     "predictions drift from the champion's reference profile."),
    )
    def drift_sensor(context: SensorEvaluationContext, storage: DataDirectory, alerts: AlertSink):
        now = clock()
        state = SensorState.from_cursor(context.cursor, k, window_count)
        record = load_json(reference_path(storage.root, spec.name))
        if record is None:
            return SkipReason(f"no reference profile: promote a champion first ({spec.name}/reference_profile "
                              "is materialized from it)")
        state.follow(f"{record.get('model_version')}@{record.get('created_at')}")
        parts = new_parts(project_log_dir(storage.root, spec.name), PREDICTIONS, state.log, max_files=max_files)
        if not parts:
            context.update_cursor(state.to_cursor())
            return SkipReason("no new prediction-log files since the last tick")
        rows = live_rows(read_parts(parts))
        if len(rows) < m.window_rows:
            context.update_cursor(state.to_cursor())  # the log position stays: these rows are read again
            return SkipReason(f"{len(rows)} new live predictions, need {m.window_rows} for a drift window")
        if "time" in rows.columns:
            rows = rows.sort_values("time", kind="stable").reset_index(drop=True)
        reports = [drift_of_rows(spec, w, record) for w in _windows(rows, m.window_rows)]
        confirmed = [state.persistence.observe(r.drifted) for r in reports]
        state.log = state.log.advance(parts)
        history = list(state.persistence.history)
        if not any(confirmed):
            context.update_cursor(state.to_cursor())
            drifted = sum(r.drifted for r in reports)
            return SkipReason(f"{len(reports)} window(s) of ~{m.window_rows} rows, {drifted} drifted; "
                              f"persistence {history} needs {k} of {window_count}: no confirmed drift")
        report = reports[max(i for i, c in enumerate(confirmed) if c)]
        evidence = _evidence(report)
        blocked = retrain_gate(state, context, spec.name, now, m.cooldown_hours, m.max_retrains_per_day)
        if blocked:
            context.update_cursor(state.to_cursor())
            return SkipReason(f"drift confirmed ({', '.join(report.drifted_features)}) but {blocked}")
        run_key = _run_key("drift", spec.name, state)
        state.requests.append(now.isoformat())
        context.update_cursor(state.to_cursor())
        summary = (f"drift confirmed in {', '.join(report.drifted_features)} ({k} of last {window_count} windows); "
                   "retraining")
        alerts.send("drift", spec.name, {"summary": summary, "evidence": evidence, "run_key": run_key,
                                         "window_rows": report.n_current, "reference": state.reference,
                                         "persistence": history})
        return RunRequest(run_key=run_key, tags={
            "project": spec.name,
            RETRAIN_TAG: spec.name,
            "mlops/trigger": "drift",
            "mlops/drifted_features": _short(",".join(report.drifted_features), 200),
            "mlops/evidence": _short(evidence),
            "mlops/window_rows": str(report.n_current),
            "mlops/reference": _short(state.reference or "", 100),
            "mlops/evaluated_at": now.isoformat(timespec="seconds"),
        })

    return drift_sensor


def build_performance_sensor(
    spec: ProjectSpec,
    retrain_selection: AssetSelection,
    *,
    name: str | None = None,
    clock: Clock = utcnow,
    minimum_interval_seconds: int = 60,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
    max_files: int = DEFAULT_MAX_FILES,
) -> SensorDefinition:
    """A sensor that requests `retrain_selection` when the live metric on feedback labels decays persistently.

    Labels are joined to live predictions logged up to ``feedback_lookback_days`` before them; the baseline is
    the champion's holdout figure (the evaluation report's metrics recorded in the champion record).
    """
    m = spec.monitoring
    k, window_count = m.persistence
    metric = live_metric(spec.target.task, spec.evaluation.primary_metric)

    @sensor(
        name=name or f"{spec.name}__performance",
        target=retrain_selection,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(f"Retrains '{spec.name}' when live {metric} on windows of {m.min_feedback} feedback labels falls "
                     f"more than {m.performance_tolerance:.0%} short of the holdout in {k} of {window_count} windows."),
    )
    def performance_sensor(context: SensorEvaluationContext, storage: DataDirectory, alerts: AlertSink):
        now = clock()
        state = SensorState.from_cursor(context.cursor, k, window_count)
        champion = load_json(champion_path(storage.root, spec.name))
        if champion is None:
            return SkipReason("no champion: promote a champion first (its holdout metric is the baseline)")
        state.follow(str(champion["version"]))
        baseline = float(champion["metrics"][metric])
        log_dir = project_log_dir(storage.root, spec.name)
        parts = new_parts(log_dir, FEEDBACK, state.log, max_files=max_files)
        if not parts:
            context.update_cursor(state.to_cursor())
            return SkipReason("no new feedback files since the last tick")
        feedback = read_parts(parts)
        if len(feedback) < m.min_feedback:
            context.update_cursor(state.to_cursor())
            return SkipReason(f"{len(feedback)} new feedback labels, need {m.min_feedback} for a performance window")
        days = pd.to_datetime(feedback["time"], utc=True).dt.date
        first = days.min() - timedelta(days=m.feedback_lookback_days)
        predictions = read_days(log_dir, PREDICTIONS, first, days.max(),
                                columns=["request_id", "row", "time", "role", "model_version", "score", "prediction"])
        joined = join_feedback(predictions, feedback)
        if len(joined) < m.min_feedback:
            context.update_cursor(state.to_cursor())
            return SkipReason(f"{len(joined)} of {len(feedback)} new labels joined to a live prediction, "
                              f"need {m.min_feedback}")
        joined = joined.sort_values("time", kind="stable").reset_index(drop=True)
        decisions = [decide_performance(spec.target.task, metric, w["label"], w["score"], baseline,
                                        m.performance_tolerance, m.min_feedback)
                     for w in _windows(joined, m.min_feedback)]
        confirmed = [state.persistence.observe(d.decayed) for d in decisions]
        state.log = state.log.advance(parts)
        history = list(state.persistence.history)
        if not any(confirmed):
            context.update_cursor(state.to_cursor())
            values = ", ".join(f"{d.value:.3f}" for d in decisions)
            return SkipReason(f"{metric} on {len(decisions)} window(s): {values} vs holdout {baseline:.3f}; "
                              f"persistence {history} needs {k} of {window_count}: no confirmed decay")
        decision = decisions[max(i for i, c in enumerate(confirmed) if c)]
        blocked = retrain_gate(state, context, spec.name, now, m.cooldown_hours, m.max_retrains_per_day)
        if blocked:
            context.update_cursor(state.to_cursor())
            return SkipReason(f"performance decay confirmed ({decision.reason}) but {blocked}")
        run_key = _run_key("performance", spec.name, state)
        state.requests.append(now.isoformat())
        context.update_cursor(state.to_cursor())
        evidence = {k_: v for k_, v in decision.to_dict().items() if k_ != "higher_is_better"}
        alerts.send("performance", spec.name, {"summary": f"{decision.reason}; retraining", "evidence": evidence,
                                               "run_key": run_key, "champion_version": state.reference,
                                               "persistence": history})
        return RunRequest(run_key=run_key, tags={
            "project": spec.name,
            RETRAIN_TAG: spec.name,
            "mlops/trigger": "performance",
            "mlops/metric": metric,
            "mlops/value": f"{decision.value:.4f}",
            "mlops/baseline": f"{baseline:.4f}",
            "mlops/labels": str(decision.n),
            "mlops/evidence": _short(evidence),
            "mlops/champion_version": str(state.reference),
            "mlops/evaluated_at": now.isoformat(timespec="seconds"),
        })

    return performance_sensor


def build_monitoring_sensors(spec: ProjectSpec, retrain_selection: AssetSelection, **kwargs) -> list[SensorDefinition]:
    """The drift and performance sensors of one project."""
    return [build_drift_sensor(spec, retrain_selection, **kwargs), build_performance_sensor(spec, retrain_selection, **kwargs)]
