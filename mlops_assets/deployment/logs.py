"""Compacting the model server's day-partitioned prediction and feedback part files into one frame (pure, no Dagster)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from mlops_assets.serving.contract import Contract
from mlops_assets.spec import ProjectSpec

PREDICTIONS, FEEDBACK = "predictions", "feedback"
_TIME = pa.timestamp("us", tz="UTC")
_META = [("request_id", pa.string()), ("row", pa.int64()), ("time", _TIME), ("project", pa.string())]
_ARROW = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string(), "category": pa.string(),
          "datetime": _TIME}


def log_schema(spec: ProjectSpec, kind: str) -> pa.Schema:
    """The Arrow schema of a ``kind`` (predictions/feedback) log, as the server writes it."""
    if kind == FEEDBACK:
        return pa.schema(_META + [("label", pa.float64())])
    if kind != PREDICTIONS:
        raise ValueError(f"kind must be {PREDICTIONS!r} or {FEEDBACK!r}, got {kind!r}")
    scored = [("model_version", pa.string()), ("role", pa.string()), ("prediction", pa.float64()),
              ("score", pa.float64())]
    inputs = [(c, _ARROW[s.dtype]) for c, s in Contract(spec).columns.items()]
    return pa.schema(_META + scored + inputs)


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
