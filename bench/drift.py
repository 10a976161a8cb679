"""Benchmark: drift of a 1M-row window against a 1M-row reference, 20 numeric + 5 categorical columns.

(a) ours: the reference profile built once (timed on its own), then the check of the window against the stored
    profile (JSON) — the number the targets are about;
(b) a per-column ``scipy.stats.ks_2samp`` + ``scipy.stats.chi2_contingency`` loop on the raw data;
(c) Evidently's default data-drift report (``DataDriftPreset()``), in its own venv at ``.venv-bench-evidently``
    (created on first use: evidently's pins clash with the project's), run in a subprocess.

Every approach runs in its own subprocess reading the same parquet files, so peak memory (``ru_maxrss``) is
per approach; "after load" is the peak once the data is read, before the timed work.

Run from the repository root::

    .venv/bin/python bench/drift.py [--rows 1000000] [--skip-evidently]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVIDENTLY_VENV = ROOT / ".venv-bench-evidently"
EVIDENTLY_PINS = ["evidently==0.7.23", "pandas<3", "pyarrow"]  # evidently 0.7.23 breaks on pandas 3
N_NUMERIC, N_CATEGORICAL = 20, 5
NUMERIC = [f"num_{i:02d}" for i in range(N_NUMERIC)]
CATEGORICAL = [f"cat_{i}" for i in range(N_CATEGORICAL)]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Timer:
    """Wall and CPU seconds of a block (the machine is shared: CPU time is the steadier figure)."""

    def __enter__(self) -> "_Timer":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def _emit(**result) -> None:
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- data (parent process)
def make_data(rows: int, directory: Path, seed: int = 0) -> None:
    """Reference and window parquet files; the window has 3 numeric and 1 categorical column shifted."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cats = [f"v{j}" for j in range(12)]
    base = rng.dirichlet(np.ones(12))
    for name, drift in (("reference", False), ("current", True)):
        cols = {}
        for i, c in enumerate(NUMERIC):
            shift = 0.3 if drift and i < 3 else 0.0
            cols[c] = rng.normal(shift, 1, rows) if i % 2 == 0 else rng.lognormal(shift, 0.7, rows)
        for i, c in enumerate(CATEGORICAL):
            p = base if not (drift and i == 0) else np.roll(base, 1)
            cols[c] = np.asarray(cats, dtype=object)[rng.choice(12, rows, p=p)]
        pd.DataFrame(cols).to_parquet(directory / f"{name}.parquet")


# ---------------------------------------------------------------- workers (each in its own process)
def worker_ours_build(data: Path) -> None:
    import pandas as pd

    from mlops_assets.monitoring.profile import ReferenceProfile

    ref = pd.read_parquet(data / "reference.parquet")
    after_load = _peak_mb()
    with _Timer() as timer:
        profile = ReferenceProfile.from_frame(ref, numeric=NUMERIC, categorical=CATEGORICAL)
    text = json.dumps(profile.to_dict())
    (data / "profile.json").write_text(text)
    _emit(name="ours_build", seconds=timer.wall, cpu_seconds=timer.cpu, after_load_mb=after_load,
          peak_mb=_peak_mb(), profile_kb=len(text) / 1024)


def worker_ours_check(data: Path) -> None:
    import pandas as pd

    from mlops_assets.monitoring.drift import compute_drift
    from mlops_assets.monitoring.profile import ReferenceProfile

    cur = pd.read_parquet(data / "current.parquet")
    after_load = _peak_mb()
    timers = []
    for _ in range(3):  # best of 3, each from the stored JSON (loading it is part of the check)
        with _Timer() as timer:
            profile = ReferenceProfile.from_dict(json.loads((data / "profile.json").read_text()))
            report = compute_drift(profile, cur)
        timers.append(timer)
    best = min(timers, key=lambda t: t.cpu)
    _emit(name="ours_check", seconds=best.wall, cpu_seconds=best.cpu, after_load_mb=after_load, peak_mb=_peak_mb(),
          flagged=report.drifted_features)


def worker_scipy(data: Path) -> None:
    import numpy as np
    import pandas as pd
    from scipy import stats

    ref, cur = pd.read_parquet(data / "reference.parquet"), pd.read_parquet(data / "current.parquet")
    after_load = _peak_mb()
    p_values = {}
    with _Timer() as timer:
        for c in NUMERIC:
            p_values[c] = stats.ks_2samp(ref[c].dropna().to_numpy(), cur[c].dropna().to_numpy()).pvalue
        for c in CATEGORICAL:
            table = pd.concat([ref[c].value_counts(), cur[c].value_counts()], axis=1).fillna(0).to_numpy().T
            p_values[c] = stats.chi2_contingency(table).pvalue
    _emit(name="scipy_loop", seconds=timer.wall, cpu_seconds=timer.cpu, after_load_mb=after_load, peak_mb=_peak_mb(),
          flagged=[c for c, p in p_values.items() if np.asarray(p) < 0.05])


def worker_evidently(data: Path) -> None:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur = pd.read_parquet(data / "reference.parquet"), pd.read_parquet(data / "current.parquet")
    after_load = _peak_mb()
    with _Timer() as timer:
        definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(cur, data_definition=definition), Dataset.from_pandas(ref, data_definition=definition)
        )
        result = snapshot.dict()
    flagged = []
    for metric in result["metrics"]:
        config = metric.get("config", {})
        value = metric.get("value")
        if config.get("type", "").endswith("ValueDrift") and isinstance(value, (int, float)):
            threshold = config.get("threshold")
            method = str(config.get("method", ""))
            # distance methods drift above the threshold, p-value methods below it
            drifted = value < threshold if "p_value" in method else value >= threshold
            if threshold is not None and drifted:
                flagged.append(config.get("column"))
    _emit(name="evidently", seconds=timer.wall, cpu_seconds=timer.cpu, after_load_mb=after_load, peak_mb=_peak_mb(),
          flagged=flagged)


WORKERS = {"ours_build": worker_ours_build, "ours_check": worker_ours_check, "scipy_loop": worker_scipy,
           "evidently": worker_evidently}


# ---------------------------------------------------------------- driver
def _run(python: Path | str, worker: str, data: Path, timeout: float) -> dict:
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", worker, "--data", str(data)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker {worker} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def ensure_evidently_venv() -> Path:
    """Create or reuse the evidently venv; raise RuntimeError saying why when it cannot be set up."""
    python = EVIDENTLY_VENV / "bin" / "python"
    check = [str(python), "-c", "import evidently, pyarrow; assert evidently.__version__ == '0.7.23'"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"setting up {EVIDENTLY_VENV} with {' '.join(EVIDENTLY_PINS)} ...", flush=True)
    steps = [[sys.executable, "-m", "venv", str(EVIDENTLY_VENV)],
             [str(python), "-m", "pip", "install", "-q", *EVIDENTLY_PINS], check]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(step)} failed:\n{proc.stderr[-2000:]}")
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--evidently-timeout", type=float, default=3600)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        WORKERS[args.worker](args.data)
        return

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        data = Path(tmp)
        print(f"data: {args.rows:,} reference x {args.rows:,} current rows, {N_NUMERIC} numeric + "
              f"{N_CATEGORICAL} categorical columns (3 numeric and 1 categorical shifted)", flush=True)
        make_data(args.rows, data)
        for worker in ("ours_build", "ours_check", "scipy_loop"):
            results[worker] = _run(sys.executable, worker, data, timeout=3600)
            print(f"  {worker}: {results[worker]['cpu_seconds']:.2f} s CPU", flush=True)
        evidently_note = "skipped (--skip-evidently)"
        if not args.skip_evidently:
            try:
                results["evidently"] = _run(ensure_evidently_venv(), "evidently", data, args.evidently_timeout)
                evidently_note = ""
            except (RuntimeError, subprocess.TimeoutExpired) as err:
                evidently_note = f"NOT RUN: {err}"

    print(f"\n{'approach':<32}{'wall s':>9}{'CPU s':>9}{'peak MB':>9}{'after load MB':>15}  flagged")
    labels = {"ours_build": "ours: build profile (once)", "ours_check": "ours: check vs stored profile",
              "scipy_loop": "scipy ks_2samp + chi2 loop", "evidently": "evidently DataDriftPreset"}
    for key, label in labels.items():
        if key in results:
            r = results[key]
            flagged = r.get("flagged", f"profile {r.get('profile_kb', 0):.0f} KB of JSON")
            print(f"{label:<32}{r['seconds']:>9.2f}{r['cpu_seconds']:>9.2f}{r['peak_mb']:>9.0f}"
                  f"{r['after_load_mb']:>15.0f}  {flagged}")
    for key, label, target in (("scipy_loop", "scipy loop", 5), ("evidently", "evidently", 100)):
        if key in results:
            ratios = [results[key][k] / results["ours_check"][k] for k in ("seconds", "cpu_seconds")]
            print(f"ours vs {label}: {ratios[0]:.1f}x faster (wall), {ratios[1]:.1f}x (CPU); target >= {target}x")
    if "evidently" not in results:
        print(f"evidently: {evidently_note}")


if __name__ == "__main__":
    main()
