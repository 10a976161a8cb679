"""The prediction and feedback log: buffered in memory, written to day-partitioned Parquet by a background thread.

Layout (Hive-style partitions, one file per flush and day)::

    <dir>/predictions/date=YYYY-MM-DD/part-<start>-<seq>.parquet
    <dir>/feedback/date=YYYY-MM-DD/part-<start>-<seq>.parquet

A prediction record is one scored row: ``request_id``, ``row`` (index in the request), ``time`` (UTC,
when the request arrived), ``project``, ``model_version``, ``role`` (live/canary/shadow), ``prediction``,
``score`` and the validated raw input fields as typed columns. Files appear atomically (write, rename).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlops_assets.spec import ColumnSpec

log = logging.getLogger(__name__)

META_COLUMNS = ("request_id", "row", "time", "project", "model_version", "role", "prediction", "score")
_ARROW = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string(),
          "category": pa.string(), "datetime": pa.timestamp("us", tz="UTC")}


@dataclass(frozen=True)
class _Chunk:
    request_id: str
    time: datetime
    model_version: str
    role: str
    raw: pd.DataFrame
    prediction: np.ndarray
    score: np.ndarray


class PredictionLog:
    """Append scored rows and feedback without touching disk; a thread flushes every ``flush_interval_s``.

    ``stop()`` (the app's shutdown) flushes everything buffered and joins the thread.
    """

    def __init__(self, directory: Path, project: str, inputs: dict[str, ColumnSpec], flush_interval_s: float = 1.0):
        clash = [c for c in inputs if c in META_COLUMNS]
        if clash:
            raise ValueError(f"input fields {clash} clash with prediction-log columns {META_COLUMNS}")
        self.directory = Path(directory)
        self.project = project
        self.inputs = list(inputs)
        self.flush_interval_s = flush_interval_s
        self._schema = pa.schema(
            [("request_id", pa.string()), ("row", pa.int64()), ("time", pa.timestamp("us", tz="UTC")),
             ("project", pa.string()), ("model_version", pa.string()), ("role", pa.string()),
             ("prediction", pa.float64()), ("score", pa.float64())]
            + [(c, _ARROW[s.dtype]) for c, s in inputs.items()]
        )
        self._feedback_schema = pa.schema(
            [("request_id", pa.string()), ("row", pa.int64()), ("time", pa.timestamp("us", tz="UTC")),
             ("project", pa.string()), ("label", pa.float64())]
        )
        self._lock = threading.Lock()
        self._chunks: list[_Chunk] = []
        self._feedback: list[dict] = []
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._tag = f"{int(time.time() * 1000)}-{os.getpid()}"
        self._seq = 0
        self.rows_written = 0
        self.feedback_written = 0

    # ------------------------------------------------------------ request side (cheap, no I/O)
    def append(self, request_id: str, at: datetime, model_version: str, role: str,
               raw: pd.DataFrame, prediction: np.ndarray, score: np.ndarray) -> None:
        with self._lock:
            self._chunks.append(_Chunk(request_id, at, model_version, role, raw, prediction, score))

    def append_feedback(self, request_id: str, row: int, label: float, at: datetime) -> None:
        with self._lock:
            self._feedback.append({"request_id": request_id, "row": row, "time": at, "project": self.project,
                                   "label": float(label)})

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="prediction-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Flush everything buffered and stop the thread."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # keep the thread alive; the buffer is kept for the next try
                log.exception("prediction log flush failed; retrying in %.1fs", self.flush_interval_s)

    # ------------------------------------------------------------ writing
    def flush(self) -> None:
        """Write what is buffered, one file per kind and day.

        Each day is written (atomically) or put back on its own, so a failure on one day never rewrites another
        day's rows on the next try: every record lands exactly once.
        """
        with self._lock:
            chunks, self._chunks = self._chunks, []
            feedback, self._feedback = self._feedback, []
        failed_chunks, failed_feedback, error = [], [], None
        for group in _by_day(chunks, lambda c: c.time):
            try:
                self._write_predictions(group)
            except Exception as err:  # noqa: BLE001 - put back, report after the other days are written
                failed_chunks += group
                error = err
        for group in _by_day(feedback, lambda f: f["time"]):
            try:
                self._write(pd.DataFrame(group), "feedback", self._feedback_schema)
                self.feedback_written += len(group)
            except Exception as err:  # noqa: BLE001
                failed_feedback += group
                error = err
        if failed_chunks or failed_feedback:
            with self._lock:
                self._chunks[:0] = failed_chunks
                self._feedback[:0] = failed_feedback
        if error is not None:
            raise error

    def _write_predictions(self, chunks: list[_Chunk]) -> None:
        # Column by column over all chunks (one per request): a frame per chunk cost ~1 ms each, in a
        # thread that shares the GIL with the request path.
        lengths = np.array([len(c.raw) for c in chunks])
        n = int(lengths.sum())

        def per_chunk(values) -> np.ndarray:
            out = np.empty(len(chunks), dtype=object)
            out[:] = values
            return np.repeat(out, lengths)

        columns = {
            "request_id": per_chunk([c.request_id for c in chunks]),
            "row": np.concatenate([np.arange(k, dtype="int64") for k in lengths]),
            "time": per_chunk([c.time for c in chunks]),
            "project": np.full(n, self.project, dtype=object),
            "model_version": per_chunk([c.model_version for c in chunks]),
            "role": per_chunk([c.role for c in chunks]),
            "prediction": np.concatenate([np.asarray(c.prediction, dtype="float64") for c in chunks]),
            "score": np.concatenate([np.asarray(c.score, dtype="float64") for c in chunks]),
        }
        for name in self.inputs:
            parts = [c.raw[name] for c in chunks]
            dtype = parts[0].dtype
            if isinstance(dtype, np.dtype) and all(p.dtype == dtype for p in parts):
                columns[name] = np.concatenate([p.to_numpy() for p in parts])
            else:  # nullable/extension dtypes: pandas finds the common dtype, as a frame concat would
                columns[name] = pd.concat(parts, ignore_index=True)
        self._write(pd.DataFrame(columns, index=pd.RangeIndex(n)), "predictions", self._schema)
        self.rows_written += n

    def _write(self, df: pd.DataFrame, kind: str, schema: pa.Schema) -> None:
        df["time"] = pd.to_datetime(df["time"], utc=True)
        days = df["time"].dt.strftime("%Y-%m-%d")
        for day, part in df.groupby(days, sort=True):
            table = pa.Table.from_pandas(part, schema=schema, preserve_index=False)
            target = self.directory / kind / f"date={day}"
            target.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            final = target / f"part-{self._tag}-{self._seq:06d}.parquet"
            tmp = final.with_name("." + final.name + ".tmp")
            try:
                pq.write_table(table, tmp)
                os.replace(tmp, final)
            finally:
                if tmp.exists():
                    tmp.unlink()


def _by_day(items: list, when) -> list[list]:
    """Items grouped by the UTC day of `when(item)`, in order."""
    groups: dict[str, list] = {}
    for item in items:
        stamp = pd.Timestamp(when(item))
        day = (stamp.tz_convert("UTC") if stamp.tzinfo else stamp).strftime("%Y-%m-%d")
        groups.setdefault(day, []).append(item)
    return [groups[day] for day in sorted(groups)]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
