"""Append-only segment files: a log's rows on disk before the answer that acknowledges them is released.

Layout, beside the day Parquet files of :mod:`mlops_assets.serving.predlog`::

    <dir>/_segments/<kind>/<start-ms>-<pid>-<seq>.jsonl     one JSON object per row, one write() per batch
    <dir>/_dead_letter/<kind>/<segment>.jsonl               rows that could not be written, with the error

The open segment is held under an exclusive ``flock``, released when it is rotated or its process dies (even by
SIGKILL), so any process can tell a leftover segment from one still being written. Compaction turns a segment
into one Parquet file per day it holds, named after the segment (``part-<segment>.parquet``), so compacting
the same segment twice (a crash between writing and deleting it) rewrites the same files instead of
duplicating rows. A row that cannot be parsed or written goes to the dead-letter file; the rest is written.
The page cache is enough: a killed process loses nothing it wrote, only a power cut could.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

SEGMENTS = "_segments"
DEAD_LETTER = "_dead_letter"
_US_PER_DAY = 86_400_000_000
_EPOCH = date(1970, 1, 1)


class SegmentWriter:
    """The open segment of one log kind. ``append`` writes whole lines with one ``write()``; ``rotate`` closes the
    segment (the next append opens a new one) and returns its path and row count."""

    def __init__(self, directory: Path, tag: str):
        self.directory = Path(directory)
        self.tag = tag
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._rows = 0
        self._seq = 0

    def append(self, data: bytes, rows: int) -> None:
        with self._lock:
            if self._fd is None:
                self._open()
            view = memoryview(data)
            while view:  # a regular file takes it all at once; loop in case it does not
                view = view[os.write(self._fd, view):]
            self._rows += rows

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        path = self.directory / f"{self.tag}-{self._seq:06d}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd, self._path, self._rows = fd, path, 0

    def rotate(self) -> tuple[Path, int] | None:
        with self._lock:
            if self._fd is None:
                return None
            os.close(self._fd)  # releases the flock: the segment is now a leftover anyone may compact
            closed = (self._path, self._rows)
            self._fd, self._path, self._rows = None, None, 0
            return closed


def segment_paths(directory: Path) -> list[Path]:
    """Segments of one kind, oldest first (the open ones too; :func:`compact_segment` skips those)."""
    return sorted(Path(directory).glob("*.jsonl")) if Path(directory).is_dir() else []


@dataclass(frozen=True)
class Compacted:
    rows: int  # rows written to Parquet
    dead: int  # rows sent to the dead-letter file


def compact_segment(path: Path, target: Path, dead_letter: Path, schema: pa.Schema,
                    time_columns: tuple[str, ...]) -> Compacted | None:
    """Write segment ``path`` as day Parquet files under ``target`` (``date=YYYY-MM-DD/part-<segment>.parquet``),
    quarantine what cannot be written to ``dead_letter/<segment>.jsonl``, then delete the segment.

    ``schema`` is the Parquet schema; ``time_columns`` are timestamp columns carried as integer microseconds
    (the first one decides the day). Returns None when the segment is locked (still being written) or gone;
    raises (keeping the segment for the next try) only when the dead-letter file cannot be written either.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        if os.fstat(fd).st_nlink == 0:  # compacted and deleted by someone else meanwhile
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
        end = data.rfind(b"\n") + 1
        dead: list[dict] = []
        if data[end:]:  # a torn last write (the process died in write()): never acknowledged, kept aside
            dead.append({"error": "incomplete line (torn write)", "line": data[end:].decode("utf-8", "replace")})
        tables, bad = _parse(data[:end], schema, time_columns)
        dead += [{"error": err, "line": line.decode("utf-8", "replace")} for line, err in bad]
        written = 0
        for day, table in _by_day(tables, time_columns[0]):
            try:
                _write_parquet(table, target / f"date={day}" / f"part-{path.stem}.parquet")
                written += table.num_rows
            except Exception as err:  # noqa: BLE001 - e.g. the day directory is unwritable: quarantine the rows
                log.error("cannot write %d %s rows of %s to %s: %s", table.num_rows, target.name, day, target, err)
                dead += [{"error": f"{type(err).__name__}: {err}", "row": row} for row in table.to_pylist()]
        if dead:
            _write_dead_letter(dead_letter / f"{path.stem}.jsonl", dead)
        os.unlink(path)
        return Compacted(written, len(dead))
    finally:
        os.close(fd)


def _read(data: bytes, schema: pa.Schema, time_columns: tuple[str, ...]) -> pa.Table:
    as_json = pa.schema([pa.field(f.name, pa.int64()) if f.name in time_columns else f for f in schema])
    table = pajson.read_json(
        pa.BufferReader(data),
        read_options=pajson.ReadOptions(use_threads=True, block_size=max(1 << 20, min(len(data) + 1, 1 << 30))),
        parse_options=pajson.ParseOptions(explicit_schema=as_json, unexpected_field_behavior="ignore"),
    )
    for name in time_columns:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, schema.field(name), table.column(i).cast(schema.field(name).type))
    return table.select(schema.names).cast(schema)


def _parse(data: bytes, schema: pa.Schema, time_columns: tuple[str, ...]) -> tuple[list[pa.Table], list]:
    """Tables of the parsable lines and (line, error) of the others: the whole buffer at once, halved on error."""
    if not data:
        return [], []
    try:
        return [_read(data, schema, time_columns)], []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        lines = data.splitlines(keepends=True)
        if len(lines) == 1:
            return [], [(data.rstrip(b"\n"), f"{type(err).__name__}: {err}")]
        mid = len(lines) // 2
        a, bad_a = _parse(b"".join(lines[:mid]), schema, time_columns)
        b, bad_b = _parse(b"".join(lines[mid:]), schema, time_columns)
        return a + b, bad_a + bad_b


def _by_day(tables: list[pa.Table], time_column: str) -> list[tuple[str, pa.Table]]:
    if not tables:
        return []
    table = pa.concat_tables(tables)
    if table.num_rows == 0:
        return []
    import pyarrow.compute as pc

    micros = table.column(time_column).cast(pa.int64())
    day_index = pc.floor(pc.divide(pc.cast(micros, pa.float64()), float(_US_PER_DAY))).cast(pa.int64())
    out = []
    for d in sorted(pc.unique(day_index).to_pylist()):
        out.append(((_EPOCH + timedelta(days=d)).isoformat(), table.filter(pc.equal(day_index, d))))
    return out


def _write_parquet(table: pa.Table, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name("." + final.name + ".tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_dead_letter(path: Path, records: list[dict]) -> None:
    """Written whole and renamed into place: a retry of the same segment replaces it (no duplicates)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(b"".join(orjson.dumps(r, default=str) + b"\n" for r in records))
    os.replace(tmp, path)


def dead_letter_rows(directory: Path) -> list[dict]:
    """Every record of one kind's dead-letter files (for operators and tests)."""
    out = []
    for p in sorted(Path(directory).glob("*.jsonl")) if Path(directory).is_dir() else []:
        out += [orjson.loads(line) for line in p.read_bytes().splitlines() if line.strip()]
    return out
