"""``python -m mlops_assets.serving``: starts on 127.0.0.1, serves, and flushes its log on SIGINT."""

from __future__ import annotations

import pandas as pd
import requests

from mlops_assets_tests.serving.conftest import churn_raw, records
from mlops_assets_tests.serving.process import server_process


def test_cli_serves_and_flushes_on_graceful_stop(registry, tmp_path):
    rows = records(churn_raw(3, seed=8))
    with server_process(registry.uri, tmp_path / "log") as (base, proc):
        assert base.startswith("http://127.0.0.1:")
        v = requests.get(f"{base}/version", timeout=10).json()
        assert (v["model_version"], v["alias"], v["data_version"]) == ("1", "champion", "2026-01-01")
        r = requests.post(f"{base}/predict", json={"records": rows}, timeout=30)
        assert r.status_code == 200
        request_id = r.json()["request_id"]
        assert requests.post(f"{base}/feedback", json={"request_id": request_id, "label": 0}, timeout=10).status_code == 202
    assert proc.returncode == 0, proc.stdout.read().decode()[-2000:]
    logged = pd.read_parquet(tmp_path / "log" / "predictions")
    assert logged["request_id"].tolist() == [request_id] * 3
    assert pd.read_parquet(tmp_path / "log" / "feedback")["request_id"].tolist() == [request_id]
