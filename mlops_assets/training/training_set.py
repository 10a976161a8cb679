"""The training set of a window and the candidate fitted on it, from frames already read (no Dagster, no MLflow).

The ``training_set`` and ``candidate_model`` assets, the retrain sensor and ``reproduce`` all build them here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_assets.labels import encode_target
from mlops_assets.spec import ProjectSpec
from mlops_assets.training.estimators import build_pipeline, split_columns
from mlops_assets.training.split import Window, split_by_event_time


def traffic_split(times: pd.Series, window: Window) -> pd.Series:
    """Train/holdout for labelled-traffic rows: the newest ``holdout_days / (window days)`` share is holdout.

    Traffic is always newer than the warehouse days, so an event-time boundary would put all of it in the holdout
    and none in training; splitting it by time within itself keeps every train row older than every holdout row.
    """
    order = times.sort_values(kind="stable").index
    n_train = int(np.ceil(len(order) * window.train_days / (window.train_days + window.holdout_days)))
    split = pd.Series("holdout", index=times.index, name="split")
    split.loc[order[:n_train]] = "train"
    return split


def assemble_training_set(
    spec: ProjectSpec, frames: list[pd.DataFrame], window: Window, traffic: dict[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Concatenate the window's feature partitions (and labelled-traffic days) and label rows train/holdout.

    Warehouse rows are split by event time at the holdout start; traffic rows by :func:`traffic_split`. A
    ``source`` column says which each row is (``warehouse`` / ``traffic``); traffic rows keep their feedback day
    in ``traffic_day``.
    """
    frame = pd.concat(frames, ignore_index=True)
    frame["split"] = split_by_event_time(frame, spec.schema_.event_time_column, window.holdout_start)
    frame["source"] = "warehouse"
    parts = [t.assign(traffic_day=day) for day, t in sorted((traffic or {}).items()) if len(t)]
    if not parts:
        return frame
    rows = pd.concat(parts, ignore_index=True).drop_duplicates(["request_id", "row"], keep="last")
    rows = rows.sort_values([spec.schema_.event_time_column, "request_id", "row"], kind="stable").reset_index(drop=True)
    keep = [c for c in frame.columns if c in rows.columns and c not in ("split", "source")]
    rows = rows[keep + ["traffic_day"]].assign(source="traffic")
    rows["split"] = traffic_split(pd.to_datetime(rows[spec.schema_.event_time_column]), window)
    for col in keep:  # the warehouse's dtypes (e.g. int features the log kept as int64, categories as str)
        if rows[col].dtype != frame[col].dtype:
            try:
                rows[col] = rows[col].astype(frame[col].dtype)
            except (TypeError, ValueError):
                pass
    return pd.concat([frame, rows], ignore_index=True)


@dataclass(frozen=True)
class TrainingInputs:
    """What a training set over one window is built from: feature partitions and labelled-traffic days."""

    window: Window
    frames: dict[str, pd.DataFrame]
    traffic: dict[str, pd.DataFrame]

    def assemble(self, spec: ProjectSpec) -> pd.DataFrame:
        return assemble_training_set(spec, [self.frames[k] for k in self.window.partition_keys()], self.window,
                                     self.traffic)


def fit_candidate(spec: ProjectSpec, train: pd.DataFrame, estimator: str, params: dict, seed: int):
    """Fit the spec's pipeline on the train rows (pure apart from sklearn); a classifier on the 0/1 codes of the
    labels (:mod:`mlops_assets.labels`), so its class 1 is the spec's positive class whatever the feed's spelling."""
    X = train[list(spec.features.columns)]
    numeric, categorical = split_columns(X, list(spec.features.columns))
    pipeline = build_pipeline(spec.target.task, estimator, params, seed, numeric, categorical)
    return pipeline.fit(X, encode_target(spec, train[spec.target.column]))
