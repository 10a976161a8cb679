"""Rollouts on a real server under concurrent load: blue-green swaps, canary share, shadow, rollback, graceful stop."""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
import requests

from mlops_assets.features.transforms import build_features
from mlops_assets_tests.serving.helpers import churn_raw, records

CLIENTS = 8


@pytest.fixture(scope="module")
def rows():
    return records(churn_raw(40, seed=21))


def hammer(base: str, rows: list[dict], *, per_client: int, stop: threading.Event | None = None,
           clients: int = CLIENTS, out: list | None = None, guard_s: float = 300.0) -> list[dict]:
    """``clients`` threads, each sending up to ``per_client`` /predict requests of 1-3 rows; each answer is appended
    to ``out`` as it comes (so another thread can watch progress). ``guard_s`` only stops a hung run."""
    out = [] if out is None else out
    deadline = time.monotonic() + guard_s

    def client(c: int) -> None:
        url = urlparse(base)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        for n in range(per_client):
            if (stop is not None and stop.is_set()) or time.monotonic() > deadline:
                break
            k = 1 + (c + n) % 3
            batch = [rows[(c * 7 + n + j) % len(rows)] for j in range(k)]
            t0 = time.monotonic()
            try:
                conn.request("POST", "/predict", json.dumps({"records": batch}),
                             {"content-type": "application/json"})
                resp = conn.getresponse()
                body = json.loads(resp.read())
                out.append({"start": t0, "end": time.monotonic(), "status": resp.status, "rows": k,
                            "version": body.get("model_version"), "role": body.get("role"),
                            "request_id": body.get("request_id"),
                            "scores": [p.get("probability") for p in body.get("predictions", [])], "batch": batch})
            except (OSError, http.client.HTTPException) as err:
                out.append({"start": t0, "end": time.monotonic(), "status": repr(err), "rows": k})
                conn.close()
                if stop is not None and stop.is_set():
                    break
        conn.close()

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(guard_s + 30)
    assert not any(t.is_alive() for t in threads)
    return out


def wait_until(condition, what: str, guard_s: float = 120.0) -> None:
    """Poll `condition` until it holds; the guard only turns a hang into a failure naming `what`."""
    deadline = time.monotonic() + guard_s
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {guard_s:.0f} s"
        time.sleep(0.01)


def admin(base: str, path: str, body: dict | None = None) -> dict:
    r = requests.post(f"{base}/admin/{path}", json=body or {}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def test_blue_green_swaps_under_load_fail_nothing_and_serve_only_live_versions(serve, rows):
    with serve() as (base, app):
        stop, swaps = threading.Event(), []
        result: list = []
        load = threading.Thread(target=hammer, args=(base, rows), kwargs={"per_client": 2000, "stop": stop,
                                                                          "out": result})
        load.start()
        wait_until(lambda: len(result) >= 20, "the load to start")
        for k in range(10):
            version = "2" if k % 2 == 0 else "1"
            t0 = time.monotonic()
            body = admin(base, "load", {"model_uri": f"models:/churn/{version}", "mode": "blue_green"})
            swapped = time.monotonic()
            swaps.append((t0, swapped, version))
            assert body["live"]["model_version"] == version
            # under load: requests sent after the swap are answered (by the new version) before the next swap
            wait_until(lambda: any(r["start"] > swapped and r["status"] == 200 for r in list(result)),
                       f"a request answered after swap {k}")
        stop.set()
        load.join(180)
    assert len(result) < CLIENTS * 2000  # the load ran through every swap, stopped by the test
    failed = [r for r in result if r["status"] != 200]
    assert failed == []

    def possible(start: float, end: float) -> set[str]:
        before = [v for a, b, v in swaps if b < start]
        live = {before[-1] if before else "1"}
        return live | {v for a, b, v in swaps if a <= end and b >= start}

    wrong = [r for r in result if r["version"] not in possible(r["start"], r["end"])]
    assert wrong == []
    assert {r["version"] for r in result} == {"1", "2"}


def test_canary_share_over_2000_requests(serve, rows):
    with serve() as (base, app):
        body = admin(base, "load", {"model_uri": "models:/churn/2", "mode": "canary", "weight": 0.2})
        assert body["candidate"]["model_version"] == "2" and body["strategy"] == "canary"
        v = requests.get(f"{base}/version", timeout=10).json()
        assert v["strategy"] == "canary" and v["weight"] == 0.2 and v["candidate"]["model_version"] == "2"
        result = hammer(base, rows, per_client=2000 // CLIENTS)
    assert len(result) == 2000 and all(r["status"] == 200 for r in result)
    canary = [r for r in result if r["role"] == "canary"]
    assert all(r["version"] == "2" for r in canary)
    assert all(r["version"] == "1" for r in result if r["role"] == "live")
    share = len(canary) / len(result)
    assert abs(share - 0.2) <= 0.05, share
    assert len(canary) == 400  # the counter scheme is exact, not just close


def test_shadow_returns_live_outputs_and_logs_both(serve, rows, registry, tmp_path):
    log_dir = tmp_path / "shadowlog"
    with serve(log_dir=log_dir) as (base, app):
        admin(base, "load", {"model_uri": "models:/churn/2", "mode": "shadow"})
        result = hammer(base, rows, per_client=10, clients=4)
    assert all(r["status"] == 200 and r["version"] == "1" and r["role"] == "live" for r in result)
    spec = registry.spec
    for r in result[:10]:
        feats = build_features(spec, pd.DataFrame(r["batch"]))
        # batched with other requests' rows, BLAS may round the last bit differently: equal to 1e-12
        np.testing.assert_allclose(r["scores"], registry.pipelines["1"].predict_proba(feats)[:, 1], rtol=0, atol=1e-12)
    logged = pd.read_parquet(log_dir / "predictions")
    total = sum(r["rows"] for r in result)
    assert logged.groupby(["role", "model_version"]).size().to_dict() == {("live", "1"): total,
                                                                          ("shadow", "2"): total}
    shadow = logged[logged.role == "shadow"].sort_values(["request_id", "row"])
    inputs = shadow[list(spec.schema_.columns)[3:15]]  # the raw inputs are logged as typed columns
    expected = registry.pipelines["2"].predict_proba(build_features(spec, inputs))[:, 1]
    np.testing.assert_allclose(shadow["score"].to_numpy(), expected, rtol=0, atol=1e-12)


def test_rollback_restores_previous_and_drops_a_candidate(serve, rows):
    with serve() as (base, app):
        r = requests.post(f"{base}/admin/rollback", timeout=10)
        assert r.status_code == 409 and "no previous model" in r.json()["detail"]
        admin(base, "load", {"model_uri": "models:/churn/2"})
        assert requests.post(f"{base}/predict", json={"records": rows[:1]}, timeout=10).json()["model_version"] == "2"
        body = admin(base, "rollback")
        assert body["action"] == "previous_restored" and body["live"]["model_version"] == "1"
        assert body["previous"]["model_version"] == "2"
        assert requests.post(f"{base}/predict", json={"records": rows[:1]}, timeout=10).json()["model_version"] == "1"
        admin(base, "load", {"model_uri": "models:/churn/2", "mode": "canary", "weight": 1.0})
        assert requests.post(f"{base}/predict", json={"records": rows[:1]}, timeout=10).json()["role"] == "canary"
        assert admin(base, "rollback")["action"] == "candidate_dropped"
        assert requests.post(f"{base}/predict", json={"records": rows[:1]}, timeout=10).json()["role"] == "live"
        admin(base, "load", {"model_uri": "models:/churn/2", "mode": "canary", "weight": 0.5})
        body = admin(base, "promote")
        assert body["live"]["model_version"] == "2" and body["candidate"] is None
        status = requests.get(f"{base}/admin/status", timeout=10).json()
        assert status["previous"]["model_version"] == "1" and status["ready"] is True


def test_graceful_stop_under_load_logs_exactly_one_record_per_scored_row(serve, rows, tmp_path):
    log_dir = tmp_path / "stoplog"
    stop, result = threading.Event(), []
    # a long flush interval: whatever is on disk was written by the shutdown flush
    with serve(log_dir=log_dir, flush_interval_s=600) as (base, app):
        load = threading.Thread(target=hammer, args=(base, rows), kwargs={"per_client": 300, "stop": stop,
                                                                          "out": result})
        load.start()
        wait_until(lambda: sum(r["status"] == 200 for r in list(result)) >= 50, "50 answered requests")
        stop.set()  # clients stop after their current request; the server shuts down under that load
    load.join(120)
    ok = [r for r in result if r["status"] == 200]
    assert len(ok) >= 50
    logged = pd.read_parquet(log_dir / "predictions")
    assert not logged.duplicated(["request_id", "row", "role"]).any()
    per_request = logged.groupby("request_id").size()
    for r in ok:
        assert per_request[r["request_id"]] == r["rows"]
    # every logged request was answered (none scored twice or lost); at most the in-flight ones at shutdown differ
    assert len(set(per_request.index) - {r["request_id"] for r in ok}) <= CLIENTS
    assert set(logged["role"]) == {"live"} and set(logged["model_version"]) == {"1"}
