"""Measure (not assert) the server's latency and throughput: ``python -m mlops_assets_tests.serving.loadcheck``.

Starts ``python -m mlops_assets.serving`` in a child process (so the load loop does not share its GIL) on a
throw-away sqlite MLflow store, then: sequential single-row /predict p50/p99 over keep-alive HTTP, 8-client
req/s, a 1,000-row request, and the in-process cost of each stage for one row.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from mlops_assets_tests.serving.helpers import build_registry, churn_raw, records
from mlops_assets_tests.serving.process import server_process


def _post(conn: http.client.HTTPConnection, body: bytes) -> float:
    t = time.perf_counter()
    conn.request("POST", "/predict", body, {"content-type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise RuntimeError(f"status {resp.status}")
    return time.perf_counter() - t


def measure(base: str, rows: list[dict], sequential: int, seconds: float, clients: int) -> dict:
    host, port = urlparse(base).hostname, urlparse(base).port
    one = [json.dumps({"records": [r]}).encode() for r in rows]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for b in one[:50]:
        _post(conn, b)
    lat = np.array([_post(conn, one[i % len(one)]) for i in range(sequential)]) * 1e3
    big = json.dumps({"records": [rows[i % len(rows)] for i in range(1000)]}).encode()
    big_lat = np.array([_post(conn, big) for _ in range(20)]) * 1e3
    conn.close()

    counts, stop = [0] * clients, threading.Event()

    def client(c: int) -> None:
        cn = http.client.HTTPConnection(host, port, timeout=30)
        for n in range(1_000_000):
            if stop.is_set():
                break
            _post(cn, one[(c * 13 + n) % len(one)])
            counts[c] += 1
        cn.close()

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(30)
    elapsed = time.perf_counter() - t0
    metrics = http.client.HTTPConnection(host, port, timeout=30)
    metrics.request("GET", "/metrics")
    text = metrics.getresponse().read().decode()
    batch_sum = float(re.search(r"^mlops_serving_batch_rows_sum (\S+)", text, re.M).group(1))
    batch_count = float(re.search(r"^mlops_serving_batch_rows_count (\S+)", text, re.M).group(1))
    return {"seq_p50_ms": float(np.percentile(lat, 50)), "seq_p99_ms": float(np.percentile(lat, 99)),
            "rows1000_p50_ms": float(np.percentile(big_lat, 50)),
            f"{clients}_clients_req_per_s": sum(counts) / elapsed, "mean_rows_per_batch_overall": batch_sum / batch_count}


def stage_costs(reg) -> dict:
    from mlops_assets.serving.contract import Contract
    from mlops_assets.serving.payloads import predict_frame

    contract = Contract(reg.spec)
    body = json.dumps({"records": records(churn_raw(1, seed=3))})

    def t(f, n=300):
        f()
        s = time.perf_counter()
        for _ in range(n):
            f()
        return (time.perf_counter() - s) / n * 1e3

    frame = predict_frame(json.loads(body), 10)
    raw = contract.validate(frame).raw
    feats = contract.features(raw)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return {"parse_ms": t(lambda: predict_frame(json.loads(body), 10)), "validate_ms": t(lambda: contract.validate(frame)),
                "features_ms": t(lambda: contract.features(raw)),
                **{f"predict_v{v}_ms": t(lambda p=p: p.predict_proba(feats)) for v, p in reg.pipelines.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sequential", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="loadcheck-"))
    reg = build_registry(root)
    rows = records(churn_raw(200, seed=5))
    print("stage costs, one row, in process:", {k: round(v, 3) for k, v in stage_costs(reg).items()})
    for version, kind in (("1", "logistic regression"), ("2", "hist gradient boosting")):
        with server_process(reg.uri, root / f"log{version}", model_uri=f"models:/churn/{version}") as (base, _):
            got = measure(base, rows, args.sequential, args.seconds, args.clients)
        logged = len(pd.read_parquet(root / f"log{version}" / "predictions"))
        print(f"model v{version} ({kind}):", {k: round(v, 2) for k, v in got.items()}, f"rows logged={logged}")


if __name__ == "__main__":
    main()
