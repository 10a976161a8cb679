"""The evaluation report: challenger vs champion on one holdout, with gates (pure; no Dagster, no MLflow)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from mlops_assets.evaluation.bootstrap import BootstrapResult, paired_bootstrap_diff
from mlops_assets.evaluation.gates import GateResult, check_not_worse, check_slice_gap, check_thresholds
from mlops_assets.evaluation.metrics import compute_metrics, confusion, residual_summary
from mlops_assets.evaluation.slices import max_slice_gap, slice_metrics

DEFAULT_PRIMARY = {"classification": "roc_auc", "regression": "rmse"}
GATES = ("meets_thresholds", "not_worse_than_champion", "slice_gap_within")


@dataclass(frozen=True)
class EvaluationInputs:
    task: str
    primary_metric: str | None
    thresholds: dict[str, float]
    tolerance: float
    max_slice_gap: float | None
    segment_columns: list[str] = field(default_factory=list)
    n_boot: int = 1000
    seed: int = 0
    promotion_rule: str = "non_inferior"

    @property
    def primary(self) -> str:
        return self.primary_metric or DEFAULT_PRIMARY[self.task]


@dataclass(frozen=True)
class EvaluationReport:
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    comparison: BootstrapResult | None
    slices: pd.DataFrame
    worst_slice: dict | None
    detail: dict
    gates: dict[str, GateResult]
    promotion_rule: str = "non_inferior"

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates.values())

    def to_dict(self) -> dict:
        return {
            "metrics": self.metrics,
            "champion_metrics": self.champion_metrics,
            "comparison": dataclasses.asdict(self.comparison) if self.comparison else None,
            "promotion_rule": self.promotion_rule,
            "slices": self.slices.astype({"segment": str}).to_dict(orient="records"),
            "worst_slice": self.worst_slice,
            "detail": self.detail,
            "gates": {k: dataclasses.asdict(v) for k, v in self.gates.items()},
            "gates_passed": self.passed,
        }


def evaluate(
    inputs: EvaluationInputs,
    y_true: np.ndarray,
    challenger_score: np.ndarray,
    champion_score: np.ndarray | None,
    segments: pd.DataFrame,
) -> EvaluationReport:
    """Score the challenger (and the champion, if any) on the same holdout and decide the three gates."""
    metrics = compute_metrics(inputs.task, y_true, challenger_score)
    champion_metrics = comparison = None
    if champion_score is not None:
        champion_metrics = compute_metrics(inputs.task, y_true, champion_score)
        comparison = paired_bootstrap_diff(
            y_true, challenger_score, champion_score, inputs.primary, n_boot=inputs.n_boot, seed=inputs.seed
        )
    frame = segments.reset_index(drop=True).copy()
    frame["__y"] = np.asarray(y_true)
    frame["__score"] = np.asarray(challenger_score)
    if inputs.segment_columns:
        slices = slice_metrics(frame, inputs.segment_columns, "__y", "__score", inputs.primary)
        worst, gap = max_slice_gap(slices)
    else:
        slices, worst, gap = pd.DataFrame(columns=["column", "segment"]), None, 0.0
    if inputs.task == "classification":
        detail = {"confusion": confusion(y_true, challenger_score)}
    else:
        detail = {"residuals": residual_summary(y_true, challenger_score)}
    gates = {
        "meets_thresholds": check_thresholds(metrics, inputs.thresholds),
        "not_worse_than_champion": check_not_worse(comparison, inputs.tolerance, inputs.promotion_rule),
        "slice_gap_within": check_slice_gap(gap, inputs.max_slice_gap, worst),
    }
    return EvaluationReport(metrics, champion_metrics, comparison, slices, worst, detail, gates, inputs.promotion_rule)


def metrics_table(metrics: Mapping[str, float], digits: int = 4) -> str:
    """A `metric | value` markdown table, figures rounded to `digits` (NaN shown as —)."""
    lines = ["| metric | value |", "| --- | --- |"]
    for name, value in metrics.items():
        shown = "—" if value is None or value != value else f"{float(value):.{digits}f}"
        lines.append(f"| {name} | {shown} |")
    return "\n".join(lines)


def detail_markdown(detail: Mapping[str, Mapping[str, float]]) -> str:
    """The confusion matrix (rows actual, columns predicted) or the residual summary, as a markdown table."""
    if "confusion" in detail:
        c = detail["confusion"]
        total = sum(c.values()) or 1
        cell = lambda k: f"{c[k]:,} ({100 * c[k] / total:.1f}%)"  # noqa: E731
        return "\n".join([
            "Confusion matrix on the holdout (threshold 0.5; count and share of rows):", "",
            "| actual \\ predicted | negative (0) | positive (1) |", "| --- | --- | --- |",
            f"| negative (0) | {cell('tn')} | {cell('fp')} |",
            f"| positive (1) | {cell('fn')} | {cell('tp')} |",
        ])
    if "residuals" in detail:
        return "Residuals (actual − predicted) on the holdout:\n\n" + metrics_table(detail["residuals"])
    return "_no detail_"


def metrics_markdown(report: EvaluationReport) -> str:
    """A challenger | champion | difference table, the paired bootstrap and the promotion rule's decision."""
    lines = ["| metric | challenger | champion |", "| --- | --- | --- |"]
    for name, value in report.metrics.items():
        champ = report.champion_metrics.get(name) if report.champion_metrics else None
        lines.append(f"| {name} | {value:.4f} | {'—' if champ is None else f'{champ:.4f}'} |")
    if report.comparison is not None:
        c = report.comparison
        lines.append("")
        lines.append(
            f"Paired bootstrap ({c.n_boot} resamples) of challenger − champion on **{c.metric}**: "
            f"{c.diff:+.4f}, {100 * (1 - c.alpha):.0f}% CI [{c.ci_low:+.4f}, {c.ci_high:+.4f}]"
        )
    lines.append("")
    lines.append(f"Promotion rule **{report.promotion_rule}**: {report.gates['not_worse_than_champion'].summary}")
    return "\n".join(lines)
