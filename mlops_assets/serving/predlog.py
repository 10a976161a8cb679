"""The prediction and feedback log: rows on disk (an append-only segment) before they are acknowledged, compacted
into day-partitioned Parquet by a background thread.

Layout (Hive-style partitions; readers: :mod:`mlops_assets.monitoring.logs`)::

    <dir>/predictions/date=YYYY-MM-DD/part-<start>-<pid>-<seq>.parquet
    <dir>/feedback/date=YYYY-MM-DD/part-<start>-<pid>-<seq>.parquet
    <dir>/_segments/{predictions,feedback}/*.jsonl       rows not yet compacted (see :mod:`.segments`)
    <dir>/_dead_letter/{predictions,feedback}/*.jsonl    rows that could not be written, with the error

A prediction record is one scored row: ``request_id``, ``row`` (index in the request), ``time`` (UTC,
when the request arrived), ``project``, ``model_version``, ``role`` (live/canary/shadow), ``prediction``,
``score``, ``data_version`` (the model's training-set version), ``feature_hash`` (of the computed feature row,
:func:`mlops_assets.data.fingerprint.row_hashes`) and the validated raw input fields as typed columns.
Request ids start with the request's time (:func:`new_request_id`), so a lookup reads one day's folder. Parquet files appear atomically (write,
rename), one per segment and day: every ``flush_interval_s`` while rows arrive. Day folders older than
``retention_days`` are deleted. On start, segments left by a killed process are compacted first.

The backlog of rows written to segments but not yet compacted is capped (``max_pending_rows``): over it,
new rows are refused (:class:`LogFull`, the server answers 503) rather than acknowledged and dropped;
refused rows are counted as dropped (shadow rows, never acknowledged, are dropped the same way).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from mlops_assets.serving.segments import DEAD_LETTER, SEGMENTS, SegmentWriter, compact_segment, segment_paths
from mlops_assets.spec import PREDICTION_LOG_COLUMNS, ColumnSpec

log = logging.getLogger(__name__)

META_COLUMNS = PREDICTION_LOG_COLUMNS
KINDS = ("predictions", "feedback")
_ARROW = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string(),
          "category": pa.string(), "datetime": pa.timestamp("us", tz="UTC")}
_TS = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def log_schemas(inputs: dict[str, ColumnSpec]) -> dict[str, pa.Schema]:
    """The Parquet schema of each log kind for a project whose raw input fields are ``inputs``."""
    head = [("request_id", pa.string()), ("row", pa.int64()), ("time", _TS), ("project", pa.string())]
    return {
        "predictions": pa.schema(head + [
            ("model_version", pa.string()), ("role", pa.string()), ("prediction", pa.float64()),
            ("score", pa.float64()), ("data_version", pa.string()), ("feature_hash", pa.string())]
            + [(c, _ARROW[s.dtype]) for c, s in inputs.items()]),
        "feedback": pa.schema(head + [("label", pa.float64())]),
    }


class LogUnavailable(RuntimeError):
    """The log cannot take rows now (its segment cannot be written): nothing may be acknowledged."""


class LogFull(LogUnavailable):
    """The backlog of rows not yet compacted is at its cap."""


class PredictionLog:
    """Append scored rows and feedback to segment files (one ``write()`` per call); a thread compacts them.

    ``stop()`` (the app's shutdown) compacts everything and joins the thread; it never raises (what it cannot
    compact stays in its segment for the next start).
    """

    def __init__(self, directory: Path, project: str, inputs: dict[str, ColumnSpec], flush_interval_s: float = 10.0,
                 *, retention_days: int | None = None, max_pending_rows: int = 1_000_000):
        clash = [c for c in inputs if c in META_COLUMNS]
        if clash:
            raise ValueError(f"input fields {clash} clash with prediction-log columns {META_COLUMNS}")
        self.directory = Path(directory)
        self.project = project
        self.inputs = list(inputs)
        self.flush_interval_s = flush_interval_s
        self.retention_days = retention_days
        self.max_pending_rows = max_pending_rows
        self.schemas = log_schemas(inputs)
        self._time_columns = {"predictions": ("time", *(c for c, s in inputs.items() if s.dtype == "datetime")),
                              "feedback": ("time",)}
        tag = f"{int(time.time() * 1000)}-{os.getpid()}"
        self._writers = {k: SegmentWriter(self.directory / SEGMENTS / k, tag) for k in KINDS}
        self._lock = threading.Lock()
        self._pending = dict.fromkeys(KINDS, 0)  # this process's rows in segments, not yet compacted
        self._segment_rows: dict[Path, tuple[str, int]] = {}  # rotated segments of this process -> rows
        self.dead_letter_rows = dict.fromkeys(KINDS, 0)
        self.dropped_rows = dict.fromkeys(KINDS, 0)
        self.recovered_segments = 0
        self._compact_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.rows_written = 0
        self.feedback_written = 0

    # ------------------------------------------------------------ request side: one write() to the page cache
    def append_scored(self, scored: list[tuple]) -> None:
        """Log a batch of ``(job, model, role, predictions, scores)`` (``job.tag`` is ``(request_id, time)``);
        raises :class:`LogUnavailable` (nothing logged) when the rows cannot be written."""
        lines = []
        for job, model, role, pred, score in scored:
            request_id, at = job.tag
            cols = job.columns if job.columns is not None else job.raw
            lines += self._prediction_lines(request_id, at, model.version, role, cols, job.rows, pred, score,
                                            model.info.data_version, job.feature_hashes)
        self._append("predictions", lines)

    def append(self, request_id: str, at: datetime, model_version: str, role: str,
               raw: pd.DataFrame, prediction: np.ndarray, score: np.ndarray, data_version: str | None = None,
               feature_hashes: list[str] | None = None) -> None:
        """Log one request's scored rows."""
        self._append("predictions", self._prediction_lines(request_id, at, model_version, role, raw, len(raw),
                                                           prediction, score, data_version, feature_hashes))

    def append_feedback(self, request_id: str, row: int, label: float, at: datetime) -> None:
        self._append("feedback", [orjson.dumps({"request_id": request_id, "row": int(row), "time": _micros(at),
                                                "project": self.project, "label": float(label)})])

    def _prediction_lines(self, request_id, at, version, role, cols, n, pred, score, data_version=None,
                          feature_hashes=None) -> list[bytes]:
        head = {"request_id": request_id, "row": 0, "time": _micros(at), "project": self.project,
                "model_version": str(version), "role": role, "data_version": data_version}
        values = [_json_values(cols[name]) for name in self.inputs]
        preds = np.asarray(pred, dtype="float64").tolist()
        scores = np.asarray(score, dtype="float64").tolist()
        out = []
        for i in range(n):
            rec = dict(head, row=i, prediction=preds[i], score=scores[i],
                       feature_hash=feature_hashes[i] if feature_hashes is not None else None)
            rec.update(zip(self.inputs, (v[i] for v in values)))
            out.append(orjson.dumps(rec))
        return out

    def _append(self, kind: str, lines: list[bytes]) -> None:
        n = len(lines)
        if n == 0:
            return
        with self._lock:
            if self._pending[kind] + n > self.max_pending_rows:
                self.dropped_rows[kind] += n
                raise LogFull(f"the {kind} log has {self._pending[kind]} rows not yet compacted "
                              f"(cap {self.max_pending_rows}): try again later")
            self._pending[kind] += n
        try:
            self._writers[kind].append(b"\n".join(lines) + b"\n", n)
        except OSError as err:
            with self._lock:
                self._pending[kind] -= n
                self.dropped_rows[kind] += n
            log.error("cannot write the %s segment: %s", kind, err)
            raise LogUnavailable(f"the {kind} log cannot be written: {err}") from err

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Compact segments left by an earlier (killed) process, then start the compaction thread."""
        self.recovered_segments += self._compact_all()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="prediction-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Compact everything written and stop the thread."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.flush()
        except Exception:  # the rows stay in their segments; the next start compacts them
            log.exception("prediction log: final compaction failed; segments kept under %s",
                          self.directory / SEGMENTS)

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
                self.apply_retention()
            except Exception:  # keep the thread alive; segments are kept for the next try
                log.exception("prediction log compaction failed; retrying in %.1fs", self.flush_interval_s)

    # ------------------------------------------------------------ compaction
    def flush(self) -> None:
        """Close the open segments and compact every segment no live process is writing."""
        for kind, writer in self._writers.items():
            closed = writer.rotate()
            if closed is not None:
                with self._lock:
                    self._segment_rows[closed[0]] = (kind, closed[1])
        self._compact_all()

    def _compact_all(self) -> int:
        done, error = 0, None
        with self._compact_lock:
            for kind in KINDS:
                for path in segment_paths(self.directory / SEGMENTS / kind):
                    try:
                        result = compact_segment(path, self.directory / kind, self.directory / DEAD_LETTER / kind,
                                                 self.schemas[kind], self._time_columns[kind])
                    except Exception as err:  # noqa: BLE001 - dead letter unwritable too: keep the segment
                        log.error("cannot compact %s: %s", path, err)
                        error = err
                        continue
                    if result is None:
                        continue
                    done += 1
                    with self._lock:
                        own = self._segment_rows.pop(path, None)
                        if own is not None:
                            self._pending[kind] -= own[1]
                        self.dead_letter_rows[kind] += result.dead
                        if kind == "predictions":
                            self.rows_written += result.rows
                        else:
                            self.feedback_written += result.rows
        if error is not None:
            raise error
        return done

    def apply_retention(self, today: date | None = None) -> int:
        """Delete day folders older than ``retention_days`` (None keeps everything); returns how many."""
        if not self.retention_days:
            return 0
        oldest = ((today or datetime.now(timezone.utc).date()) - timedelta(days=self.retention_days)).isoformat()
        removed = 0
        for kind in KINDS:
            base = self.directory / kind
            for d in sorted(base.glob("date=*")) if base.is_dir() else []:
                if d.is_dir() and d.name.removeprefix("date=") < oldest:
                    shutil.rmtree(d, ignore_errors=True)
                    removed += 1
        return removed

    def stats(self) -> dict:
        with self._lock:
            return {"rows_written": {"predictions": self.rows_written, "feedback": self.feedback_written},
                    "pending_rows": dict(self._pending), "dead_letter_rows": dict(self.dead_letter_rows),
                    "dropped_rows": dict(self.dropped_rows)}


def _micros(at: datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return (at - _EPOCH) // timedelta(microseconds=1)


def _json_values(col) -> list:
    """A validated column (numpy array, pandas array or Series) as JSON-ready values: null for missing,
    datetimes as integer microseconds."""
    if isinstance(col, pd.Series):
        col = col.array
    if isinstance(col, pd.arrays.NumpyExtensionArray):
        col = col.to_numpy()
    if isinstance(col, np.ndarray) and col.dtype.kind != "M":
        return col.tolist()  # orjson writes NaN as null
    if isinstance(col, np.ndarray):
        col = pd.array(col)
    if isinstance(col, pd.arrays.DatetimeArray):
        micros = col.as_unit("us").asi8.tolist()
        return [None if m else v for v, m in zip(micros, col.isna().tolist())]
    return col.to_numpy(dtype=object, na_value=None).tolist()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_request_id(at: datetime) -> str:
    """32 hex digits: the request's time in milliseconds (12 digits), then 80 random bits (like UUIDv7).

    >>> new_request_id(datetime(2026, 1, 5, tzinfo=timezone.utc))[:12]
    '019b8b741800'
    """
    return f"{_micros(at) // 1000:012x}{secrets.token_hex(10)}"


def request_day(request_id: str) -> str | None:
    """The UTC day a :func:`new_request_id` id was issued on, or None for ids it did not make (a plausible
    day is no proof: a reader must fall back to every day when the id is not found there).

    >>> request_day(new_request_id(datetime(2026, 1, 5, 23, 59, tzinfo=timezone.utc)))
    '2026-01-05'
    >>> request_day("not-an-id") is None
    True
    """
    if len(request_id) != 32:
        return None
    try:
        at = _EPOCH + timedelta(milliseconds=int(request_id[:12], 16))
    except (ValueError, OverflowError):
        return None
    return at.date().isoformat() if 2000 <= at.year < 2200 else None
