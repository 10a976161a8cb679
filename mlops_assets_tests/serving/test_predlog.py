"""The prediction log: day partitions, one record per scored row, feedback, nothing lost on stop."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
import pandas as pd

from mlops_assets.serving.contract import Contract
from mlops_assets.serving.predlog import PredictionLog
from mlops_assets_tests.serving.helpers import churn_raw, churn_spec, records


def test_records_land_in_day_partitions_with_typed_inputs(tmp_path):
    contract = Contract(churn_spec())
    raw = contract.validate(pd.DataFrame(records(churn_raw(5, seed=2)))).raw
    plog = PredictionLog(tmp_path, "churn", contract.columns, flush_interval_s=30)
    plog.start()
    day1 = datetime(2026, 3, 1, 23, 59, tzinfo=timezone.utc)
    day2 = datetime(2026, 3, 2, 0, 1, tzinfo=timezone.utc)
    plog.append("r1", day1, "1", "live", raw, np.zeros(5), np.linspace(0, 1, 5))
    plog.append("r1", day1, "2", "shadow", raw, np.ones(5), np.full(5, 0.5))
    plog.append("r2", day2, "2", "canary", raw.iloc[:2], np.ones(2), np.full(2, 0.9))
    plog.append_feedback("r1", 3, 1, day2)
    plog.stop()  # long flush interval: only the graceful stop writes
    parts = sorted(p.relative_to(tmp_path).parts[:2] for p in tmp_path.rglob("*.parquet"))
    assert parts == [("feedback", "date=2026-03-02"), ("predictions", "date=2026-03-01"),
                     ("predictions", "date=2026-03-02")]
    logged = pd.read_parquet(tmp_path / "predictions")
    assert len(logged) == 12
    assert logged.groupby("role").size().to_dict() == {"canary": 2, "live": 5, "shadow": 5}
    live = logged[logged.role == "live"].sort_values("row")
    assert live["score"].tolist() == np.linspace(0, 1, 5).tolist() and live["row"].tolist() == [0, 1, 2, 3, 4]
    assert live["tenure_months"].tolist() == raw["tenure_months"].tolist()
    assert not list(tmp_path.rglob("*.tmp"))
    fb = pd.read_parquet(tmp_path / "feedback")
    assert fb[["request_id", "row", "label"]].to_dict("records") == [{"request_id": "r1", "row": 3, "label": 1.0}]


def test_background_thread_flushes_without_stop(tmp_path):
    contract = Contract(churn_spec())
    raw = contract.validate(pd.DataFrame(records(churn_raw(3, seed=4)))).raw
    plog = PredictionLog(tmp_path, "churn", contract.columns, flush_interval_s=0.05)
    plog.start()
    try:
        plog.append("r", datetime.now(timezone.utc), "1", "live", raw, np.zeros(3), np.zeros(3))
        for _ in range(100):
            if plog.rows_written == 3:
                break
            import time

            time.sleep(0.02)
        assert plog.rows_written == 3 and len(pd.read_parquet(tmp_path / "predictions")) == 3
    finally:
        plog.stop()


def _one_column_log(tmp_path, **kwargs):
    from mlops_assets.spec import ColumnSpec

    return PredictionLog(tmp_path, "p", {"x": ColumnSpec(dtype="float")}, flush_interval_s=600, **kwargs)


def _ids(directory) -> list[str]:
    files = sorted(directory.rglob("part-*.parquet"))
    return sorted(pd.concat([pd.read_parquet(f) for f in files])["request_id"]) if files else []


DAY_A = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
DAY_B = datetime(2026, 1, 2, 12, tzinfo=timezone.utc)


def _x(v: float) -> pd.DataFrame:
    return pd.DataFrame({"x": [v]})


def test_rows_are_in_a_segment_file_as_soon_as_append_returns(tmp_path):
    plog = _one_column_log(tmp_path)
    plog.append("r1", DAY_A, "1", "live", _x(1.5), np.array([1.0]), np.array([0.5]))
    segments = list((tmp_path / "_segments" / "predictions").glob("*.jsonl"))
    assert len(segments) == 1 and b'"request_id":"r1"' in segments[0].read_bytes()
    assert not list(tmp_path.rglob("*.parquet"))  # not compacted yet
    plog.stop()
    assert _ids(tmp_path / "predictions") == ["r1"] and not list(segments[0].parent.glob("*.jsonl"))


@pytest.mark.parametrize("fault", ["file", "chmod"])
def test_an_unwritable_day_is_quarantined_and_the_rest_is_written(tmp_path, fault):
    """A real fault on day B's directory: day A is written, day B's row goes to the dead-letter file (counted);
    once the directory is writable again, later rows of day B are written."""
    import os

    from mlops_assets.serving.segments import dead_letter_rows

    if fault == "chmod" and os.geteuid() == 0:
        pytest.skip("chmod does not stop root: the 'file' fault covers it")
    bad = tmp_path / "predictions" / "date=2026-01-02"
    if fault == "file":
        bad.parent.mkdir(parents=True)
        bad.write_text("not a directory")
    else:
        bad.mkdir(parents=True)
        bad.chmod(0o500)
    plog = _one_column_log(tmp_path)
    plog.start()
    try:
        plog.append("a1", DAY_A, "1", "live", _x(1.0), np.array([1.0]), np.array([0.5]))
        plog.append("b1", DAY_B, "1", "live", _x(2.0), np.array([1.0]), np.array([0.5]))
        plog.flush()
        assert _ids(tmp_path / "predictions") == ["a1"]
        assert plog.stats()["dead_letter_rows"]["predictions"] == 1
        dead = dead_letter_rows(tmp_path / "_dead_letter" / "predictions")
        assert [d["row"]["request_id"] for d in dead] == ["b1"] and dead[0]["row"]["x"] == 2.0 and dead[0]["error"]
        if fault == "file":
            bad.unlink()
        else:
            bad.chmod(0o700)
        plog.append("b2", DAY_B, "1", "live", _x(3.0), np.array([1.0]), np.array([0.5]))
        plog.append("a2", DAY_A, "1", "live", _x(4.0), np.array([1.0]), np.array([0.5]))
    finally:
        plog.stop()
    assert _ids(tmp_path / "predictions") == ["a1", "a2", "b2"]
    assert plog.stats()["dead_letter_rows"]["predictions"] == 1 and plog.stats()["pending_rows"]["predictions"] == 0
    assert not list(tmp_path.rglob("*.tmp")) and not list((tmp_path / "_segments").rglob("*.jsonl"))


def test_a_leftover_segment_is_recovered_on_start_poison_and_torn_lines_quarantined(tmp_path):
    """A segment a killed process left (with a line no schema column can hold and a torn last write) is compacted
    by the next start: the good rows written, the two bad ones in the dead-letter file, the segment gone."""
    from mlops_assets.serving.segments import dead_letter_rows

    killed = _one_column_log(tmp_path)
    for i in range(5):
        killed.append(f"r{i}", DAY_A, "1", "live", _x(float(i)), np.array([1.0]), np.array([0.5]))
    (path, _), = [killed._writers["predictions"].rotate()]  # the process dies: its lock is released, rows stay
    with open(path, "ab") as f:
        f.write(b'{"request_id":"poison","row":100000000000000000000000,"time":0,"x":1.0}\n{"request_id":"to')
    fresh = _one_column_log(tmp_path)
    fresh.start()
    fresh.stop()
    assert _ids(tmp_path / "predictions") == [f"r{i}" for i in range(5)]
    dead = dead_letter_rows(tmp_path / "_dead_letter" / "predictions")
    assert len(dead) == 2 and any("poison" in d["line"] for d in dead) and any("torn" in d["error"] for d in dead)
    assert fresh.stats()["dead_letter_rows"]["predictions"] == 2 and not path.exists()


def test_a_segment_being_written_by_a_live_process_is_left_alone(tmp_path):
    live = _one_column_log(tmp_path)
    live.append("r1", DAY_A, "1", "live", _x(1.0), np.array([1.0]), np.array([0.5]))
    other = _one_column_log(tmp_path)
    other.flush()  # the live log's open segment is locked: not compacted under it
    assert _ids(tmp_path / "predictions") == []
    live.append("r2", DAY_A, "1", "live", _x(2.0), np.array([1.0]), np.array([0.5]))
    live.stop()
    assert _ids(tmp_path / "predictions") == ["r1", "r2"]


def test_the_backlog_cap_refuses_rows_instead_of_dropping_acknowledged_ones(tmp_path):
    from mlops_assets.serving.predlog import LogFull

    plog = _one_column_log(tmp_path, max_pending_rows=3)
    plog.append("r1", DAY_A, "1", "live", pd.DataFrame({"x": [1.0, 2.0]}), np.ones(2), np.ones(2))
    with pytest.raises(LogFull):
        plog.append("r2", DAY_A, "1", "live", pd.DataFrame({"x": [1.0, 2.0]}), np.ones(2), np.ones(2))
    assert plog.stats()["dropped_rows"]["predictions"] == 2
    plog.flush()  # compacted: room again
    plog.append("r3", DAY_A, "1", "live", pd.DataFrame({"x": [1.0, 2.0]}), np.ones(2), np.ones(2))
    plog.stop()
    assert _ids(tmp_path / "predictions") == ["r1", "r1", "r3", "r3"]


def test_retention_deletes_old_day_folders(tmp_path):
    from datetime import date

    plog = _one_column_log(tmp_path, retention_days=4)  # on 01-09: keep 01-05 on
    for day in (1, 5, 8):
        plog.append(f"d{day}", datetime(2026, 1, day, tzinfo=timezone.utc), "1", "live", _x(1.0), np.ones(1),
                    np.ones(1))
    plog.flush()
    assert plog.apply_retention(today=date(2026, 1, 9)) == 1
    assert sorted(p.name for p in (tmp_path / "predictions").iterdir()) == ["date=2026-01-05", "date=2026-01-08"]
    plog.stop()
