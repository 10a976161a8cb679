"""Per-project monitoring assets: the champion's reference profile, and daily drift and performance reports."""


import json
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetSelection,
    AssetsDefinition,
    AutomationCondition,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from mlops_assets import constants as C
from mlops_assets.evaluation.plots import figure_markdown, pyplot
from mlops_assets.data.fingerprint import frame_fingerprint
from mlops_assets.features.transforms import build_features
from mlops_assets.monitoring.drift import COLUMNS
from mlops_assets.monitoring.logs import FEEDBACK, PREDICTIONS, project_log_dir, read_day, read_days
from mlops_assets.monitoring.performance import decide_performance, join_feedback, live_metric
from mlops_assets.monitoring.profile import NumericProfile, ReferenceProfile
from mlops_assets.monitoring.windows import SCORE, drift_of_rows, live_rows
from mlops_assets.partitions import day_status, monitoring_partitions
from mlops_assets.resources.storage import DataDirectory
from mlops_assets.resources.tracking import MlflowTracking
from mlops_assets.spec import ProjectSpec
from mlops_assets.training.estimators import model_scores, split_columns

# mlflow is imported inside the functions that use it, not at module import (start-up time).

REFERENCE_PROFILE, DRIFT_REPORT, PERFORMANCE_REPORT = C.REFERENCE_PROFILE, C.DRIFT_REPORT, C.PERFORMANCE_REPORT
MAX_PLOTS = 6


def drift_markdown(table: pd.DataFrame) -> str:
    """Per feature: the effect and the floor it is compared with, the adjusted p-value, and why it did (not) drift."""
    def pct(x: float) -> str:
        return "" if pd.isna(x) or x == 0 else f"{x:.2%}"

    shown = pd.DataFrame({
        "feature": table["feature"],
        "drifted": np.where(table["drifted"], "**yes**", "no"),
        "measure": table["measure"],
        "effect": table["effect_size"].map(lambda x: "" if pd.isna(x) else f"{x:.3f}"),
        "floor": table["floor"].map(lambda x: f"{x:g}"),
        "p_adjusted": table["p_adjusted"].map(lambda x: "" if pd.isna(x) else f"{x:.2g}"),
        "why": table["reason"],
        "off support": table["off_support"].map(pct),
        "off-support values": table["off_support_values"].fillna(""),
        "rows": table["n_current"],
    })
    return shown.to_markdown(index=False)


def _plot_numeric(ax, ref: NumericProfile, values: pd.Series) -> None:
    values = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    cur = ref.bin(pd.Series(values))
    if ref.discrete:  # one bin per reference value: bars at the values
        ref_p = ref.counts[1: ref.edges.size + 1] / ref.n
        cur_p = cur.counts[1: ref.edges.size + 1] / max(cur.n, 1)
        width = np.min(np.diff(ref.edges)) * 0.4 if ref.edges.size > 1 else 0.4
        ax.bar(ref.edges - width / 2, ref_p, width=width, label="reference", alpha=0.7)
        ax.bar(ref.edges + width / 2, cur_p, width=width, label="current", alpha=0.7)
        return
    lo = min(ref.min, values.min()) if values.size else ref.min
    hi = max(ref.max, values.max()) if values.size else ref.max
    grid = np.linspace(lo, hi, 41)
    cdf = np.cumsum(ref.counts)[: ref.edges.size] / ref.n  # mass below each edge (linear inside bins)
    ref_p = np.diff(np.interp(grid, ref.edges, cdf, left=0.0, right=1.0))
    cur_p = np.histogram(values, bins=grid)[0] / max(values.size, 1)
    ax.stairs(ref_p, grid, label="reference", fill=True, alpha=0.5)
    ax.stairs(cur_p, grid, label="current", linewidth=1.5)


def drift_plots(profile: ReferenceProfile, window: pd.DataFrame, table: pd.DataFrame) -> str:
    """Reference vs current distributions of the most shifted features, as a markdown image (PNG data URI)."""
    order = table.sort_values(["drifted", "effect_size"], ascending=[False, False], na_position="last")
    names = [n for n in order["feature"] if n in window.columns][:MAX_PLOTS]
    if not names:
        return "_nothing to plot_"
    ncols = min(3, len(names))
    nrows = (len(names) + ncols - 1) // ncols
    fig, axes = pyplot().subplots(nrows, ncols, figsize=(3.6 * ncols, 2.8 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        ref = profile.features[name]
        if isinstance(ref, NumericProfile):
            _plot_numeric(ax, ref, window[name])
        else:
            cats = list(ref.categories) + ["__other__"]
            cur = ref.bin(window[name])
            x = np.arange(len(cats))
            ax.bar(x - 0.2, ref.counts / ref.n, width=0.4, label="reference")
            ax.bar(x + 0.2, cur.counts / max(cur.n, 1), width=0.4, label="current")
            ax.set_xticks(x, cats, rotation=30, fontsize=7)
        row = table.set_index("feature").loc[name]
        ax.set_title(f"{name}{' (drifted)' if row['drifted'] else ''}\neffect {row['effect_size']:.3f}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return figure_markdown(fig, "reference vs current")


# ---------------------------------------------------------------- assets
def reference_days(spec: ProjectSpec) -> int:
    """How many of the newest days of the champion's training window its reference describes."""
    return spec.monitoring.reference_days or spec.training.holdout_days


def reference_rows(frame: pd.DataFrame, event_time_column: str, days: int) -> tuple[pd.DataFrame, dict]:
    """Rows dated on or after the newest `days` days of the window, and which days those are.

    The window's newest day is that of its warehouse rows (``source``, when the set has it); rows dated later
    (labelled production traffic) are kept: the reference describes the data the model serves now.

    Examples
    --------
    >>> f = pd.DataFrame({"t": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 09:00", "2026-01-03 23:00"])})
    >>> rows, window = reference_rows(f, "t", 2)
    >>> len(rows), window
    (2, {'first_day': '2026-01-02', 'last_day': '2026-01-03', 'days': 2, 'rows': 2})
    """
    times = pd.to_datetime(frame[event_time_column])
    anchor = times[frame["source"] == "warehouse"] if "source" in frame.columns else times
    if anchor.dropna().empty:
        return frame.iloc[:0], {"first_day": None, "last_day": None, "days": days, "rows": 0}
    first = anchor.max().normalize() - pd.Timedelta(days=days - 1)
    keep = (times >= first).to_numpy()
    rows = frame[keep].reset_index(drop=True)
    return rows, {"first_day": first.date().isoformat(), "last_day": times[keep].max().date().isoformat(),
                  "days": days, "rows": int(keep.sum())}


#: Where reference_profile stores each champion's reference in the champion version's MLflow run.
REFERENCE_ARTIFACT = "reference/profile.json"


def stored_reference(client, run_id: str | None) -> dict | None:
    """The reference logged to a model version's run by an earlier materialization, or None."""
    if not run_id:
        return None
    import mlflow

    directory, name = REFERENCE_ARTIFACT.rsplit("/", 1)
    if not any(a.path == REFERENCE_ARTIFACT for a in client.list_artifacts(run_id, directory)):
        return None
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{REFERENCE_ARTIFACT}")


def _profile_table(profile: ReferenceProfile) -> str:
    summary = pd.DataFrame([{"feature": f.name, "kind": f.kind, "null_fraction": f.null_fraction,
                             "mean": getattr(f, "mean", np.nan), "std": getattr(f, "std", np.nan)}
                            for f in profile.features.values()])
    return summary.to_markdown(index=False, floatfmt=".4g")


def build_reference_profile(spec: ProjectSpec) -> AssetsDefinition:
    training_key = AssetKey([spec.name, C.TRAINING_SET])
    days = reference_days(spec)

    @asset(
        key=AssetKey([spec.name, REFERENCE_PROFILE]),
        ins={"training_set": AssetIn(key=training_key), "champion": AssetIn(key=AssetKey([spec.name, C.CHAMPION]))},
        group_name=spec.name,
        io_manager_key="json_io_manager",
        # Follows the champion only: a new training_set whose candidate is not promoted must not move the reference.
        automation_condition=AutomationCondition.eager().ignore(AssetSelection.assets(training_key)),
        tags=C.asset_tags(spec.name, C.MONITORING),
        kinds={"pandas", "json", "mlflow"},
        description=(
            f"'{spec.name}' champion's reference: binned profile of the newest {days} day(s) of its training window "
            f"(features and its scores), kept in the champion's MLflow run ({REFERENCE_ARTIFACT}) so a rollback "
            "finds it again."
        ),
    )
    def reference_profile(
        context: AssetExecutionContext, training_set: pd.DataFrame, champion: dict, tracking: MlflowTracking
    ):
        client = tracking.client()
        model_version = client.get_model_version(spec.name, champion["version"])
        trained_on = model_version.tags.get(C.TRAINING_SET_VERSION_TAG)
        version = frame_fingerprint(training_set)
        created_at = datetime.now(timezone.utc).isoformat()
        if trained_on and trained_on != version:
            # Not the champion's training set (e.g. after a rollback): its reference from when it was promoted.
            stored = stored_reference(client, model_version.run_id)
            if stored is None:
                raise Failure(
                    f"{spec.name}/training_set ({version}) is not the set champion v{champion['version']} was trained "
                    f"on ({trained_on}), and its MLflow run {model_version.run_id} has no stored reference "
                    f"({REFERENCE_ARTIFACT}); a reference from this set would judge drift against data the model "
                    f"never saw. Re-materialize {spec.name}/training_set with the champion's window (its MLflow run "
                    "tags window_start/window_end) and then this asset."
                )
            record = {**stored, "model_version": str(champion["version"]), "model_uri": champion["model_uri"],
                      "created_at": created_at}
            window = record.get("reference_window") or {}
            return Output(record, metadata={
                "model_version": record["model_version"],
                "source": f"stored in MLflow run {model_version.run_id} ({REFERENCE_ARTIFACT})",
                "reference_window": f"{window.get('first_day')}..{window.get('last_day')} ({window.get('rows')} rows)",
                "rows": int(record.get("rows", 0)),
                "features": len(record.get("features", [])),
                "training_set_matches_champion": False,
                "profile": MetadataValue.md(_profile_table(ReferenceProfile.from_dict(record))),
            })

        rows, window = reference_rows(training_set, spec.schema_.event_time_column, days)
        if rows.empty:
            raise Failure(f"{spec.name}/training_set has no rows with an event time: nothing to build the reference "
                          f"from. Re-materialize {spec.name}/training_set.")
        columns = list(spec.features.columns)
        import mlflow

        tracking.activate()
        model = mlflow.sklearn.load_model(champion["model_uri"])
        frame = rows[columns].assign(**{SCORE: model_scores(model, spec.target.task, rows[columns])})
        numeric, categorical = split_columns(frame, columns)
        profile = ReferenceProfile.from_frame(frame, numeric=[*numeric, SCORE], categorical=categorical)
        record = {
            **profile.to_dict(),
            "project": spec.name,
            "model_version": str(champion["version"]),
            "model_uri": champion["model_uri"],
            "training_set_version": version,
            "rows": len(rows),
            "reference_days": days,
            "reference_window": window,
            "created_at": created_at,
        }
        if model_version.run_id:
            client.log_dict(model_version.run_id, record, REFERENCE_ARTIFACT)
        return Output(record, metadata={
            "model_version": record["model_version"],
            "source": f"training_set {version}",
            "reference_window": f"{window['first_day']}..{window['last_day']} ({window['rows']} rows)",
            "rows": len(rows),
            "features": len(profile.features),
            "training_set_matches_champion": True,
            "stored_in_mlflow": (
                MetadataValue.url(tracking.artifact_url(model_version.run_id, REFERENCE_ARTIFACT)) if tracking.ui_url
                else f"run {model_version.run_id}: {REFERENCE_ARTIFACT}") if model_version.run_id else "no run",
            "profile": MetadataValue.md(_profile_table(profile)),
        })

    return reference_profile


def build_drift_report(spec: ProjectSpec) -> AssetsDefinition:
    @asset(
        key=AssetKey([spec.name, DRIFT_REPORT]),
        ins={"reference_profile": AssetIn(key=AssetKey([spec.name, REFERENCE_PROFILE]))},
        # The server's day of log files, which prediction_log compacts: the lineage of what is judged.
        deps=[AssetKey([spec.name, C.PREDICTION_LOG])],
        partitions_def=monitoring_partitions(spec),
        group_name=spec.name,
        tags=C.asset_tags(spec.name, C.MONITORING),
        kinds={"pandas", "parquet"},
        description=(f"'{spec.name}' live predictions of one day (UTC) vs the reference profile, per feature. "
                     "Today's partition judges the day in progress: the predictions logged so far."),
    )
    def drift_report(context: AssetExecutionContext, reference_profile: dict, storage: DataDirectory):
        day = context.partition_key
        rows = live_rows(read_day(project_log_dir(storage.root, spec.name), PREDICTIONS, day))
        if rows.empty:
            return Output(pd.DataFrame(columns=COLUMNS), metadata=day_status(day, {
                "decision": "no data", "dagster/row_count": 0, "rows": 0,
                "note": f"no live predictions were logged on {day}: nothing to compare",
            }))
        report = drift_of_rows(spec, rows, reference_profile)
        profile = ReferenceProfile.from_dict(reference_profile)
        window = build_features(spec, rows).assign(**{SCORE: rows["score"].to_numpy()})
        return Output(report.table, metadata=day_status(day, {
            "decision": "drift" if report.drifted else "no drift",
            "drifted_features": ", ".join(report.drifted_features) or "none",
            "rows": report.n_current,
            "dagster/row_count": len(report.table),
            "reference_model_version": str(reference_profile.get("model_version")),
            "table": MetadataValue.md(drift_markdown(report.table)),
            "plots": MetadataValue.md(drift_plots(profile, window, report.table)),
        }))

    return drift_report


def performance_table(spec: ProjectSpec, joined: pd.DataFrame, baseline: float, metric: str) -> pd.DataFrame:
    """The metric over all labelled rows and per model version, against the holdout baseline."""
    m = spec.monitoring
    groups = [("all", joined)] + [(str(v), g) for v, g in joined.groupby("model_version")]
    rows = []
    for version, g in groups:
        d = decide_performance(spec.target.task, metric, g["label"], g["score"], baseline, m.performance_tolerance,
                               m.min_feedback)
        rows.append({"model_version": version, **d.to_dict()})
    return pd.DataFrame(rows)


def build_performance_report(spec: ProjectSpec) -> AssetsDefinition:
    metric = live_metric(spec.target.task, spec.evaluation.primary_metric)

    @asset(
        key=AssetKey([spec.name, PERFORMANCE_REPORT]),
        ins={"champion": AssetIn(key=AssetKey([spec.name, C.CHAMPION]))},
        deps=[AssetKey([spec.name, C.PREDICTION_LOG]), AssetKey([spec.name, C.FEEDBACK])],
        partitions_def=monitoring_partitions(spec),
        group_name=spec.name,
        tags=C.asset_tags(spec.name, C.MONITORING),
        kinds={"pandas", "parquet"},
        description=(
            f"'{spec.name}' {metric} on one day's (UTC) feedback labels joined to the live predictions, vs the "
            "champion's holdout figure from its evaluation report. Today's partition judges the day in progress: "
            "the labels received so far."
        ),
    )
    def performance_report(context: AssetExecutionContext, champion: dict, storage: DataDirectory):
        day = date.fromisoformat(context.partition_key)
        log_dir = project_log_dir(storage.root, spec.name)
        feedback = read_day(log_dir, FEEDBACK, day)
        first = day - timedelta(days=spec.monitoring.feedback_lookback_days)
        predictions = read_days(log_dir, PREDICTIONS, first, day) if not feedback.empty else pd.DataFrame()
        joined = join_feedback(predictions, feedback)
        baseline = float(champion["metrics"][metric])
        if joined.empty:
            empty = pd.DataFrame(columns=["model_version", "decayed", "metric", "value", "baseline", "n"])
            return Output(empty, metadata=day_status(day, {
                "decision": "no data", "dagster/row_count": 0, "labels": len(feedback), "joined": 0,
                "note": f"no feedback joined to a live prediction on {day} ({len(feedback)} labels received)",
            }))
        table = performance_table(spec, joined, baseline, metric)
        overall = table.iloc[0]
        return Output(table, metadata=day_status(day, {
            "decision": "decayed" if overall["decayed"] else "ok",
            "metric": metric,
            "value": float(overall["value"]) if overall["value"] is not None else float("nan"),
            "baseline": baseline,
            "labels": len(feedback),
            "joined": len(joined),
            "reason": str(overall["reason"]),
            "champion_version": str(champion["version"]),
            "dagster/row_count": len(table),
            "table": MetadataValue.md(table.drop(columns=["reason"]).to_markdown(index=False, floatfmt=".4g")),
        }))

    return performance_report


def build_monitoring_assets(spec: ProjectSpec) -> list[AssetsDefinition]:
    """reference_profile, drift_report and performance_report of one project."""
    return [build_reference_profile(spec), build_drift_report(spec), build_performance_report(spec)]
