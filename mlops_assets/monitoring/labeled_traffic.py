"""Labelled production traffic: served rows joined to their /feedback labels, as training rows.

The pure core, :func:`label_traffic`, takes the prediction log and one day's feedback and returns rows shaped like
the features partitions (features computed by :func:`~mlops_assets.features.transforms.build_features`, the same
definitions training and serving use), with the label as the target and the prediction time as the event time.
The thin asset around it, ``<project>/labeled_traffic``, is partitioned by the day the labels arrived (monitoring
partitions, today included): a label may come days after its prediction (up to
``monitoring.feedback_lookback_days``), and a feedback day is complete once it is over.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, DataVersion, MetadataValue, Output, asset

from mlops_assets import constants as C
from mlops_assets.data.fingerprint import frame_fingerprint
from mlops_assets.features.transforms import build_features
from mlops_assets.labels import binary_labels
from mlops_assets.monitoring.logs import FEEDBACK, PREDICTIONS, day_parts, project_log_dir, read_day, read_days
from mlops_assets.monitoring.performance import join_feedback
from mlops_assets.partitions import monitoring_partitions
from mlops_assets.resources.storage import DataDirectory
from mlops_assets.spec import ProjectSpec

#: Columns a labelled-traffic row carries besides the features, the target and the event time.
TRAFFIC_COLUMNS = ["request_id", "row", "model_version", "label_delay_s"]


@dataclass(frozen=True)
class LabeledTraffic:
    """Training rows from one day's labels, and how the join went."""

    rows: pd.DataFrame
    labels: int  # feedback records received
    duplicates: int  # labels for a row already labelled that day (the latest counts)
    joined: int  # labels that found their live prediction

    @property
    def join_rate(self) -> float:
        unique = self.labels - self.duplicates
        return self.joined / unique if unique else float("nan")


def empty_traffic(spec: ProjectSpec) -> pd.DataFrame:
    cols = [spec.schema_.id_column, spec.schema_.event_time_column, *spec.features.columns, *_extra_columns(spec),
            spec.target.column, *TRAFFIC_COLUMNS]
    return pd.DataFrame(columns=list(dict.fromkeys(cols)))


def _extra_columns(spec: ProjectSpec) -> list[str]:
    return [c for c in spec.training.segment_columns if c not in spec.features.columns]


def _as_target(spec: ProjectSpec, labels: pd.Series) -> pd.Series:
    """Feedback labels (floats in the log) in the target column's dtype: a classifier's 0/1 codes as the classes
    the feed spells (``"yes"``/``"no"``, true/false, 0/1), so traffic rows look like the warehouse's."""
    classes = binary_labels(spec)
    if classes is not None:
        return pd.Series(classes.decode(labels.round().to_numpy()), index=labels.index)
    if spec.schema_.columns[spec.target.column].dtype == "int":
        return labels.round().astype("int64")
    return labels.astype("float64")


def label_traffic(spec: ProjectSpec, predictions: pd.DataFrame, feedback: pd.DataFrame) -> LabeledTraffic:
    """Join `feedback` to the live `predictions` it is about; return training rows (pure).

    Parameters
    ----------
    predictions : DataFrame
        Prediction-log rows (``request_id``, ``row``, ``time``, ``role``, ``model_version`` and the raw inputs).
    feedback : DataFrame
        Feedback-log rows (``request_id``, ``row``, ``time``, ``label``).

    Returns
    -------
    LabeledTraffic
        ``rows`` has the id column (``<request_id>:<row>``), the event-time column (the prediction time, naive
        UTC like the warehouse's), the feature columns, the target (the label), and ``request_id``, ``row``,
        ``model_version``, ``label_delay_s``; sorted by prediction time, request and row.
    """
    labels = len(feedback)
    keys = ["request_id", "row"]
    duplicates = int(feedback.duplicated(keys).sum()) if labels else 0
    raw_inputs = [c for c in predictions.columns if c not in ("project", "prediction", "score", "role", "data_version", "feature_hash")]
    joined = join_feedback(predictions, feedback, extra=raw_inputs)
    if joined.empty:
        return LabeledTraffic(empty_traffic(spec), labels, duplicates, 0)
    fb = feedback.sort_values("time", kind="stable").drop_duplicates(keys, keep="last")
    fb = fb.assign(row=fb["row"].fillna(0).astype("int64"))[[*keys, "time"]].rename(columns={"time": "label_time"})
    joined = joined.merge(fb, on=keys, how="left")
    joined = joined.sort_values(["time", "request_id", "row"], kind="stable").reset_index(drop=True)
    predicted_at = pd.to_datetime(joined["time"], utc=True)
    delay = (pd.to_datetime(joined["label_time"], utc=True) - predicted_at).dt.total_seconds()
    features = build_features(spec, joined)
    rows = features.copy()
    for col in _extra_columns(spec):
        if col in joined.columns:
            rows[col] = joined[col].to_numpy()
    rows.insert(0, spec.schema_.event_time_column, predicted_at.dt.tz_convert("UTC").dt.tz_localize(None)
                .astype("datetime64[ns]").to_numpy())
    rows.insert(0, spec.schema_.id_column, (joined["request_id"].astype(str) + ":" + joined["row"].astype(str)).to_numpy())
    rows[spec.target.column] = _as_target(spec, joined["label"]).to_numpy()
    rows["request_id"] = joined["request_id"].astype(str).to_numpy()
    rows["row"] = joined["row"].astype("int64").to_numpy()
    rows["model_version"] = joined["model_version"].astype(str).to_numpy()
    rows["label_delay_s"] = delay.to_numpy(dtype=float)
    return LabeledTraffic(rows, labels, duplicates, len(rows))


def traffic_for_day(spec: ProjectSpec, log_dir, day: date) -> tuple[LabeledTraffic, int]:
    """The labels received on `day` joined to predictions of the lookback before it; and the feedback files read."""
    feedback = read_day(log_dir, FEEDBACK, day)
    files = len(day_parts(log_dir, FEEDBACK, day))
    if feedback.empty:
        return LabeledTraffic(empty_traffic(spec), 0, 0, 0), files
    first = day - timedelta(days=spec.monitoring.feedback_lookback_days)
    predictions = read_days(log_dir, PREDICTIONS, first, day)
    return label_traffic(spec, predictions, feedback), files


def latest_feedback_mtime(log_dir, day: str, until_ns: int | None = None) -> int:
    """The newest feedback file's modification time (ns) of one day (among files written by `until_ns`, when
    given), 0 when there is none."""
    return max((p.mtime_ns for p in day_parts(log_dir, FEEDBACK, day) if until_ns is None or p.mtime_ns <= until_ns),
               default=0)


def _summary(result: LabeledTraffic) -> str:
    delay = result.rows["label_delay_s"].astype(float)
    versions = result.rows["model_version"].value_counts().sort_index()
    lines = ["| labels | duplicates | joined | join rate | median delay (s) | p90 delay (s) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines.append(f"| {result.labels} | {result.duplicates} | {result.joined} | {result.join_rate:.1%} | "
                 f"{np.nanmedian(delay):.1f} | {np.nanpercentile(delay, 90):.1f} |")
    lines += ["", "| model version | rows |", "| --- | ---: |"] + [f"| {v} | {n} |" for v, n in versions.items()]
    return "\n".join(lines)


def build_labeled_traffic(spec: ProjectSpec) -> AssetsDefinition:
    @asset(
        key=AssetKey([spec.name, C.LABELED_TRAFFIC]),
        # It reads the server's log files (as prediction_log/feedback compact them) but declares no dependency on
        # those assets: they hang off the endpoint, which follows the champion, which is trained on this asset, and
        # Dagster's graph must stay acyclic. The loop closes through the log on disk; the metadata says what was read.
        partitions_def=monitoring_partitions(spec),
        group_name=spec.name,
        tags=C.asset_tags(spec.name, C.MONITORING),
        kinds={"pandas", "parquet"},
        description=(
            f"'{spec.name}' labels received on one day joined to the live predictions they are about (logged up to "
            f"{spec.monitoring.feedback_lookback_days} days before), with features computed as in training: "
            "training rows from production traffic."
        ),
    )
    def labeled_traffic(context: AssetExecutionContext, storage: DataDirectory):
        day = date.fromisoformat(context.partition_key)
        log_dir = project_log_dir(storage.root, spec.name)
        mtime = latest_feedback_mtime(log_dir, context.partition_key)
        result, files = traffic_for_day(spec, log_dir, day)
        version = frame_fingerprint(result.rows)
        metadata = {
            "dagster/row_count": len(result.rows),
            "labels": result.labels,
            "joined": result.joined,
            "join_rate": round(result.join_rate, 4) if result.labels else float("nan"),
            "duplicate_labels": result.duplicates,
            "feedback_files": files,
            "feedback_mtime_ns": str(mtime),
            "content_hash": version,
        }
        if result.joined:
            metadata["join"] = MetadataValue.md(_summary(result))
        elif result.labels:
            metadata["note"] = (f"none of the {result.labels} labels of {day} matched a live prediction logged "
                                f"from {day - timedelta(days=spec.monitoring.feedback_lookback_days)} on")
        else:
            metadata["note"] = f"no feedback was received on {day}"
        return Output(result.rows, data_version=DataVersion(version), metadata=metadata)

    return labeled_traffic
