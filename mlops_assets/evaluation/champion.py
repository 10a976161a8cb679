"""The champion alias's moves on the MLflow registry — promote, roll back, sync — and the champion record.

The registry's ``champion`` alias is the truth; ``<project>/champion`` records what it points at (for the endpoint,
the reference profile and the sensors). Each promotion tags the promoted version with the champion it replaced
(``previous_champion``), so rollbacks step back through the promotion history (v3 -> v2 -> v1), never toggling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Optional

import pandas as pd
from dagster import Config
from pydantic import Field

from mlops_assets.resources.tracking import CHAMPION

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# mlflow is imported inside the functions that use it, not at module import (start-up time).

ACTIONS = ("promote", "rollback", "sync")
# Model-version tags (the registry keeps the history; the champion record is a view of it).
PREVIOUS_CHAMPION = "previous_champion"  # set at promotion: the champion the version replaced ("none" for the first)
EVALUATION_SUMMARY = "evaluation_summary"  # set at promotion: the evaluation report's metrics and comparison
PROMOTED_AT = "promoted_at"
ROLLED_BACK_AT, ROLLBACK_REASON, ROLLED_BACK_TO = "rolled_back_at", "rollback_reason", "rolled_back_to"
RESTORED_AT, RESTORED_FROM = "restored_at", "restored_from"
SYNCED_AT, SYNCED_FROM = "synced_at", "synced_from"


class ChampionConfig(Config):
    action: Literal["promote", "rollback", "sync"] = Field(
        "promote",
        description=("promote: move the alias to the evaluated challenger; rollback: move it back to the current "
                     "champion's previous champion (recorded at its promotion); sync: adopt whatever version the "
                     "registry's alias points at now (moved by hand in MLflow)"),
    )
    reason: str = Field("", description="why (recorded on the record and, for a rollback, on the rolled-back version)")


class ChampionError(Exception):
    """A move that must not happen; the message says what to do instead."""


@dataclass(frozen=True)
class Move:
    """What one materialization of the champion did to the alias."""

    action: str
    version: str  # the champion after the move
    from_version: Optional[str]  # the champion before it
    previous_version: Optional[str]  # what a rollback from `version` restores (its previous_champion tag)
    reason: str
    metrics: dict = field(default_factory=dict)
    promoted_at: Optional[str] = None  # when `version` was promoted (None: never promoted through Dagster)
    notes: tuple[str, ...] = ()

    @property
    def moved(self) -> bool:
        return self.from_version != self.version


def recorded(value: Optional[str]) -> Optional[str]:
    """A version tag's value, with the "none" sentinel and absence both as None."""
    return None if value in (None, "", "none") else str(value)


def rollback_target(project: str, current: Optional[str], tags: dict) -> str:
    """The version a rollback from `current` restores: the champion `current` replaced when it was promoted.

    Examples
    --------
    >>> rollback_target("churn", "3", {"previous_champion": "2"})
    '2'
    """
    if current is None:
        raise ChampionError(f"{project}: the registry has no '{CHAMPION}' alias: there is nothing to roll back. "
                            f"Promote a model first ({project}__train).")
    target = recorded(tags.get(PREVIOUS_CHAMPION))
    if target is None:
        raise ChampionError(
            f"{project}: cannot roll back: champion v{current} has no previous champion recorded (it was the first "
            f"promotion, or the alias was set by hand). Nothing was changed. To serve another version, move the "
            f"'{CHAMPION}' alias in MLflow and run {project}__sync_champion."
        )
    return target


def metrics_of(tags: dict, run_metrics: dict) -> dict:
    """A version's holdout metrics: its evaluation_summary tag (set at promotion), else its run's holdout_* metrics.

    Examples
    --------
    >>> metrics_of({}, {"holdout_roc_auc": 0.8, "train_roc_auc": 0.9})
    {'roc_auc': 0.8}
    """
    try:
        summary = json.loads(tags.get(EVALUATION_SUMMARY) or "{}")
    except json.JSONDecodeError:  # truncated at the tag size limit: fall back to the run
        summary = {}
    if summary.get("metrics"):
        return dict(summary["metrics"])
    return {k.removeprefix("holdout_"): v for k, v in run_metrics.items() if k.startswith("holdout_")}


def _version(client: MlflowClient, project: str, version: str, what: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(project, version)
    except MlflowException as err:
        raise ChampionError(
            f"{project}: {what} v{version} is not in the registry ({err.message}). Move the '{CHAMPION}' alias to an "
            f"existing version in MLflow and run {project}__sync_champion."
        ) from err


def version_metrics(client: MlflowClient, version) -> dict:
    run_metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
    return metrics_of(version.tags, run_metrics)


def promote(client: MlflowClient, project: str, report: dict, current: Optional[str], now: str, reason: str) -> Move:
    """Move the alias to the evaluation report's challenger (its gates passed, against the current champion)."""
    version = str(report["challenger_version"])
    if not report["gates_passed"]:
        failed = [k for k, g in report["gates"].items() if not g["passed"]]
        raise ChampionError(
            f"{project} version {version} failed its promotion gates ({', '.join(failed)}); the champion alias "
            "was not moved. Train a better candidate or change the spec's evaluation settings."
        )
    if current not in (version, report["champion_version"]):
        raise ChampionError(
            f"{project}: the champion moved to v{current} after v{version} was evaluated against "
            f"v{report['champion_version'] or 'none'}; re-materialize {project}/evaluation_report "
            "so the challenger is compared with the current champion."
        )
    tags = _version(client, project, version, "the challenger").tags
    rolled_back_at = tags.get(ROLLED_BACK_AT)
    if current != version and rolled_back_at and str(report.get("evaluated_at") or "") < rolled_back_at:
        raise ChampionError(
            f"{project}: v{version} was rolled back at {rolled_back_at} ({tags.get(ROLLBACK_REASON) or 'no reason'}) "
            f"and this evaluation report predates it; the alias was not moved. To promote it again, re-materialize "
            f"{project}/evaluation_report (it is compared with the current champion v{current}) and then this asset."
        )
    if current == version:  # promoted again: keep what the first promotion recorded
        return Move("promote", version, version, recorded(tags.get(PREVIOUS_CHAMPION)), reason,
                    dict(report["metrics"]), tags.get(PROMOTED_AT))
    summary = {"metrics": report["metrics"], "comparison": report["comparison"]}
    client.set_model_version_tag(project, version, PREVIOUS_CHAMPION, current or "none")
    client.set_model_version_tag(project, version, EVALUATION_SUMMARY, json.dumps(summary, default=str)[:4900])
    client.set_model_version_tag(project, version, PROMOTED_AT, now)
    client.set_registered_model_alias(project, CHAMPION, version)
    client.set_registered_model_tag(project, PREVIOUS_CHAMPION, current or "none")
    return Move("promote", version, current, current, reason, dict(report["metrics"]), now)


def rollback(client: MlflowClient, project: str, current: Optional[str], now: str, reason: str) -> Move:
    """Move the alias from `current` back to the champion it replaced; tag both versions with what happened."""
    rolled = _version(client, project, current, "the champion") if current is not None else None
    target = rollback_target(project, current, rolled.tags if rolled else {})
    restored = _version(client, project, target, f"v{current}'s previous champion")
    client.set_registered_model_alias(project, CHAMPION, target)
    client.set_model_version_tag(project, current, ROLLED_BACK_AT, now)
    client.set_model_version_tag(project, current, ROLLBACK_REASON, reason or "none given")
    client.set_model_version_tag(project, current, ROLLED_BACK_TO, target)
    client.set_model_version_tag(project, target, RESTORED_AT, now)
    client.set_model_version_tag(project, target, RESTORED_FROM, current)
    previous = recorded(restored.tags.get(PREVIOUS_CHAMPION))
    client.set_registered_model_tag(project, PREVIOUS_CHAMPION, previous or "none")
    notes = ()
    if restored.tags.get(ROLLED_BACK_AT):
        notes = (f"v{target} had itself been rolled back at {restored.tags[ROLLED_BACK_AT]} "
                 f"({restored.tags.get(ROLLBACK_REASON) or 'no reason'})",)
    return Move("rollback", target, current, previous, reason, version_metrics(client, restored),
                restored.tags.get(PROMOTED_AT), notes)


def sync(client: MlflowClient, project: str, current: Optional[str], last: Optional[str], now: str,
         reason: str) -> Move:
    """Adopt the version the alias points at now (`last`: the version the champion record named until now)."""
    if current is None:
        raise ChampionError(
            f"{project}: the registry has no '{CHAMPION}' alias to sync from. Set it on a version in MLflow "
            f"(Models > {project} > version > Aliases) or promote one with {project}__train."
        )
    version = _version(client, project, current, f"the '{CHAMPION}' alias's")
    previous = recorded(version.tags.get(PREVIOUS_CHAMPION))
    notes = []
    if current != last:
        client.set_model_version_tag(project, current, SYNCED_AT, now)
        client.set_model_version_tag(project, current, SYNCED_FROM, last or "none")
        if previous is None and last is not None and PREVIOUS_CHAMPION not in version.tags:
            # Never promoted through Dagster: a rollback from it returns to what was served before the hand move.
            client.set_model_version_tag(project, current, PREVIOUS_CHAMPION, last)
            previous = last
    metrics = version_metrics(client, version)
    if not metrics:
        notes.append(f"v{current} has no holdout metrics in the registry (never evaluated): performance monitoring "
                     f"has no baseline until {project}/evaluation_report evaluates it")
    if version.tags.get(ROLLED_BACK_AT):
        notes.append(f"v{current} was rolled back at {version.tags[ROLLED_BACK_AT]} "
                     f"({version.tags.get(ROLLBACK_REASON) or 'no reason'}) and is now the champion again")
    return Move("sync", current, last, previous, reason, metrics, version.tags.get(PROMOTED_AT), tuple(notes))


def champion_record(project: str, move: Move, now: str) -> dict:
    """The JSON the champion asset stores (read by the endpoint, the reference profile and the sensors)."""
    return {
        "registered_model": project,
        "version": move.version,
        "previous_version": move.previous_version,
        "from_version": move.from_version,
        "model_uri": f"models:/{project}/{move.version}",
        "action": move.action,
        "reason": move.reason,
        "promoted_at": move.promoted_at,
        "recorded_at": now,
        "metrics": move.metrics,
    }


def move_markdown(move: Move) -> str:
    """One-row table of the move, for the asset's metadata."""
    v = lambda x: f"v{x}" if x else "none"  # noqa: E731
    row = {"action": move.action, "from": v(move.from_version), "champion": v(move.version),
           "a rollback restores": v(move.previous_version), "reason": move.reason or "-"}
    text = pd.DataFrame([row]).to_markdown(index=False)
    return text + "".join(f"\n\n_{n}_" for n in move.notes)
