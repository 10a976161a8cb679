"""The prediction log: day partitions, one record per scored row, feedback, nothing lost on stop."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
import pandas as pd

from mlops_assets.serving.contract import Contract
from mlops_assets.serving.predlog import PredictionLog
from mlops_assets_tests.serving.conftest import churn_raw, churn_spec, records


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


def test_a_failed_day_is_retried_alone_and_every_row_lands_once(tmp_path, monkeypatch):
    """Day A written, day B fails: the retry writes only day B (no duplicate of A), and no temp file is left."""
    import datetime as _dt

    import pandas as _pd

    from mlops_assets.serving import predlog as _predlog
    from mlops_assets.spec import ColumnSpec

    log = _predlog.PredictionLog(tmp_path, "p", {"x": ColumnSpec(dtype="float")}, flush_interval_s=60)
    day_a = _dt.datetime(2026, 1, 1, 12, tzinfo=_dt.timezone.utc)
    day_b = _dt.datetime(2026, 1, 2, 12, tzinfo=_dt.timezone.utc)
    for rid, at in (("r1", day_a), ("r2", day_b)):
        log._chunks.append(_predlog._Chunk(rid, at, "1", "live", _pd.DataFrame({"x": [1.0]}),
                                           np.array([1.0]), np.array([0.5])))
    real_write = log._write

    def failing_on_day_b(df, kind, schema):
        if (df["time"].astype(str).str.startswith("2026-01-02")).any():
            raise OSError("disk full")
        return real_write(df, kind, schema)

    monkeypatch.setattr(log, "_write", failing_on_day_b)
    with pytest.raises(OSError):
        log.flush()
    monkeypatch.setattr(log, "_write", real_write)
    log.flush()
    files = sorted((tmp_path / "predictions").rglob("*.parquet"))
    ids = _pd.concat([_pd.read_parquet(f) for f in files])["request_id"].tolist()
    assert sorted(ids) == ["r1", "r2"]
    assert not list(tmp_path.rglob("*.tmp"))
