"""SIGKILL under load loses no acknowledged prediction: rows reach a segment file before the answer is sent, and
the next start compacts what the killed process left."""

from __future__ import annotations

import signal
import threading
import time

import pandas as pd
import requests

from mlops_assets_tests.serving.helpers import churn_raw, records
from mlops_assets_tests.serving.process import server_process


def test_sigkill_under_8_clients_loses_no_acknowledged_row(registry, tmp_path):
    log_dir = tmp_path / "log"
    rows = records(churn_raw(64, seed=31))
    acked: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def client(k: int, base: str) -> None:
        with requests.Session() as s:
            i = k
            while not stop.is_set():
                try:
                    r = s.post(f"{base}/predict", json={"records": [rows[i % len(rows)]]}, timeout=10)
                except requests.RequestException:
                    return  # the server is gone
                if r.status_code == 200:
                    acked.append(r.json()["request_id"])
                else:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                i += 8

    with server_process(registry.uri, log_dir, extra=["--log-flush-s", "0.5"]) as (base, proc):
        threads = [threading.Thread(target=client, args=(k, base), daemon=True) for k in range(8)]
        for t in threads:
            t.start()
        while len(acked) < 400 and not errors and proc.poll() is None:  # load for a while, then kill mid-flight
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors[:3]
    assert len(acked) >= 400
    leftovers = list((log_dir / "_segments" / "predictions").glob("*.jsonl"))
    assert leftovers, "the kill left no segment: nothing was tested beyond compaction"

    with server_process(registry.uri, log_dir):  # a restart recovers the killed process's segments first
        pass
    logged = set(pd.read_parquet(log_dir / "predictions", columns=["request_id"])["request_id"])
    missing = [r for r in acked if r not in logged]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged requests are not in the log"
    assert not list((log_dir / "_segments" / "predictions").glob("*.jsonl"))
