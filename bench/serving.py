"""Benchmark: our model server against ``mlflow models serve`` and BentoML 1.4, serving the same fitted churn model.

One seeded HistGradientBoosting churn pipeline (the training helpers: ``generate_batch`` → ``build_features`` →
``fit_candidate``) is logged and registered as ``models:/churn/1`` in a temp sqlite MLflow store, in the
format the platform uses (skops, ``skops_trusted_types``), and pickled for BentoML. Three servers, each with
``OMP_NUM_THREADS=1`` and one worker process:

(a) ours: ``python -m mlops_assets.serving --model-uri models:/churn/1 …`` with its prediction log on (as in
    production: every scored row in a segment file before the answer, compacted every ``--log-flush-s``). It
    takes **raw records** (the 12 raw churn fields) and computes the features server-side with the training
    definitions; measured on both routes: ``POST /predict {"records": [...]}`` (class + probability per row)
    and ``POST /invocations {"dataframe_split": ...}`` of the raw fields (MLflow's protocol, classes);
(b) mlflow: ``mlflow models serve -m models:/churn/1 --env-manager local`` — takes the **feature columns**
    (the model input), ``POST /invocations {"dataframe_split": ...}``, answers classes only;
(c) bentoml: ``bentoml serve bentoml_service:ChurnService`` (bench/bentoml_service.py, in its own venv
    ``.venv-bench-bentoml``, created on first use with BentoML and our venv's scikit-learn/pandas/numpy
    versions so it unpickles the same fitted pipeline): ``@bentoml.service(workers=1)``,
    ``@bentoml.api(batchable=True, batch_dim=0, max_batch_size=2048, max_latency_ms=1000)`` — adaptive
    batching; takes the feature columns ``POST /predict {"data": [{...}]}``, answers class + probability.

So each server gets the same rows in its own input shape; ours does more work per row (validation, features,
the log). The servers run side by side (the idle ones cost nothing) and are measured in alternation (the order
reverses each round). Phases, per server and round:

- ``seq``: single-row requests one after another on one keep-alive ``http.client`` connection (p50/p99);
- ``1000 rows``: 1,000-row requests one after another (p50, rows/s);
- ``py N`` / ``wrk N`` for N in ``--clients`` (8, 32): N concurrent single-row clients for ``--seconds``, each
  closed-loop on its own keep-alive connection, from two load generators: ``py`` = N Python threads in this
  process (``http.client``), ``wrk`` = the compiled ``wrk`` (2 threads, a Lua script cycling through the same
  JSON bodies; ``apt-get install -y wrk``; skipped, with a message, when it is not on PATH). req/s, p50, p99,
  ``cpu µs/req`` (the server's processes' user + sys CPU per request, from ``/proc``: steadier than wall time
  on a shared machine) and, for ours, the mean rows per micro-batch (from its ``/metrics``).

Each figure is the median over ``--rounds`` (min–max in brackets); the ratio columns divide the median of our
``/predict`` or ``/invocations`` by mlflow's or BentoML's. The targets (issue 10) are checked last. The load
average is printed at the start and the end: the machine has 2 shared cores, so absolute figures are noisy and the
ratios within a run are the meaningful ones.

Predictions are checked on 1,000 rows (and 50 single-row requests, which go through each batcher alone): the
classes of all three servers and of the registered model in-process must be identical, and the probabilities of
ours and BentoML must equal sklearn ``predict_proba`` of the registered model exactly (JSON floats round-trip).

``--tail`` instead investigates the 8-client p99 of ours (see bench/README.md): the same load with the log's
compaction on and off and with our GC tuning on and off, every GC pause of the server recorded.

Run from the repository root::

    .venv/bin/python bench/serving.py [--rounds 3] [--seconds 4] [--clients 8,32] [--port-base 18000] [--keep]
    .venv/bin/python bench/serving.py --only ours --ours-arg=--fill-wait-ms=1   # iterate on ours alone
    .venv/bin/python bench/serving.py --tail                                     # the p99 investigation

``--only`` measures one server (no comparison, no cross-server checks); ``--ours-arg`` passes an option to
``python -m mlops_assets.serving`` (repeatable); ``--port-base N`` puts ours on N, mlflow on N+1, BentoML on N+2
(default: free ports).
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
BENTOML_VENV = ROOT / ".venv-bench-bentoml"
BENTOML_VERSION = "1.4.40"
#: pinned in the BentoML venv to this venv's versions, so the pickled pipeline loads (and predicts) the same
SAME_AS_OURS = ("scikit-learn", "pandas", "numpy", "scipy", "joblib", "threadpoolctl")
SERVERS = ("ours", "mlflow", "bentoml")
TARGETS = ("ours /predict", "ours /invocations", "mlflow", "bentoml")
SERVER_OF = {"ours /predict": "ours", "ours /invocations": "ours", "mlflow": "mlflow", "bentoml": "bentoml"}
WRK_INSTALL = "apt-get install -y wrk"
#: issue 10's targets for ours: (metric, "ratio" vs a server or "abs", bound, higher is better)
REQS_VS_MLFLOW, REQS_VS_BENTOML, P99_8_MS, SEQ_P50_MS = 10.0, 2.0, 25.0, 2.0

WRK_LUA = r"""
-- bench/serving.py: POST the JSON bodies of $BENCH_BODIES (one per line) to $BENCH_PATH, in turn
local bodies, n = {}, 0
for line in io.lines(os.getenv("BENCH_BODIES")) do n = n + 1; bodies[n] = line end
local path, i = os.getenv("BENCH_PATH"), 0
local headers = {["Content-Type"] = "application/json"}
function init(args) i = math.random(n) - 1 end
function request()
  i = i % n + 1
  return wrk.format("POST", path, headers, bodies[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"mean_us": %.1f, "max_us": %d, "status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


# ---------------------------------------------------------------- pure helpers (tested)
def latency_summary(seconds: list[float] | np.ndarray, elapsed: float) -> dict:
    """req/s, p50 and p99 (ms) of closed-loop requests that took ``seconds`` each within ``elapsed`` seconds."""
    ms = np.asarray(seconds, dtype="float64") * 1e3
    return {"req/s": len(ms) / elapsed, "p50 ms": float(np.percentile(ms, 50)), "p99 ms": float(np.percentile(ms, 99))}


def parse_wrk(stdout: str) -> dict:
    """The ``WRK {...}`` line our Lua ``done()`` prints, as req/s, p50/p99 ms and error counts."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith("WRK ")]
    if not lines:
        raise ValueError(f"no WRK line in wrk's output:\n{stdout[-2000:]}")
    w = json.loads(lines[-1].removeprefix("WRK "))
    return {"req/s": w["requests"] / (w["duration_us"] / 1e6), "p50 ms": w["p50_us"] / 1e3,
            "p99 ms": w["p99_us"] / 1e3, "errors": w["status_errors"] + w["socket_errors"]}


def median_table(results: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Median over rounds of every metric, per target (NaNs, a figure a server does not report, stay NaN)."""
    out = {}
    for target, rounds in results.items():
        keys = list(dict.fromkeys(k for r in rounds for k in r))
        out[target] = {k: statistics.median([r.get(k, math.nan) for r in rounds])
                       if not any(math.isnan(r.get(k, math.nan)) for r in rounds) else math.nan for k in keys}
    return out


def check_target(value: float, bound: float, higher_is_better: bool) -> tuple[float, bool]:
    """(value / bound, met): e.g. 12× against a 10× target is (1.2, True); 30 ms against ≤ 25 ms is (1.2, False)."""
    ratio = value / bound
    return ratio, (ratio >= 1.0 if higher_is_better else ratio <= 1.0)


def target_lines(med: dict[str, dict[str, float]], generators: list[str], clients: list[int]) -> list[str]:
    """Issue 10's targets for each of our routes, from the median table: ratio to the target and met/MISSED."""
    lines = []

    def line(what: str, value: float, unit: str, bound: float, higher: bool) -> None:
        if math.isnan(value):
            lines.append(f"    {what}: not measured")
            return
        ratio, met = check_target(value, bound, higher)
        sign = ">=" if higher else "<="
        lines.append(f"    {what}: {value:.2f}{unit} (target {sign} {bound:g}{unit}: {ratio:.2f} of it, "
                     f"{'met' if met else 'MISSED'})")

    for ours in ("ours /predict", "ours /invocations"):
        if ours not in med:
            continue
        o = med[ours]
        lines.append(f"  {ours}:")
        for gen in generators:
            for n in clients:
                key = f"{gen} {n} req/s"
                for other, bound in (("mlflow", REQS_VS_MLFLOW), ("bentoml", REQS_VS_BENTOML)):
                    if other in med:
                        line(f"{key} vs {other}", o.get(key, math.nan) / med[other].get(key, math.nan), "x",
                             bound, True)
            if 8 in clients:
                line(f"{gen} 8 p99", o.get(f"{gen} 8 p99 ms", math.nan), " ms", P99_8_MS, False)
        line("seq p50", o.get("seq p50 ms", math.nan), " ms", SEQ_P50_MS, False)
    return lines


def _fmt(vals: list[float]) -> str:
    vals = [v for v in vals if not math.isnan(v)]
    if not vals:
        return "–"
    med = statistics.median(vals)
    digits = 0 if med >= 100 else (1 if med >= 10 else 2)
    return f"{med:.{digits}f} [{min(vals):.{digits}f}–{max(vals):.{digits}f}]"


def report(results: dict[str, list[dict]]) -> list[str]:
    """Median [min–max] per metric and target, and ours/mlflow, ours/BentoML ratios of the medians."""
    targets = [t for t in TARGETS if results.get(t)] + [t for t in results if t not in TARGETS and results[t]]
    med = median_table({t: results[t] for t in targets})
    keys = list(dict.fromkeys(k for t in targets for r in results[t] for k in r))
    ratios = [(o, b) for o in targets if o.startswith("ours") for b in ("mlflow", "bentoml") if b in targets]
    short = {"ours /predict": "pred", "ours /invocations": "inv", "mlflow": "mlflow", "bentoml": "bento"}
    w = 21
    head = f"{'metric':<20}" + "".join(f"{t:>{w}}" for t in targets)
    head += "".join(f"{short.get(o, o) + '/' + short[b]:>12}" for o, b in ratios)
    lines = [head]
    for k in keys:
        row = f"{k:<20}" + "".join(f"{_fmt([r.get(k, math.nan) for r in results[t]]):>{w}}" for t in targets)
        for o, b in ratios:
            x, y = med[o].get(k, math.nan), med[b].get(k, math.nan)
            row += f"{'–':>12}" if math.isnan(x) or math.isnan(y) or y == 0 else f"{x / y:>11.2f}x"
        lines.append(row)
    return lines


# ---------------------------------------------------------------- model and rows
def train_and_register(root: Path, seed: int) -> tuple[str, dict]:
    """Fit the churn HGB pipeline on 4 generated days, log + register it as models:/churn/1 and pickle it to
    ``root/pipeline.pkl``; return (tracking URI, rows)."""
    import pickle

    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    from mlops_assets.data.generators.registry import generate_batch
    from mlops_assets.features.churn import INPUT_COLUMNS
    from mlops_assets.features.transforms import build_features
    from mlops_assets.resources.tracking import SKOPS_TRUSTED_TYPES
    from mlops_assets.spec import load_spec
    from mlops_assets.training.training_set import fit_candidate

    spec = load_spec(ROOT / "projects" / "churn.yaml")
    uri = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    bounds = spec.schema.bounds()
    raw = pd.concat([generate_batch(spec.source, d, rows=2000, seed=seed + i, bounds=bounds) for i, d in enumerate(DAYS)],
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
    (root / "pipeline.pkl").write_bytes(pickle.dumps(pipeline))

    held_out = generate_batch(spec.source, EVAL_DAY, rows=1000, seed=seed + 100, bounds=bounds).reset_index(drop=True)
    feats = build_features(spec, held_out)
    fields = ["customer_id", *INPUT_COLUMNS]
    # what a client sends: JSON values (NaN -> null); round-tripped so every side sees the exact same numbers
    ours = json.loads(json.dumps([{k: (None if isinstance(v, float) and math.isnan(v) else v)
                                   for k, v in r.items()} for r in held_out[fields].to_dict(orient="records")]))
    theirs = json.loads(json.dumps([[v.item() if isinstance(v, np.generic) else v for v in row]
                                    for row in feats.itertuples(index=False)]))
    columns = list(feats.columns)
    return uri, {"ours": ours, "fields": fields, "mlflow": theirs, "columns": columns, "features": feats,
                 "bentoml": [dict(zip(columns, r)) for r in theirs]}


# ---------------------------------------------------------------- processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, path: str, proc: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
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


def ensure_bentoml_venv() -> Path:
    """Create or reuse ``.venv-bench-bentoml`` (BentoML + this venv's sklearn/pandas/numpy); return its bin dir.
    Raises RuntimeError saying why when it cannot be set up."""
    from importlib.metadata import version

    pins = [f"bentoml=={BENTOML_VERSION}", *(f"{p}=={version(p)}" for p in SAME_AS_OURS)]
    python = BENTOML_VENV / "bin" / "python"
    probe = ("import importlib.metadata as m, sys; want = dict(a.split('==') for a in sys.argv[1:]); "
             "sys.exit(any(m.version(p) != v for p, v in want.items()))")
    check = [str(python), "-c", probe, *pins]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python.parent
    print(f"setting up {BENTOML_VENV} with {' '.join(pins)} ...", flush=True)
    steps = [[sys.executable, "-m", "venv", str(BENTOML_VENV)],
             [str(python), "-m", "pip", "install", "-q", *pins], check]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(step)} failed:\n{proc.stderr[-2000:]}")
    return python.parent


#: our server under ``--tail``: the real ``python -m mlops_assets.serving`` with every GC pause >= 1 ms on stderr
GC_PROBE = r"""
import gc, sys, time
_t = [0.0]
def _probe(phase, info):
    if phase == "start":
        _t[0] = time.perf_counter()
    else:
        ms = (time.perf_counter() - _t[0]) * 1e3
        if ms >= 1.0:
            print(f"GCPAUSE gen={info['generation']} ms={ms:.1f} collected={info['collected']}", file=sys.stderr,
                  flush=True)
gc.callbacks.append(_probe)
from mlops_assets.serving.__main__ import main
main(sys.argv[1:])
"""


@contextlib.contextmanager
def server(kind: str, tracking_uri: str, root: Path, port: int, extra: list[str] = (), *, gc_probe: bool = False,
           bentoml_bin: Path | None = None, name: str | None = None):
    """Start one server in its own session (process group); yield (port, pid, log); SIGINT the group and wait."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "OMP_NUM_THREADS": "1",
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MLOPS_SERVING_TOKEN", None)
    cwd = ROOT
    if kind == "ours":
        env["PYTHONPATH"] = str(ROOT)
        head = [sys.executable, "-c", GC_PROBE] if gc_probe else [sys.executable, "-m", "mlops_assets.serving"]
        cmd = [*head, "--project", str(ROOT / "projects" / "churn.yaml"),
               "--log-dir", str(root / f"predlog-{name or kind}"), "--model-uri", "models:/churn/1",
               "--port", str(port), "--log-level", "warning", *extra]
        ready = "/ready"
    elif kind == "mlflow":
        cmd = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", "models:/churn/1", "--env-manager", "local",
               "-p", str(port), "-h", "127.0.0.1"]
        ready = "/ping"
    else:
        env.update(PATH=f"{bentoml_bin}{os.pathsep}{os.environ.get('PATH', '')}", BENTOML_HOME=str(root / "bentoml"),
                   BENTOML_DO_NOT_TRACK="True", BENCH_PIPELINE=str(root / "pipeline.pkl"),
                   BENCH_COLUMNS=os.environ["BENCH_COLUMNS"])
        env.pop("VIRTUAL_ENV", None)
        cmd = [str(bentoml_bin / "bentoml"), "serve", "bentoml_service:ChurnService", "--port", str(port),
               "--host", "127.0.0.1"]
        cwd, ready = ROOT / "bench", "/readyz"
    log = root / f"{name or kind}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(port, ready, proc, log)
        yield port, proc.pid, log
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


# ---------------------------------------------------------------- load generators
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


def bodies(target: str, rows: dict) -> tuple[str, list[bytes], bytes]:
    """(path, single-row bodies, one 1,000-row body) in the target's own input shape."""
    if target == "ours /predict":
        one = [json.dumps({"records": [r]}).encode() for r in rows["ours"]]
        return "/predict", one, json.dumps({"records": rows["ours"]}).encode()
    if target == "ours /invocations":
        cols = rows["fields"]
        data = [[r[c] for c in cols] for r in rows["ours"]]
        one = [json.dumps({"dataframe_split": {"columns": cols, "data": [r]}}).encode() for r in data]
        return "/invocations", one, json.dumps({"dataframe_split": {"columns": cols, "data": data}}).encode()
    if target == "bentoml":
        one = [json.dumps({"data": [r]}).encode() for r in rows["bentoml"]]
        return "/predict", one, json.dumps({"data": rows["bentoml"]}).encode()
    cols = rows["columns"]
    one = [json.dumps({"dataframe_split": {"columns": cols, "data": [r]}}).encode() for r in rows["mlflow"]]
    return "/invocations", one, json.dumps({"dataframe_split": {"columns": cols, "data": rows["mlflow"]}}).encode()


def python_load(port: int, path: str, one: list[bytes], clients: int, seconds: float) -> dict:
    """``clients`` threads, one keep-alive connection each, closed-loop single-row requests for ``seconds``."""
    stop = threading.Event()
    lat: list[list[float]] = [[] for _ in range(clients)]
    failures: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            cl = Client(port, path)
            n = k * 97
            while not stop.is_set():
                lat[k].append(cl.post(one[n % len(one)])[0])
                n += 1
            cl.close()
        except BaseException as err:  # noqa: BLE001 - reported by the caller
            failures.append(err)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(60)
    elapsed = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"a client failed: {failures[0]}")
    return {**latency_summary(np.concatenate([np.array(x) for x in lat]), elapsed), "errors": 0}


def wrk_load(port: int, path: str, one: list[bytes], clients: int, seconds: float, workdir: Path) -> dict:
    """``wrk`` with ``clients`` connections (2 threads) posting the bodies in turn for ``seconds``."""
    lua, data = workdir / "post.lua", workdir / f"bodies-{port}-{path.strip('/')}.jsonl"
    if not lua.exists():
        lua.write_text(WRK_LUA)
    if not data.exists():
        data.write_bytes(b"\n".join(one) + b"\n")
    cmd = ["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "30s",
           "-s", str(lua), f"http://127.0.0.1:{port}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120,
                          env={**os.environ, "BENCH_BODIES": str(data), "BENCH_PATH": path})
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return parse_wrk(proc.stdout)


def _batch_totals(port: int, kind: str) -> tuple[float, float]:
    """(micro-batches, rows batched) so far, from our server's /metrics (NaNs for the others)."""
    if kind != "ours":
        return math.nan, math.nan
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    got = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
           if line.startswith(("mlops_serving_batch_rows_count", "mlops_serving_batch_rows_sum"))}
    return got.get("mlops_serving_batch_rows_count", math.nan), got.get("mlops_serving_batch_rows_sum", math.nan)


def concurrent(kind: str, port: int, pid: int, path: str, one: list[bytes], gen: str, clients: int,
               seconds: float, workdir: Path) -> dict:
    """One concurrent phase with load generator ``gen``: req/s, p50, p99, cpu µs/req, rows/batch."""
    b0, cpu0 = _batch_totals(port, kind), _cpu_seconds(pid)
    got = (python_load(port, path, one, clients, seconds) if gen == "py"
           else wrk_load(port, path, one, clients, seconds, workdir))
    cpu, b1 = _cpu_seconds(pid) - cpu0, _batch_totals(port, kind)
    requests = got["req/s"] * seconds
    if got["errors"]:
        print(f"    WARNING: {gen} {clients} on {kind} {path}: {got['errors']} errors (not 200 or socket)",
              flush=True)
    return {f"{gen} {clients} {k}": v for k, v in (
        ("req/s", got["req/s"]), ("p50 ms", got["p50 ms"]), ("p99 ms", got["p99 ms"]),
        ("cpu µs/req", cpu / requests * 1e6 if requests else math.nan),
        ("rows/batch", (b1[1] - b0[1]) / (b1[0] - b0[0]) if b1[0] > b0[0] else math.nan))}


def run_phases(kind: str, port: int, pid: int, path: str, one: list[bytes], big: bytes, args,
               generators: list[str], workdir: Path) -> dict:
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
    lat, big_lat = np.array(lat) * 1e3, np.array(big_lat) * 1e3
    out = {"seq p50 ms": float(np.percentile(lat, 50)), "seq p99 ms": float(np.percentile(lat, 99)),
           "1000 rows p50 ms": float(np.percentile(big_lat, 50)),
           "1000 rows rows/s": 1000 / (float(np.median(big_lat)) / 1e3)}
    for gen in generators:
        for n in args.clients:
            out.update(concurrent(kind, port, pid, path, one, gen, n, args.seconds, workdir))
    return out


# ---------------------------------------------------------------- correctness
def check_predictions(ports: dict, rows: dict, model_uri: str) -> list[str]:
    """Same inputs → same classes on every server and in-process; ours' and BentoML's probabilities exact."""
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(model_uri)
    proba = model.predict_proba(rows["features"])
    classes = model.predict(rows["features"])
    pos = int(np.flatnonzero(model.classes_ == 1)[0])

    def post(server: str, target: str, body: bytes | None = None):
        path, _, big = bodies(target, rows)
        got = json.loads(Client(ports[server], path).post(big if body is None else body)[1])
        return got if server == "bentoml" else got["predictions"]  # BentoML answers the API's return value

    checks: dict[str, bool] = {}
    notes = []
    if "ours" in ports:
        ours = post("ours", "ours /predict")
        ours_inv = post("ours", "ours /invocations")
        singles = [post("ours", "ours /predict", json.dumps({"records": [r]}).encode())[0] for r in rows["ours"][:50]]
        ours_cls, ours_p = np.array([p["prediction"] for p in ours]), np.array([p["probability"] for p in ours])
        checks["ours /predict classes == in-process predict"] = np.array_equal(ours_cls, classes)
        checks["ours /invocations classes == in-process predict"] = np.array_equal(np.array(ours_inv), classes)
        checks["ours probabilities == in-process predict_proba (exact)"] = np.array_equal(ours_p, proba[:, pos])
        checks["ours single-row probabilities == predict_proba (exact, 50 rows)"] = np.array_equal(
            np.array([p["probability"] for p in singles]), proba[:50, pos])
        notes.append(f"{int(ours_cls.sum())} predicted churners; max |ours - predict_proba| = "
                     f"{float(np.abs(ours_p - proba[:, pos]).max()):.3g}")
    if "mlflow" in ports:
        checks["mlflow classes == in-process predict"] = np.array_equal(np.array(post("mlflow", "mlflow")), classes)
    if "bentoml" in ports:
        bento = np.array(post("bentoml", "bentoml"))
        singles = np.array([post("bentoml", "bentoml", json.dumps({"data": [r]}).encode())[0]
                            for r in rows["bentoml"][:50]])
        checks["bentoml classes == in-process predict"] = np.array_equal(bento[:, 0], classes)
        checks["bentoml probabilities == in-process predict_proba (exact)"] = np.array_equal(bento[:, 1], proba[:, pos])
        checks["bentoml single-row probabilities == predict_proba (exact, 50 rows)"] = np.array_equal(
            singles[:, 1], proba[:50, pos])
    lines = [f"  {'OK ' if ok else 'FAIL'} {name}" for name, ok in checks.items()]
    lines += [f"  (1000 rows; {n})" for n in notes]
    if not all(checks.values()):
        lines.append("  PREDICTIONS DIFFER")
    return lines


# ---------------------------------------------------------------- the tail (--tail)
TAIL_VARIANTS = {  # name -> options for our server
    "default": [],
    "no compaction": ["--log-flush-s", "1e9"],
    "no gc tuning": ["--no-gc-freeze"],
}


def _gc_pauses(log: Path, offset: int) -> list[tuple[int, float]]:
    text = log.read_bytes()[offset:].decode(errors="replace")
    out = []
    for line in text.splitlines():
        if line.startswith("GCPAUSE "):
            f = dict(kv.split("=") for kv in line.split()[1:])
            out.append((int(f["gen"]), float(f["ms"])))
    return out


def tail(args, tracking: str, rows: dict, root: Path, generators: list[str]) -> None:
    """Ours' 8-client tail under each variant and load generator, with the server's GC pauses in the phase."""
    path, one, _ = bodies("ours /predict", rows)
    results: dict[str, list[dict]] = {}
    with contextlib.ExitStack() as stack:
        procs = {name: stack.enter_context(server("ours", tracking, root,
                                                  args.port_base + i if args.port_base else _free_port(),
                                                  [*opts, *args.ours_arg], gc_probe=True, name=f"ours-{i}"))
                 for i, (name, opts) in enumerate(TAIL_VARIANTS.items())}
        for r in range(args.rounds):
            order = list(procs) if r % 2 == 0 else list(procs)[::-1]
            for name in order:
                port, pid, log = procs[name]
                c = Client(port, path)
                for b in one[:30]:
                    c.post(b)
                c.close()
                got: dict = {}
                for gen in generators:
                    for n in args.clients:
                        offset = log.stat().st_size
                        got.update(concurrent("ours", port, pid, path, one, gen, n, args.seconds, root))
                        pauses = _gc_pauses(log, offset)
                        full = [ms for g, ms in pauses if g == 2]
                        got[f"{gen} {n} gc2 count"] = float(len(full))
                        got[f"{gen} {n} gc2 max ms"] = max(full, default=0.0)
                        got[f"{gen} {n} gc ms/s"] = sum(ms for _, ms in pauses) / args.seconds
                results.setdefault(name, []).append(got)
                print(f"round {r + 1} {name:<14} " + ", ".join(f"{k}={v:.1f}" for k, v in got.items()
                                                              if "p99" in k or "gc2" in k), flush=True)
    print(f"\nours /predict, median over {args.rounds} rounds [min–max]; gc = the server's collections >= 1 ms "
          "in the phase (gc2 = full collections)")
    print("\n".join(report(results)))


# ---------------------------------------------------------------- driver
def _ports(base: int, kinds) -> dict[str, int]:
    return {k: (base + SERVERS.index(k) if base else _free_port()) for k in kinds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0, help="time bound of each phase")
    ap.add_argument("--clients", default="8,32", help="concurrent client counts, comma-separated")
    ap.add_argument("--sequential", type=int, default=400, help="single-row requests per round (count bound)")
    ap.add_argument("--batches", type=int, default=12, help="1,000-row requests per round (count bound)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--port-base", type=int, default=0,
                    help="ours on N, mlflow on N+1, BentoML on N+2 (default 0: free ports)")
    ap.add_argument("--keep", action="store_true", help="keep the temp MLflow store and server logs")
    ap.add_argument("--only", choices=SERVERS, help="measure one server only (no comparison)")
    ap.add_argument("--skip-bentoml", action="store_true", help="no BentoML (no venv set up)")
    ap.add_argument("--no-wrk", action="store_true", help="Python clients only")
    ap.add_argument("--tail", action="store_true", help="the 8-client p99 investigation on ours (bench/README.md)")
    ap.add_argument("--ours-arg", action="append", default=[], help="extra option for our server (repeatable)")
    args = ap.parse_args()
    args.clients = [int(x) for x in args.clients.split(",") if x]

    start = time.perf_counter()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)",
          flush=True)
    generators = ["py"]
    if args.no_wrk:
        print("wrk: skipped (--no-wrk)")
    elif shutil.which("wrk") is None:
        print(f"wrk: not on PATH, wrk figures skipped (install it with `{WRK_INSTALL}`)", flush=True)
    else:
        generators.append("wrk")
    kinds = [args.only] if args.only else [k for k in SERVERS if not (k == "bentoml" and args.skip_bentoml)]
    if args.tail:
        kinds = ["ours"]
    bentoml_bin, bentoml_note = None, ""
    if "bentoml" in kinds:
        try:
            bentoml_bin = ensure_bentoml_venv()
        except RuntimeError as err:
            bentoml_note = f"BentoML NOT RUN: {err}"
            print(bentoml_note, flush=True)
            kinds.remove("bentoml")
    root = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        t = time.perf_counter()
        tracking, rows = train_and_register(root, args.seed)
        os.environ["BENCH_COLUMNS"] = ",".join(rows["columns"])
        print(f"trained + registered models:/churn/1 in {time.perf_counter() - t:.1f}s ({root})", flush=True)
        ports = _ports(args.port_base, kinds)
        if args.tail:
            tail(args, tracking, rows, root, generators)
            return
        targets = [t for t in TARGETS if SERVER_OF[t] in kinds]
        results: dict[str, list[dict]] = {t: [] for t in targets}
        with contextlib.ExitStack() as stack:
            procs = {k: stack.enter_context(server(k, tracking, root, ports[k], args.ours_arg if k == "ours" else [],
                                                   bentoml_bin=bentoml_bin))
                     for k in kinds}
            print(f"ports: {', '.join(f'{k} {p[0]}' for k, p in procs.items())}", flush=True)
            print("predictions:", flush=True)
            print("\n".join(check_predictions({k: v[0] for k, v in procs.items()}, rows, "models:/churn/1")),
                  flush=True)
            payload = {t: bodies(t, rows) for t in targets}
            for t, (_, one, big) in payload.items():
                print(f"  {t}: single-row body {len(one[0])} B, 1000-row body {len(big) / 1e3:.0f} kB")
            for r in range(args.rounds):
                order = targets if r % 2 == 0 else targets[::-1]
                for target in order:
                    kind = SERVER_OF[target]
                    port, pid, _ = procs[kind]
                    path, one, big = payload[target]
                    got = run_phases(kind, port, pid, path, one, big, args, generators, root)
                    results[target].append(got)
                    print(f"round {r + 1} {target:<17} load {os.getloadavg()[0]:.2f} "
                          + ", ".join(f"{k}={v:.1f}" for k, v in got.items() if not math.isnan(v)), flush=True)
        print()
        print(f"median over {args.rounds} rounds [min–max]; ours = raw records (features, validation and the "
              "prediction log server-side), mlflow and bentoml = feature columns; ratios = ours / other")
        print("\n".join(report(results)))
        if not args.only:
            print("targets (issue 10), medians over rounds:")
            print("\n".join(target_lines(median_table(results), generators, args.clients)))
        if bentoml_note:
            print(bentoml_note)
    finally:
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"total {time.perf_counter() - start:.0f}s")
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
