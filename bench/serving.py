"""Benchmark: our model server against ``mlflow models serve``, serving the same registered churn model.

One seeded HistGradientBoosting churn pipeline (the training helpers: ``generate_batch`` → ``build_features`` →
``fit_candidate``) is logged and registered as ``models:/churn/1`` in a temp sqlite MLflow store, in the
format the platform uses (skops, ``skops_trusted_types``). Both servers load that version:

(a) ours: ``python -m mlops_assets.serving --model-uri models:/churn/1 …`` — takes **raw records** (the 12
    raw churn fields) and computes the features server-side with the training definitions;
    ``POST /predict {"records": [...]}`` answers class and probability per row;
(b) mlflow: ``mlflow models serve -m models:/churn/1 --env-manager local`` — takes the **feature columns**
    (the model input), ``POST /invocations {"dataframe_split": ...}``, and answers classes only (pyfunc
    ``predict`` of a classifier).

So each server gets the same rows in its own input shape: ours the raw fields, mlflow their features
(computed here with ``build_features``). Ours does more work per row (validation + features + probability).

The servers run side by side (each in its own process; the idle one costs nothing) and are measured in
alternation, A B, B A, A B … (the order flips each round), with the same load generator: ``http.client``
keep-alive connections, each phase bounded by a request count and a time limit:

- ``seq``: single-row requests one after another (p50/p99 latency);
- ``8 clients``: 8 threads, one connection each, single-row requests for a fixed time (requests/s, p99;
  for ours also the mean rows per micro-batch, from its ``/metrics``);
- ``1000 rows``: 1,000-row requests one after another (p50 latency, rows/s).

Each figure is the median over rounds (min–max in brackets). ``cpu µs/req`` is the server processes' CPU time
(user + sys, from ``/proc``, the process and its children) per request during the 8-client phase: steadier
than wall time on a shared machine. The load average is printed at the start and the end.

Predictions are checked on 1,000 rows: classes from both servers' responses and from the registered model
in-process must be identical, and our probabilities must equal sklearn ``predict_proba`` of the registered
model exactly (JSON floats round-trip).

Run from the repository root::

    .venv/bin/python bench/serving.py [--rounds 3] [--seconds 4] [--sequential 400] [--keep]
    .venv/bin/python bench/serving.py --only ours --ours-arg=--fill-wait-ms=1   # iterate on ours alone

``--only`` measures one server (no comparison, no cross-server prediction checks); ``--ours-arg`` passes an
option to ``python -m mlops_assets.serving`` (repeatable).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DAYS = [datetime.date(2026, 1, 1) + datetime.timedelta(days=i) for i in range(4)]
EVAL_DAY = datetime.date(2026, 1, 20)


# ---------------------------------------------------------------- model and rows
def train_and_register(root: Path, seed: int) -> tuple[str, dict]:
    """Fit the churn HGB pipeline on 4 generated days, log + register it as models:/churn/1; return (URI, rows)."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    from mlops_assets.data.generators.registry import generate_batch
    from mlops_assets.features.churn import INPUT_COLUMNS
    from mlops_assets.features.transforms import build_features
    from mlops_assets.resources.tracking import SKOPS_TRUSTED_TYPES
    from mlops_assets.spec import load_spec
    from mlops_assets.training.assets import fit_candidate

    spec = load_spec(ROOT / "projects" / "churn.yaml")
    uri = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    raw = pd.concat([generate_batch(spec.source, d, rows=2000, seed=seed + i) for i, d in enumerate(DAYS)],
                    ignore_index=True)
    train = build_features(spec, raw).assign(**{spec.target.column: raw[spec.target.column].to_numpy()})
    pipeline = fit_candidate(spec, train, "hist_gradient_boosting", dict(spec.training.params), seed)
    X = train[list(spec.features.columns)]
    example = X.head(5)
    exp = mlflow.create_experiment("bench-serving", artifact_location=(root / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=exp):
        mlflow.sklearn.log_model(
            pipeline, name="model", signature=infer_signature(example, pipeline.predict(example)),
            input_example=example, skops_trusted_types=SKOPS_TRUSTED_TYPES, registered_model_name="churn",
            pip_requirements=["scikit-learn", "skops"],  # explicit: skips the requirement-inference subprocess
        )

    held_out = generate_batch(spec.source, EVAL_DAY, rows=1000, seed=seed + 100).reset_index(drop=True)
    feats = build_features(spec, held_out)
    fields = ["customer_id", *INPUT_COLUMNS]
    # what a client sends: JSON values (NaN -> null); round-tripped so both sides see the exact same numbers
    ours = json.loads(json.dumps([{k: (None if isinstance(v, float) and math.isnan(v) else v)
                                   for k, v in r.items()} for r in held_out[fields].to_dict(orient="records")]))
    theirs = json.loads(json.dumps([[v.item() if isinstance(v, np.generic) else v for v in row]
                                    for row in feats.itertuples(index=False)]))
    return uri, {"ours": ours, "mlflow": theirs, "columns": list(feats.columns), "features": feats}


# ---------------------------------------------------------------- processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, path: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"server on port {port} not ready within {timeout}s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def server(kind: str, tracking_uri: str, root: Path, extra: list[str] = ()):
    """Start one server in its own session (process group); yield (port, pid); SIGINT the group and wait."""
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PYTHONPATH": str(ROOT),
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MLOPS_SERVING_TOKEN", None)
    if kind == "ours":
        cmd = [sys.executable, "-m", "mlops_assets.serving", "--project", str(ROOT / "projects" / "churn.yaml"),
               "--log-dir", str(root / "predlog"), "--model-uri", "models:/churn/1", "--port", str(port),
               "--log-level", "warning", *extra]
        ready = "/ready"
    else:
        cmd = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", "models:/churn/1", "--env-manager", "local",
               "-p", str(port), "-h", "127.0.0.1"]
        ready = "/ping"
    log = root / f"{kind}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(port, ready, proc, log)
        yield port, proc.pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def _cpu_seconds(pid: int) -> float:
    """User + sys CPU seconds of ``pid`` and its live descendants (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += (int(stats[p][11]) + int(stats[p][12])) / tick
        todo += children.get(p, [])
    return total


# ---------------------------------------------------------------- load generator
class Client:
    """One keep-alive connection posting prepared JSON bodies."""

    def __init__(self, port: int, path: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.path = path

    def post(self, body: bytes) -> tuple[float, bytes]:
        t = time.perf_counter()
        self.conn.request("POST", self.path, body, {"content-type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        dt = time.perf_counter() - t
        if resp.status != 200:
            raise RuntimeError(f"{self.path}: HTTP {resp.status}: {data[:500]!r}")
        return dt, data

    def close(self) -> None:
        self.conn.close()


def bodies(kind: str, rows: dict) -> tuple[str, list[bytes], bytes]:
    """(path, single-row bodies, one 1,000-row body) in the server's own input shape."""
    if kind == "ours":
        one = [json.dumps({"records": [r]}).encode() for r in rows["ours"]]
        return "/predict", one, json.dumps({"records": rows["ours"]}).encode()
    cols = rows["columns"]
    one = [json.dumps({"dataframe_split": {"columns": cols, "data": [r]}}).encode() for r in rows["mlflow"]]
    return "/invocations", one, json.dumps({"dataframe_split": {"columns": cols, "data": rows["mlflow"]}}).encode()


def _batch_totals(port: int, kind: str) -> tuple[float, float]:
    """(micro-batches, rows batched) so far, from our server's /metrics (NaNs for mlflow)."""
    if kind != "ours":
        return math.nan, math.nan
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    got = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
           if line.startswith(("mlops_serving_batch_rows_count", "mlops_serving_batch_rows_sum"))}
    return got.get("mlops_serving_batch_rows_count", math.nan), got.get("mlops_serving_batch_rows_sum", math.nan)


def run_phases(kind: str, port: int, pid: int, path: str, one: list[bytes], big: bytes, args) -> dict:
    c = Client(port, path)
    for b in one[:30]:  # warm-up
        c.post(b)
    lat, t0 = [], time.perf_counter()
    for i in range(args.sequential):
        lat.append(c.post(one[i % len(one)])[0])
        if time.perf_counter() - t0 > args.seconds:
            break
    big_lat, t0 = [], time.perf_counter()
    for _ in range(args.batches):
        big_lat.append(c.post(big)[0])
        if time.perf_counter() - t0 > args.seconds:
            break
    c.close()

    clients, stop = 8, threading.Event()
    conc: list[list[float]] = [[] for _ in range(clients)]

    def worker(k: int) -> None:
        cl = Client(port, path)
        n = k * 97
        while not stop.is_set() and len(conc[k]) < 200_000:
            conc[k].append(cl.post(one[n % len(one)])[0])
            n += 1
        cl.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    batches0 = _batch_totals(port, kind)
    cpu0, t0 = _cpu_seconds(pid), time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    for t in threads:
        t.join(60)
    elapsed, cpu = time.perf_counter() - t0, _cpu_seconds(pid) - cpu0
    batches1 = _batch_totals(port, kind)
    all_conc = np.concatenate([np.array(x) for x in conc])
    lat, big_lat = np.array(lat) * 1e3, np.array(big_lat) * 1e3
    return {
        "seq p50 ms": float(np.percentile(lat, 50)), "seq p99 ms": float(np.percentile(lat, 99)),
        "8 clients req/s": len(all_conc) / elapsed, "8 clients p50 ms": float(np.percentile(all_conc, 50) * 1e3),
        "8 clients p99 ms": float(np.percentile(all_conc, 99) * 1e3), "cpu µs/req": cpu / len(all_conc) * 1e6,
        "8 clients rows/batch": (batches1[1] - batches0[1]) / (batches1[0] - batches0[0])
        if batches1[0] > batches0[0] else math.nan,
        "1000 rows p50 ms": float(np.percentile(big_lat, 50)), "1000 rows rows/s": 1000 / (float(np.median(big_lat)) / 1e3),
    }


# ---------------------------------------------------------------- correctness
def check_predictions(ports: dict, rows: dict, model_uri: str) -> list[str]:
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(model_uri)
    proba = model.predict_proba(rows["features"])
    classes = model.predict(rows["features"])
    _, _, ours_big = bodies("ours", rows)
    _, _, mlflow_big = bodies("mlflow", rows)
    ours = json.loads(Client(ports["ours"], "/predict").post(ours_big)[1])["predictions"]
    ours_inv = json.loads(Client(ports["ours"], "/invocations").post(
        json.dumps({"dataframe_records": rows["ours"]}).encode())[1])["predictions"]
    theirs = json.loads(Client(ports["mlflow"], "/invocations").post(mlflow_big)[1])["predictions"]
    # single-row requests go through the micro-batcher alone: check a few too
    singles = [json.loads(Client(ports["ours"], "/predict").post(json.dumps({"records": [r]}).encode())[1])
               ["predictions"][0] for r in rows["ours"][:50]]
    ours_cls = np.array([p["prediction"] for p in ours])
    ours_p = np.array([p["probability"] for p in ours])
    pos = int(np.flatnonzero(model.classes_ == 1)[0])
    checks = {
        "ours /predict classes == mlflow /invocations classes": np.array_equal(ours_cls, np.array(theirs)),
        "ours /invocations classes == mlflow /invocations classes": np.array_equal(np.array(ours_inv), np.array(theirs)),
        "mlflow classes == in-process predict": np.array_equal(np.array(theirs), classes),
        "ours probabilities == in-process predict_proba (exact)": np.array_equal(ours_p, proba[:, pos]),
        "ours single-row probabilities == predict_proba (exact, 50 rows)":
            np.array_equal(np.array([p["probability"] for p in singles]), proba[:50, pos]),
    }
    lines = [f"  {'OK ' if ok else 'FAIL'} {name}" for name, ok in checks.items()]
    lines.append(f"  (1000 rows; {int(ours_cls.sum())} predicted churners; max |ours - predict_proba| = "
                 f"{float(np.abs(ours_p - proba[:, pos]).max()):.3g})")
    if not all(checks.values()):
        lines.append("  PREDICTIONS DIFFER")
    return lines


# ---------------------------------------------------------------- report
def _fmt(vals: list[float]) -> str:
    med = statistics.median(vals)
    digits = 0 if med >= 100 else (1 if med >= 10 else 2)
    return f"{med:.{digits}f} [{min(vals):.{digits}f}–{max(vals):.{digits}f}]"


def report(results: dict[str, list[dict]]) -> list[str]:
    kinds = [k for k in ("ours", "mlflow") if results.get(k)]
    keys = list(results[kinds[0]][0])
    if len(kinds) == 1:
        return [f"{'metric':<18}{kinds[0]:>24}"] + [f"{k:<18}{_fmt([r[k] for r in results[kinds[0]]]):>24}"
                                                   for k in keys]
    w = 24
    lines = [f"{'metric':<18}{'ours':>{w}}{'mlflow':>{w}}{'ours/mlflow':>13}"]
    for k in keys:
        o = [r[k] for r in results["ours"]]
        m = [r[k] for r in results["mlflow"]]
        if any(math.isnan(x) for x in m):  # a figure only ours reports
            lines.append(f"{k:<18}{_fmt(o):>{w}}{'–':>{w}}{'–':>13}")
            continue
        lines.append(f"{k:<18}{_fmt(o):>{w}}{_fmt(m):>{w}}{statistics.median(o) / statistics.median(m):>12.2f}x")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0, help="time bound of each phase")
    ap.add_argument("--sequential", type=int, default=400, help="single-row requests per round (count bound)")
    ap.add_argument("--batches", type=int, default=12, help="1,000-row requests per round (count bound)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", action="store_true", help="keep the temp MLflow store and server logs")
    ap.add_argument("--only", choices=("ours", "mlflow"), help="measure one server only (no comparison)")
    ap.add_argument("--ours-arg", action="append", default=[], help="extra option for our server (repeatable)")
    args = ap.parse_args()

    start = time.perf_counter()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)",
          flush=True)
    root = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        t = time.perf_counter()
        tracking, rows = train_and_register(root, args.seed)
        print(f"trained + registered models:/churn/1 in {time.perf_counter() - t:.1f}s ({root})", flush=True)
        kinds = (args.only,) if args.only else ("ours", "mlflow")
        results: dict[str, list[dict]] = {k: [] for k in kinds}
        with contextlib.ExitStack() as stack:
            procs = {k: stack.enter_context(server(k, tracking, root, args.ours_arg if k == "ours" else []))
                     for k in kinds}
            if args.only:
                print("predictions: cross-server checks skipped (--only)", flush=True)
            else:
                print("predictions:", flush=True)
                print("\n".join(check_predictions({k: v[0] for k, v in procs.items()}, rows, "models:/churn/1")),
                      flush=True)
            payload = {k: bodies(k, rows) for k in procs}
            for k, (_, one, big) in payload.items():
                print(f"  {k}: single-row body {len(one[0])} B, 1000-row body {len(big) / 1e3:.0f} kB")
            for r in range(args.rounds):
                order = kinds if r % 2 == 0 else kinds[::-1]
                for kind in order:
                    port, pid = procs[kind]
                    path, one, big = payload[kind]
                    got = run_phases(kind, port, pid, path, one, big, args)
                    results[kind].append(got)
                    print(f"round {r + 1} {kind:<6} " + ", ".join(f"{k}={v:.1f}" for k, v in got.items()), flush=True)
        print()
        print(f"median over {args.rounds} rounds [min–max]; ours = /predict raw records, mlflow = /invocations features")
        print("\n".join(report(results)))
        if not args.only:
            o = statistics.median(r["8 clients req/s"] for r in results["ours"])
            m = statistics.median(r["8 clients req/s"] for r in results["mlflow"])
            p50 = statistics.median(r["seq p50 ms"] for r in results["ours"])
            print(f"targets: 8-client req/s >= 5x mlflow: {o / m:.2f}x ({'met' if o >= 5 * m else 'MISSED'}); "
                  f"seq p50 <= 2.5 ms: {p50:.2f} ms ({'met' if p50 <= 2.5 else 'MISSED'})")
    finally:
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"total {time.perf_counter() - start:.0f}s")
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
