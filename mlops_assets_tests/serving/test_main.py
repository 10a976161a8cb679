"""``python -m mlops_assets.serving``: starts on 127.0.0.1, serves, and flushes its log on SIGINT."""

from __future__ import annotations

import gc

import pandas as pd
import pytest
import requests

from mlops_assets.serving.__main__ import freeze_gc

from mlops_assets_tests.serving.helpers import churn_raw, records
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


@pytest.mark.parametrize("outcome", ["live", "load_error"])
def test_freeze_gc_freezes_at_start_and_again_once_the_initial_load_is_over(outcome):
    class Router:
        live = None

    class Server:
        router, load_error = Router(), None

    server = Server()
    gc.unfreeze()
    try:
        thread = freeze_gc(server, poll_s=0.01)
        first = gc.get_freeze_count()
        assert first > 0 and thread.is_alive()
        late = [[i] for i in range(1000)]  # tracked objects made after the first freeze, like a loaded model's
        if outcome == "live":
            server.router.live = object()
        else:
            server.load_error = "RuntimeError: boom"
        thread.join(10)
        assert not thread.is_alive()
        assert gc.get_freeze_count() >= first + len(late)
    finally:
        gc.unfreeze()
