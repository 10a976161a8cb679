"""Per-project evaluation_report (with blocking promotion gates) and champion (alias promotion) assets."""

import json
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from mlops_assets import constants as C
from mlops_assets.evaluation import champion as champion_moves
from mlops_assets.evaluation.champion import ChampionConfig
from mlops_assets.evaluation.gates import GateResult
from mlops_assets.evaluation.plots import evaluation_figure, figure_markdown
from mlops_assets.evaluation.report import (
    GATES,
    EvaluationInputs,
    detail_markdown,
    evaluate,
    metrics_markdown,
    metrics_table,
)
from mlops_assets.labels import binary_labels, encode_target
from mlops_assets.lineage.history import history_row, model_history
from mlops_assets.lineage.report import history_markdown
from mlops_assets.records import latest, metadata_value
from mlops_assets.resources.tracking import CHAMPION, MlflowTracking
from mlops_assets.spec import ProjectSpec
from mlops_assets.training.estimators import model_scores

# mlflow is imported inside the asset bodies that use it, not at module import (start-up time).

GATE_DESCRIPTIONS = {
    "meets_thresholds": "every metric meets the spec's evaluation.thresholds",
    "not_worse_than_champion": (
        "by evaluation.promotion_rule on the CI of challenger − champion (primary metric, positive = better): "
        "non_inferior — it lies above −tolerance and not entirely below zero; superior — it lies entirely above zero"
    ),
    "slice_gap_within": "the largest slice gap on the primary metric is within evaluation.max_slice_gap",
}


def evaluation_inputs(spec: ProjectSpec) -> EvaluationInputs:
    ev = spec.evaluation
    return EvaluationInputs(
        task=spec.target.task,
        primary_metric=ev.primary_metric,
        thresholds=dict(ev.thresholds),
        tolerance=ev.tolerance,
        max_slice_gap=ev.max_slice_gap,
        segment_columns=[c for c in spec.training.segment_columns],
        seed=spec.training.seed,
        promotion_rule=spec.evaluation.promotion_rule,
    )


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _gate_check(name: str, gate: GateResult) -> AssetCheckResult:
    table = pd.DataFrame(gate.rows)
    metadata = {"summary": gate.summary}
    if not table.empty:
        metadata["details"] = MetadataValue.md(table.to_markdown(index=False))
        for row in gate.rows:
            if not row.get("passed", True):
                metadata.update({"metric": str(row.get("metric")), "value": _number(row.get("value")),
                                 "threshold": _number(row.get("threshold"))})
                break
    return AssetCheckResult(
        check_name=name, passed=gate.passed, severity=AssetCheckSeverity.ERROR, metadata=metadata, description=gate.summary
    )


def _segments(spec: ProjectSpec, holdout: pd.DataFrame) -> pd.DataFrame:
    """Segment columns for slicing: taken from the holdout (features), or absent."""
    cols = [c for c in spec.training.segment_columns if c in holdout.columns]
    return holdout[cols]


def build_evaluation_report(spec: ProjectSpec) -> AssetsDefinition:
    key = AssetKey([spec.name, C.EVALUATION_REPORT])

    @asset(
        key=key,
        ins={
            "training_set": AssetIn(key=AssetKey([spec.name, C.TRAINING_SET])),
            "candidate_model": AssetIn(key=AssetKey([spec.name, C.CANDIDATE_MODEL])),
        },
        check_specs=[AssetCheckSpec(n, asset=key, blocking=True, description=GATE_DESCRIPTIONS[n]) for n in GATES],
        group_name=spec.name,
        io_manager_key="json_io_manager",
        tags=C.asset_tags(spec.name, C.EVALUATION),
        kinds={"mlflow"},
        description=f"'{spec.name}' challenger vs champion on the holdout; blocking gates decide promotion.",
    )
    def evaluation_report(
        context: AssetExecutionContext, training_set: pd.DataFrame, candidate_model: dict, tracking: MlflowTracking
    ):
        import mlflow

        holdout = training_set[training_set["split"] == "holdout"].reset_index(drop=True)
        if holdout.empty:
            raise Failure(f"{spec.name}/training_set has no holdout rows; check training.holdout_days and the window")
        X = holdout[list(spec.features.columns)]
        y = np.asarray(encode_target(spec, holdout[spec.target.column]))  # classification: 0/1, positive class = 1
        tracking.activate()
        challenger = mlflow.sklearn.load_model(candidate_model["model_uri"])
        champion_version = tracking.alias_version(spec.name, CHAMPION)
        if champion_version == candidate_model["version"]:
            champion_version = None  # re-evaluating the champion itself: nothing to compare with
        champion_score = None
        if champion_version is not None:
            champion = mlflow.sklearn.load_model(f"models:/{spec.name}/{champion_version}")
            champion_score = model_scores(champion, spec.target.task, X)
        challenger_score = model_scores(challenger, spec.target.task, X)
        report = evaluate(evaluation_inputs(spec), y, challenger_score, champion_score, _segments(spec, holdout))

        run_id = candidate_model["run_id"]
        figure = evaluation_figure(spec.target.task, y, challenger_score, champion_score)
        payload = {**report.to_dict(), "challenger_version": candidate_model["version"],
                   "champion_version": champion_version, "model_uri": candidate_model["model_uri"],
                   "run_id": run_id, "evaluated_at": datetime.now(timezone.utc).isoformat()}
        labels = binary_labels(spec)
        if labels is not None:  # the metrics treat this class as positive (code 1)
            payload["positive_class"] = labels.positive
        with mlflow.start_run(run_id=run_id):
            mlflow.log_metrics({f"holdout_{k}": v for k, v in report.metrics.items() if v == v})
            mlflow.log_figure(figure, "evaluation/curves.png")
            mlflow.log_dict(payload, "evaluation/report.json")
            mlflow.set_tag("gates_passed", str(report.passed).lower())
        plot_url = tracking.artifact_url(run_id, "evaluation/curves.png")
        plot_md = figure_markdown(figure, "evaluation curves")
        slices_md = ("_no segment columns_" if report.slices.empty
                     else report.slices.to_markdown(index=False, floatfmt=".4f"))
        yield Output(
            payload,
            metadata={
                "challenger_version": candidate_model["version"],
                "champion_version": champion_version or "none",
                "primary_metric": evaluation_inputs(spec).primary,
                **({"positive_class": str(labels.positive)} if labels is not None else {}),
                "promotion_rule": report.promotion_rule,
                "metrics": MetadataValue.md(metrics_markdown(report)),
                "slices": MetadataValue.md(slices_md),
                "detail": MetadataValue.md(detail_markdown(report.detail)),
                "plots": MetadataValue.md(f"{plot_md}\n\n[artifact in MLflow]({plot_url})" if plot_url else plot_md),
                **tracking.run_metadata(candidate_model["experiment_id"], run_id),
                "gates_passed": report.passed,
                "gates": MetadataValue.json({k: {"passed": g.passed, "summary": g.summary}
                                             for k, g in report.gates.items()}),
            },
        )
        for name in GATES:
            yield _gate_check(name, report.gates[name])

    return evaluation_report


def _last_recorded_version(context: AssetExecutionContext) -> str | None:
    """The version the champion record named until this materialization (from the instance's last event)."""
    value = metadata_value(latest(context.instance, context.asset_key), "champion_version")
    return str(value) if value is not None else None


def build_champion(spec: ProjectSpec) -> AssetsDefinition:
    manual = spec.evaluation.promotion == "manual"

    @asset(
        key=AssetKey([spec.name, C.CHAMPION]),
        ins={"evaluation_report": AssetIn(key=AssetKey([spec.name, C.EVALUATION_REPORT]))},
        group_name=spec.name,
        io_manager_key="json_io_manager",
        tags={**C.asset_tags(spec.name, C.PROMOTION), "promotion": spec.evaluation.promotion},
        kinds={"mlflow"},
        description=(
            f"Moves the '{spec.name}' champion alias to the evaluated challenger"
            + (" — manual promotion: materialize it from the UI to approve" if manual else "")
            + f"; action=rollback steps it back to the previous champion ({spec.name}__rollback), action=sync "
            f"adopts a hand-moved alias ({spec.name}__sync_champion)."
        ),
    )
    def champion(context: AssetExecutionContext, config: ChampionConfig, evaluation_report: dict,
                 tracking: MlflowTracking):
        client = tracking.client()
        current = tracking.alias_version(spec.name, CHAMPION)
        now = datetime.now(timezone.utc).isoformat()
        try:
            if config.action == "rollback":
                move = champion_moves.rollback(client, spec.name, current, now, config.reason)
            elif config.action == "sync":
                move = champion_moves.sync(client, spec.name, current, _last_recorded_version(context), now,
                                           config.reason)
            else:
                move = champion_moves.promote(client, spec.name, evaluation_report, current, now, config.reason)
        except champion_moves.ChampionError as err:
            raise Failure(str(err)) from err
        for note in move.notes:
            context.log.warning(note)
        record = champion_moves.champion_record(spec.name, move, now)
        history = model_history(context.instance, spec.name, client)
        if move.moved:
            history.append(history_row(context.instance, spec.name, client, timestamp=time.time(),
                                       action=move.action, from_version=move.from_version, to_version=move.version,
                                       reason=config.reason, run_id=context.run.run_id))
        return Output(
            record,
            metadata={
                "champion_version": move.version,
                "previous_champion": move.previous_version or "none",
                "action": move.action,
                "moved": move.moved,
                "change": MetadataValue.md(champion_moves.move_markdown(move)),
                "model_uri": record["model_uri"],
                "metrics": MetadataValue.md(metrics_table(move.metrics)),
                "reason": config.reason,
                "model_history": MetadataValue.md(history_markdown(history)),
            },
        )

    return champion

