"""Compacting the model server's day-partitioned prediction and feedback part files into one frame (pure, no Dagster)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from mlops_assets.serving.contract import Contract
from mlops_assets.serving.predlog import log_schemas
from mlops_assets.spec import ProjectSpec

PREDICTIONS, FEEDBACK = "predictions", "feedback"


def log_schema(spec: ProjectSpec, kind: str) -> pa.Schema:
    """The Arrow schema of a ``kind`` (predictions/feedback) log, as the server writes it."""
    if kind not in (PREDICTIONS, FEEDBACK):
        raise ValueError(f"kind must be {PREDICTIONS!r} or {FEEDBACK!r}, got {kind!r}")
    return log_schemas(Contract(spec).columns)[kind]


def empty_log(spec: ProjectSpec, kind: str) -> pd.DataFrame:
    """A frame with no rows and the log's columns and dtypes (those ``pd.read_parquet`` gives for a part file)."""
    return log_schema(spec, kind).empty_table().to_pandas()


def part_files(log_dir: Path, kind: str, day: str) -> list[Path]:
    """The finished part files of one day (``<log_dir>/<kind>/date=<day>/part-*.parquet``; temp files excluded)."""
    return sorted((Path(log_dir) / kind / f"date={day}").glob("part-*.parquet"))


def compact(spec: ProjectSpec, log_dir: Path, kind: str, day: str) -> tuple[pd.DataFrame, int]:
    """The day's ``kind`` log as one frame sorted by time, request and row, and the number of part files read.

    A day without files gives :func:`empty_log`.
    """
    files = part_files(log_dir, kind, day)
    if not files:
        return empty_log(spec, kind), 0
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    frame = frame.sort_values(["time", "request_id", "row"], kind="stable").reset_index(drop=True)
    return frame, len(files)
