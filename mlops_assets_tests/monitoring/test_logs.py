"""Reading the prediction log after a cursor: new files only, new day folders, late renames, one day's files."""

from __future__ import annotations

import os

import pandas as pd

from mlops_assets.monitoring.logs import PREDICTIONS, LogCursor, new_parts, read_day, read_new


def write(root, day: str, name: str, rows: int, mtime_s: float | None = None):
    path = root / PREDICTIONS / f"date={day}" / f"part-{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"request_id": [name] * rows, "row": range(rows)}).to_parquet(path)
    if mtime_s is not None:
        os.utime(path, (mtime_s, mtime_s))
    return path


def test_cursor_reads_each_file_once_across_day_folders_and_late_renames(tmp_path):
    write(tmp_path, "2026-01-01", "a", 2, 1000.0)
    write(tmp_path, "2026-01-01", "b", 3, 1001.0)
    rows, cursor, n = read_new(tmp_path, PREDICTIONS, LogCursor())
    assert (len(rows), n) == (5, 2)
    assert read_new(tmp_path, PREDICTIONS, cursor)[2] == 0
    write(tmp_path, "2026-01-02", "c", 1, 1002.0)  # a new day folder
    write(tmp_path, "2026-01-01", "d", 4, 1000.5)  # written before b, renamed after it was read
    rows, cursor, n = read_new(tmp_path, PREDICTIONS, LogCursor.from_dict(cursor.to_dict()))
    assert sorted(rows["request_id"].unique()) == ["c", "d"] and n == 2
    assert cursor.day == "2026-01-02"
    write(tmp_path, "2025-12-01", "old", 1, 5000.0)  # a folder far older than anything consumed: not listed
    assert new_parts(tmp_path, PREDICTIONS, cursor) == []


def test_max_files_leaves_the_rest_for_the_next_tick(tmp_path):
    for i in range(5):
        write(tmp_path, "2026-01-01", f"p{i}", 1, 1000.0 + i)
    first = new_parts(tmp_path, PREDICTIONS, LogCursor(), max_files=3)
    cursor = LogCursor().advance(first)
    rest = new_parts(tmp_path, PREDICTIONS, cursor, max_files=3)
    assert [p.name[-10:] for p in first + rest] == [f"p{i}.parquet" for i in range(5)]


def test_read_day(tmp_path):
    write(tmp_path, "2026-01-01", "a", 2)
    write(tmp_path, "2026-01-02", "b", 3)
    assert len(read_day(tmp_path, PREDICTIONS, "2026-01-02")) == 3
    assert read_day(tmp_path, PREDICTIONS, "2026-01-09").empty
