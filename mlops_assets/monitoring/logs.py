"""Reading the serving prediction log and feedback (pure): part files new since a cursor, or one day's files.

Layout (written by :class:`mlops_assets.serving.predlog.PredictionLog`, one directory per project)::

    <data_dir>/predictions/<project>/predictions/date=YYYY-MM-DD/part-*.parquet
    <data_dir>/predictions/<project>/feedback/date=YYYY-MM-DD/part-*.parquet

Files appear atomically (write, then rename) and are never modified, so a reader only has to know which files it
has consumed. The cursor keeps the high-water mark of consumed modification times plus the names of the files
consumed within ``grace`` of it: a file whose write finished earlier but whose rename came later (or that shares
a coarse mtime with one already read) is still picked up, and the cursor stays small. Only day folders from the
day before the latest folder consumed on are listed (a new day's folder is picked up as it appears), so a tick
costs a couple of directory listings however long the log grows; a file dropped into an older folder later is
not read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
DEFAULT_GRACE_S = 300.0
DEFAULT_MAX_FILES = 2000


def project_log_dir(data_dir: str | os.PathLike, project: str) -> Path:
    """Where a project's server writes its prediction log: ``<data_dir>/predictions/<project>``."""
    return Path(data_dir).resolve() / "predictions" / project


@dataclass(frozen=True)
class PartFile:
    path: Path
    name: str  # "date=YYYY-MM-DD/part-....parquet", unique within a log kind
    mtime_ns: int

    @property
    def day(self) -> str:
        return self.name.split("/", 1)[0].removeprefix("date=")


@dataclass(frozen=True)
class LogCursor:
    """Consumed position in one log kind: the high-water mtime and the files consumed near it.

    Examples
    --------
    >>> LogCursor.from_dict(LogCursor(5, {"date=2026-01-01/part-a.parquet": 5}).to_dict()).mtime_ns
    5
    """

    mtime_ns: int = 0
    seen: dict[str, int] = field(default_factory=dict)
    day: str | None = None  # latest day folder consumed

    def to_dict(self) -> dict:
        return {"mtime_ns": self.mtime_ns, "seen": dict(self.seen), "day": self.day}

    @classmethod
    def from_dict(cls, d: dict | None) -> "LogCursor":
        if not d:
            return cls()
        return cls(int(d["mtime_ns"]), {str(k): int(v) for k, v in d.get("seen", {}).items()}, d.get("day"))

    def advance(self, consumed: Iterable[PartFile], grace_s: float = DEFAULT_GRACE_S) -> "LogCursor":
        """The cursor after consuming `consumed`; names older than the grace window are dropped."""
        consumed = list(consumed)
        seen = dict(self.seen)
        seen.update({p.name: p.mtime_ns for p in consumed})
        high = max([self.mtime_ns, *seen.values()])
        floor = high - int(grace_s * 1e9)
        day = max([d for d in (self.day, *(p.day for p in consumed)) if d], default=None)
        return LogCursor(high, {k: v for k, v in seen.items() if v >= floor}, day)


def _day_dirs(base: Path, since: date | None) -> list[Path]:
    if not base.is_dir():
        return []
    dirs = []
    for d in base.iterdir():
        if not (d.is_dir() and d.name.startswith("date=")):
            continue
        if since is not None and d.name.removeprefix("date=") < since.isoformat():
            continue
        dirs.append(d)
    return sorted(dirs)


def _parts_in(day_dir: Path) -> list[PartFile]:
    out = []
    for f in day_dir.glob("part-*.parquet"):
        try:
            mtime = f.stat().st_mtime_ns
        except FileNotFoundError:  # removed by retention between listing and stat
            continue
        out.append(PartFile(f, f"{day_dir.name}/{f.name}", mtime))
    return out


def new_parts(
    directory: Path, kind: str, cursor: LogCursor, grace_s: float = DEFAULT_GRACE_S, max_files: int = DEFAULT_MAX_FILES
) -> list[PartFile]:
    """Part files of `kind` not yet consumed, oldest first, at most `max_files` (the rest come next time)."""
    since = date.fromisoformat(cursor.day) - timedelta(days=1) if cursor.day else None
    floor = cursor.mtime_ns - int(grace_s * 1e9)
    found = [
        p for d in _day_dirs(Path(directory) / kind, since) for p in _parts_in(d)
        if p.mtime_ns > floor and p.name not in cursor.seen
    ]
    found.sort(key=lambda p: (p.mtime_ns, p.name))
    return found[:max_files]


def read_parts(parts: Sequence[PartFile], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Concatenate part files (an empty frame when there are none)."""
    frames = [pd.read_parquet(p.path, columns=list(columns) if columns else None) for p in parts]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(columns) if columns else None)
    return pd.concat(frames, ignore_index=True)


def read_new(
    directory: Path, kind: str, cursor: LogCursor, grace_s: float = DEFAULT_GRACE_S, max_files: int = DEFAULT_MAX_FILES
) -> tuple[pd.DataFrame, LogCursor, int]:
    """Rows of the files new since `cursor`, the cursor after them, and how many files were read."""
    parts = new_parts(directory, kind, cursor, grace_s, max_files)
    return read_parts(parts), cursor.advance(parts, grace_s), len(parts)


def day_parts(directory: Path, kind: str, day: str | date) -> list[PartFile]:
    """One day's part files, oldest first."""
    day_dir = Path(directory) / kind / f"date={day if isinstance(day, str) else day.isoformat()}"
    parts = _parts_in(day_dir) if day_dir.is_dir() else []
    return sorted(parts, key=lambda p: (p.mtime_ns, p.name))


def read_day(directory: Path, kind: str, day: str | date, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Every row logged for one day (an empty frame when the day has no files)."""
    return read_parts(day_parts(directory, kind, day), columns)


def read_days(directory: Path, kind: str, first: date, last: date, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows of the days `first`..`last` inclusive."""
    parts = []
    day = first
    while day <= last:
        parts += day_parts(directory, kind, day)
        day += timedelta(days=1)
    return read_parts(parts, columns)
