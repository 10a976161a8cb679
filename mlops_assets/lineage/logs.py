"""One request's rows in the prediction and feedback logs (pure: no Dagster, no MLflow).

Reads the day Parquet files of :mod:`mlops_assets.serving.predlog` with DuckDB and the JSON-lines segments not yet
compacted. Request ids start with their time (:func:`~mlops_assets.serving.predlog.request_day`), so predictions
are read from that day's folder only and feedback from that day on; an id not found there (or not made by the
server) is looked for in every day. Within a day DuckDB skips row groups by their ``request_id`` min/max (rows
are written in time order, so the statistics are tight).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd

from mlops_assets.serving.predlog import KINDS, request_day
from mlops_assets.serving.segments import SEGMENTS, segment_paths


def day_files(base: Path, since: str | None = None, only: str | None = None) -> list[str]:
    """Parquet parts of ``base/date=*`` (the days ``>= since``, or just day ``only``), oldest day first."""
    if not base.is_dir():
        return []
    days = [d for d in sorted(base.glob("date=*")) if d.is_dir()]
    keep = [d for d in days if (only is None or d.name == f"date={only}")
            and (since is None or d.name >= f"date={since}")]
    return [str(p) for d in keep for p in sorted(d.glob("part-*.parquet"))]


def parquet_rows(files: list[str], request_id: str) -> pd.DataFrame:
    """Rows of ``request_id`` in ``files`` (one DuckDB scan, columns unioned by name)."""
    if not files:
        return pd.DataFrame()
    import duckdb

    con = duckdb.connect()
    try:
        return con.execute("SELECT * FROM read_parquet(?, union_by_name = true) WHERE request_id = ?",
                           [files, request_id]).df()
    finally:
        con.close()


def segment_rows(log_dir: Path, kind: str, request_id: str) -> pd.DataFrame:
    """Rows of ``request_id`` in the segments of ``kind`` not yet compacted (a torn last line is skipped)."""
    needle = orjson.dumps(request_id)
    rows = []
    for path in segment_paths(Path(log_dir) / SEGMENTS / kind):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # compacted meanwhile: its rows are in Parquet now
            continue
        for line in data.splitlines() if needle in data else ():
            if needle in line:
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:  # a torn last write, never acknowledged
                    continue
                if rec.get("request_id") == request_id:
                    rows.append(rec)
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    frame["time"] = pd.to_datetime(frame["time"], unit="us", utc=True)
    return frame


def _read(log_dir: Path, kind: str, request_id: str, day: str | None) -> pd.DataFrame:
    base = log_dir / kind
    pruned = day_files(base, only=day) if kind == "predictions" else day_files(base, since=day)
    frames = [segment_rows(log_dir, kind, request_id), parquet_rows(pruned, request_id)]
    if day is not None and not any(len(f) for f in frames):  # not where its id says: look everywhere
        frames.append(parquet_rows(day_files(base), request_id))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    frame = pd.concat(frames, ignore_index=True)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    # A segment compacted between the two reads shows up twice.
    return frame.drop_duplicates(subset=["request_id", "row", "time"]).sort_values(["row", "time"], ignore_index=True)


def find_request(log_dir: str | Path, request_id: str) -> dict[str, pd.DataFrame]:
    """Every logged row of ``request_id`` by kind (``predictions``, ``feedback``), compacted or not.

    Examples
    --------
    >>> find_request("/nonexistent", "0" * 32)["predictions"].empty
    True
    """
    day = request_day(request_id)
    return {kind: _read(Path(log_dir), kind, request_id, day) for kind in KINDS}


def find_in_projects(data_dir: str | Path, request_id: str) -> tuple[str, dict[str, pd.DataFrame]] | None:
    """The project whose log holds ``request_id`` (``<data_dir>/predictions/<project>``) and its rows, or None."""
    root = Path(data_dir).resolve() / "predictions"
    for log_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        rows = find_request(log_dir, request_id)
        if len(rows["predictions"]):
            return log_dir.name, rows
    return None
