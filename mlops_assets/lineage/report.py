"""Pure pieces of lineage and model history: who triggered a run, what data was new, and the text renderings."""

from __future__ import annotations

from datetime import date, timedelta

# Run tags Dagster sets (public names, see dagster's run tags docs) and the ones our sensors set.
SENSOR_TAG, SCHEDULE_TAG, BACKFILL_TAG = "dagster/sensor_name", "dagster/schedule_name", "dagster/backfill"
AUTOMATION_TAG, USER_TAG = "dagster/from_automation_condition", "user"
EVIDENCE_TAGS = ("mlops/trigger", "mlops/drifted_features", "mlops/evidence", "mlops/window_rows",
                 "mlops/training_window", "mlops/evaluated_at")


def trigger_of(tags: dict) -> tuple[str, str]:
    """(who or what launched a run, its evidence) from the run's tags.

    Examples
    --------
    >>> trigger_of({"dagster/sensor_name": "churn__drift", "mlops/trigger": "drift",
    ...             "mlops/drifted_features": "monthly_charges"})
    ('sensor churn__drift (drift)', 'mlops/drifted_features=monthly_charges')
    >>> trigger_of({"dagster/schedule_name": "churn__train_schedule"})[0]
    'schedule churn__train_schedule'
    >>> trigger_of({})[0]
    'manual run (UI launchpad, CLI or API)'
    """
    kind = tags.get("mlops/trigger")
    evidence = "; ".join(f"{k}={tags[k]}" for k in EVIDENCE_TAGS[1:] if tags.get(k))
    if tags.get(SENSOR_TAG):
        who = f"sensor {tags[SENSOR_TAG]}" + (f" ({kind})" if kind else "")
    elif tags.get(SCHEDULE_TAG):
        who = f"schedule {tags[SCHEDULE_TAG]}"
    elif tags.get(AUTOMATION_TAG):
        who = "declarative automation"
    elif tags.get(BACKFILL_TAG):
        who = f"backfill {tags[BACKFILL_TAG]}"
    elif kind:  # a sensor's run request executed outside the daemon
        who = f"{kind} sensor request"
    elif tags.get(USER_TAG):
        who = f"{tags[USER_TAG]} (UI)"
    else:
        who = "manual run (UI launchpad, CLI or API)"
    return who, evidence


def _days(start: str | None, end: str | None) -> set[str]:
    if not start or not end:
        return set()
    a, b = date.fromisoformat(start), date.fromisoformat(end)
    return {(a + timedelta(days=i)).isoformat() for i in range((b - a).days + 1)}


def new_data(new: dict, old: dict | None) -> str:
    """The data a model was trained on that the model it replaced was not, from their MLflow tags
    (``window_start``, ``window_end``, ``labeled_traffic_days``).

    Examples
    --------
    >>> new_data({"window_start": "2026-01-03", "window_end": "2026-01-09"},
    ...          {"window_start": "2026-01-01", "window_end": "2026-01-06"})
    'days 2026-01-07..2026-01-09 (3)'
    >>> new_data({"window_start": "2026-01-01", "window_end": "2026-01-06"}, None)
    'days 2026-01-01..2026-01-06 (6)'
    """
    days = sorted(_days(new.get("window_start"), new.get("window_end"))
                  - _days((old or {}).get("window_start"), (old or {}).get("window_end")))
    traffic = sorted(set(filter(None, (new.get("labeled_traffic_days") or "").split(",")))
                     - set(filter(None, ((old or {}).get("labeled_traffic_days") or "").split(","))))
    parts = [f"days {days[0]}..{days[-1]} ({len(days)})"] if days else []
    parts += [f"labelled traffic {', '.join(traffic)}"] if traffic else []
    return "; ".join(parts) or "none (same window)"


def gates_text(gates: dict | None) -> str:
    """``name ✓/✗`` per gate (a rollback or sync passes no gate)."""
    if not gates:
        return "-"
    return ", ".join(f"{k} {'pass' if (g.get('passed') if isinstance(g, dict) else g) else 'FAIL'}"
                     for k, g in gates.items())


HISTORY_COLUMNS = ("when", "action", "from", "to", "trigger", "evidence", "reason", "gates", "new data", "run")


def history_markdown(rows: list[dict]) -> str:
    """The model history as a markdown table, newest first."""
    if not rows:
        return "_no champion moves yet_"
    v = lambda x: f"v{x}" if x else "none"  # noqa: E731
    lines = ["| " + " | ".join(HISTORY_COLUMNS) + " |", "|" + " --- |" * len(HISTORY_COLUMNS)]
    for r in reversed(rows):
        cells = [r["time"][:19], r["action"], v(r["from_version"]), v(r["to_version"]), r["trigger"],
                 r["evidence"] or "-", r["reason"] or "-", gates_text(r["gates"]), r["new_data"] or "-",
                 f"`{r['run_id'][:8]}` {r['job']}"]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)


def chain_text(chain: dict) -> str:
    """The lineage of one prediction as indented text, request first, raw bytes last."""
    req, model, run, ts = chain["request"], chain["model"], chain["mlflow_run"], chain["training_set"]
    out = [f"request {req['request_id']} ({chain['project']}) at {req['time']}"]
    for r in req["rows"]:
        label = f", label {r['label']} (feedback at {r['feedback_time']})" if r.get("label") is not None else \
            ", no feedback yet"
        out.append(f"  row {r['row']} [{r['role']}]: prediction {r['prediction']} (score {r['score']}){label}")
        out.append(f"    inputs: {r['inputs']}")
        out.append(f"    feature hash {r['feature_hash']}")
    out.append(f"-> model {model['name']} v{model['version']} (alias then: {model['alias_at_time'] or 'none'}; "
               f"now: {', '.join(model['aliases_now']) or 'none'})")
    out.append(f"-> MLflow run {run['run_id']} {run['link']}")
    out.append(f"     params {run['params']}")
    out.append(f"     metrics {run['metrics']}")
    out.append(f"-> training set data version {ts['data_version']}: window {ts['window_start']}..{ts['window_end']}, "
               f"holdout from {ts['holdout_start']}, {ts['train_rows']} train / {ts['holdout_rows']} holdout rows, "
               f"labelled traffic {ts['labeled_traffic_days'] or 'none'}; run {_run(ts['run'])}")
    for f in chain["features"]:
        out.append(f"  -> features {f['partition']}: data version {f['data_version']}, content hash "
                   f"{f['content_hash']} (training set saw {f['seen_by_training_set']}); run {_run(f['run'])}")
        raw = f["raw"]
        if raw is not None:
            source = raw["source"] + (f" seed {raw['seed']}" if raw.get("seed") is not None else "")
            sha = f", file sha256 {raw['file_sha256']}" if raw.get("file_sha256") else ""
            out.append(f"     -> raw {raw['partition']}: content hash {raw['content_hash']} from {source}{sha}, "
                       f"stored {raw['path']}; run {_run(raw['run'])}")
    return "\n".join(out)


def _run(run: dict | None) -> str:
    return "-" if not run else f"{run['run_id']} ({run['job']}, {run['trigger']})"
