"""Ingest benchmark: churn raw -> validated -> features for one partition, per stage, against a plain-pandas baseline.

Each Dagster stage runs in its own child process (``--stage raw|validated|features``) against one persistent
temp instance and data directory, so time and peak RSS are per stage; the partition's upstream outputs come
from the IO manager's Parquet files. The baseline does the same work (generate, validate, features, Parquet)
in one process without Dagster or dbt.

A second part times a backfill: ``--backfill-days`` (default 21) churn partitions of ``--backfill-rows`` (2,000) rows
each through the ingest chain as one run (``ingest_range``: single-run backfill policies, dbt once), as one run per
partition (dbt once per day, as before), and the plain-pandas baseline; plus the definitions' import and build time.

Usage::

    .venv/bin/python bench/ingest.py                       # 100k and 1M rows, then the 21-partition backfill
    .venv/bin/python bench/ingest.py --rows --backfill-days 21   # the backfill part only
    .venv/bin/python bench/ingest.py --rows 1000000 --keep
    .venv/bin/python bench/ingest.py --rows 1000000 --profile /tmp/prof   # cProfile each Dagster stage
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO_ROOT / "projects" / "churn.yaml"
PROJECT = "churn"
STAGES = ("raw", "validated", "features")
#: One partition per row count, so both sizes live side by side in the shared instance and data dir.
FIRST_PARTITION = datetime.date(2026, 1, 5)
TARGET_SECONDS = 30.0
TARGET_RSS_BYTES = 2 * 1024**3
RESULT_PREFIX = "BENCH_RESULT "


# ---------------------------------------------------------------- memory helpers (Linux)
def _maxrss(who: int) -> int:
    """Peak RSS in bytes from getrusage (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(who).ru_maxrss * 1024


def _cpu_seconds() -> float:
    """User + system CPU of this process and its waited-for children."""
    return sum(
        u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def _current_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0); False when not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class DescendantPeak:
    """Polls /proc for this process's descendants and keeps the highest VmHWM seen (true peak of an exec'd child).

    ``RUSAGE_CHILDREN`` counts a child's memory from before its ``exec`` too, so a tiny helper spawned from a
    300 MB Python process reports ~300 MB there; VmHWM of the exec'd image does not have that artefact.
    """

    def __init__(self, interval: float = 0.1):
        import threading

        self.peak, self._interval, self._stop = 0, interval, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self._interval):
            parents, hwm = {}, {}
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/status") as f:
                        for line in f:
                            if line.startswith("PPid:"):
                                parents[int(entry.name)] = int(line.split()[1])
                            elif line.startswith("VmHWM:"):
                                hwm[int(entry.name)] = int(line.split()[1]) * 1024
                except OSError:
                    continue
            for pid, value in hwm.items():
                p, seen = parents.get(pid), 0
                while p and p != me and seen < 64:
                    p, seen = parents.get(p), seen + 1
                if p == me and pid != me:
                    self.peak = max(self.peak, value)


def _emit(payload: dict) -> None:
    print(RESULT_PREFIX + json.dumps(payload), flush=True)


# ---------------------------------------------------------------- child: one Dagster stage
def run_stage(stage: str, rows: int, home: str, data: str, partition: str, profile: str | None) -> None:
    os.environ["MLOPS_DATA_DIR"] = data  # dbt's profiles.yml puts the DuckDB warehouse here
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    t_start = time.perf_counter()

    from dagster import AssetKey, DagsterInstance, RunConfig, materialize

    from mlops_assets import constants as C
    from mlops_assets.data.assets import RawDataConfig
    from mlops_assets.definitions import default_resources
    from mlops_assets.project_assets import build_data_assets
    from mlops_assets.resources.dbt import cached_manifest
    from mlops_assets.spec import load_spec

    spec = load_spec(SPEC_PATH)
    raw_def, validated_def, features_def = build_data_assets(spec, cached_manifest())
    selection = {
        "raw": [AssetKey([spec.name, C.RAW_DATA])],
        "validated": [AssetKey([spec.name, C.VALIDATED_DATA])],
        "features": list(features_def.keys),  # the dbt multi-asset: stg_churn and churn/features (+ dbt tests)
    }[stage]
    run_config = RunConfig(ops={raw_def.op.name: RawDataConfig(rows=rows)}) if stage == "raw" else None
    instance = DagsterInstance.local_temp(tempdir=home)
    setup_s = time.perf_counter() - t_start
    rss_before = _current_rss()

    def go():
        return materialize(
            [raw_def, validated_def, features_def],
            selection=selection,
            partition_key=partition,
            instance=instance,
            resources=default_resources(data),
            run_config=run_config,
            raise_on_error=False,
        )

    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    with DescendantPeak() as sampler:
        if profile:
            import cProfile

            prof = cProfile.Profile()
            result = prof.runcall(go)
            Path(profile).mkdir(parents=True, exist_ok=True)
            prof.dump_stats(str(Path(profile) / f"{stage}_{rows}.prof"))
        else:
            result = go()
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0

    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                print(event.event_specific_data.error.to_string(), file=sys.stderr)
        sys.exit(f"stage {stage} ({rows} rows) failed")

    # dagster-dbt records each dbt node's execution time: where the features stage's time goes inside dbt.
    dbt_nodes = {}
    for mat in result.get_asset_materialization_events():
        meta = mat.materialization.metadata
        if "Execution Duration" in meta:
            dbt_nodes[mat.asset_key.to_user_string()] = round(float(meta["Execution Duration"].value), 3)
    for check in result.get_asset_check_evaluations():
        if "Execution Duration" in check.metadata:
            dbt_nodes[check.check_name] = round(float(check.metadata["Execution Duration"].value), 3)

    _emit(
        {
            "stage": stage,
            "rows": rows,
            "seconds": seconds,
            "setup_seconds": setup_s,
            "cpu_seconds": cpu,
            "rss_before": rss_before,
            "peak_self": _maxrss(resource.RUSAGE_SELF),
            "peak_children": _maxrss(resource.RUSAGE_CHILDREN),
            "children_hwm": sampler.peak,
            "dbt_nodes": dbt_nodes,
        }
    )


# ---------------------------------------------------------------- child: the plain baseline
def run_baseline(rows: int, out_dir: str, partition: str) -> None:
    """generate -> validate -> features, Parquet after each, in one process: pandas/pandera only."""
    t_start = time.perf_counter()
    import pandas as pd

    from mlops_assets.data.generators.registry import generate_batch
    from mlops_assets.data.schema import validate_batch
    from mlops_assets.features.churn import compute_churn_features
    from mlops_assets.spec import load_spec

    spec = load_spec(SPEC_PATH)
    day = datetime.date.fromisoformat(partition)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    setup_s = time.perf_counter() - t_start
    per_step_peak = _reset_peak_rss()
    stages = {}

    def step(name: str, fn):
        if per_step_peak:
            _reset_peak_rss()
        t0 = time.perf_counter()
        value = fn()
        stages[name] = {"seconds": time.perf_counter() - t0, "peak_self": _maxrss(resource.RUSAGE_SELF)}
        return value

    def raw_step():
        frame = generate_batch(spec.source, day, rows=rows, bounds=spec.schema.bounds())
        frame.to_parquet(out / "raw.parquet", index=False)
        return frame

    def validated_step():
        result = validate_batch(spec.schema_, raw)
        if not result.passed or result.validated is None:
            raise RuntimeError(f"baseline validation failed: {result.failure_summary()}")
        result.validated.to_parquet(out / "validated.parquet", index=False)
        return result.validated

    def features_step():
        # The same frame the dbt model writes: keys, event_date, features, label.
        features = compute_churn_features(validated)
        features.insert(0, "customer_id", validated["customer_id"].to_numpy())
        features.insert(1, "event_time", validated["event_time"].to_numpy())
        features.insert(2, "event_date", validated["event_time"].dt.normalize().to_numpy())
        features["churned"] = validated["churned"].astype("int64").to_numpy()
        features.to_parquet(out / "features.parquet", index=False)
        return features

    raw = step("raw", raw_step)
    validated = step("validated", validated_step)
    del raw
    step("features", features_step)
    _emit({"stage": "baseline", "rows": rows, "setup_seconds": setup_s, "per_step_peak": per_step_peak, "stages": stages})


# ---------------------------------------------------------------- child: a backfill of many partitions
def run_backfill(mode: str, days: int, rows: int, home: str, data: str) -> None:
    """`range`: one ingest run over `days` partitions; `per-day`: one run per partition; `baseline`: plain pandas."""
    from mlops_assets.spec import GeneratorSource, load_spec

    spec = load_spec(SPEC_PATH)
    spec = spec.model_copy(update={"source": GeneratorSource(**{**spec.source.model_dump(), "rows_per_day": rows})})
    keys = [(FIRST_PARTITION + datetime.timedelta(days=30 + i)).isoformat() for i in range(days)]
    t0 = time.perf_counter()
    if mode == "baseline":
        from mlops_assets.data.generators.registry import generate_batch
        from mlops_assets.data.schema import validate_batch
        from mlops_assets.features.churn import compute_churn_features

        out = Path(data)
        for key in keys:
            frame = generate_batch(spec.source, datetime.date.fromisoformat(key), bounds=spec.schema.bounds())
            frame.to_parquet(out / f"raw_{key}.parquet", index=False)
            validated = validate_batch(spec.schema_, frame).validated
            validated.to_parquet(out / f"validated_{key}.parquet", index=False)
            features = compute_churn_features(validated)
            features.insert(0, "customer_id", validated["customer_id"].to_numpy())
            features.to_parquet(out / f"features_{key}.parquet", index=False)
        runs, ingested = 0, len(keys)
    else:
        from dagster import DagsterInstance

        from mlops_assets.definitions import build_definitions, default_resources
        from mlops_assets.ingestion import ingest_range

        defs = build_definitions([spec], default_resources(data))
        instance = DagsterInstance.local_temp(tempdir=home)
        quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
        batches = [keys] if mode == "range" else [[k] for k in keys]
        results = [ingest_range(defs, spec, batch, instance, quiet) for batch in batches]
        runs = sum(len(r.run_ids) for r in results)
        ingested = sum(len(r.ingested) for r in results)
        if ingested != len(keys):
            sys.exit(f"backfill {mode}: {ingested} of {len(keys)} partitions ingested")
    _emit({"stage": f"backfill-{mode}", "seconds": time.perf_counter() - t0, "runs": runs, "ingested": ingested,
           "rows": rows * len(keys)})


def startup_seconds(repeat: int = 3) -> tuple[float, float]:
    """Best-of-`repeat` wall seconds of importing the definitions module, and of importing and building them."""
    def best(code: str) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT, capture_output=True)
            times.append(time.perf_counter() - t0)
        return min(times)

    return best("import mlops_assets.definitions"), best("import mlops_assets.definitions as d; d.defs()")


def backfill_report(days: int, rows: int, root: Path) -> None:
    results = {}
    for mode in ("range", "per-day", "baseline"):
        home, data = root / f"bf_{mode}" / "home", root / f"bf_{mode}" / "data"
        home.mkdir(parents=True)
        data.mkdir(parents=True)
        if mode != "baseline":
            # An existing instance, as a backfill finds it: creating its SQLite schema (~1.5 s, a one-time cost of
            # an installation) is done here, outside the timing; importing Dagster, the definitions and dbt and
            # opening the instance stay inside it.
            subprocess.run([sys.executable, "-c", "import sys; from dagster import DagsterInstance; "
                            "DagsterInstance.local_temp(tempdir=sys.argv[1])", str(home)], check=True)
        results[mode], _ = _child(["--backfill-mode", mode, "--backfill-days", str(days), "--backfill-rows", str(rows),
                                   "--home", str(home), "--data", str(data)])
    imp, build = startup_seconds()
    base = results["baseline"]["seconds"]
    print(f"\n== backfill: {days} churn partitions x {rows:,} rows ==")
    print(f"{'mode':<10} {'runs':>5} {'seconds':>8} {'x baseline':>10}")
    for mode, r in results.items():
        print(f"{mode:<10} {r['runs']:>5} {r['seconds']:>8.1f} {r['seconds'] / base:>10.2f}")
    rng, per = results["range"]["seconds"], results["per-day"]["seconds"]
    print(f"definitions: import {imp:.2f} s, import + build {build:.2f} s (best of 3, fresh interpreter)")
    print(f"BACKFILL days={days} rows_per_day={rows} range_s={rng:.1f} per_day_s={per:.1f} baseline_s={base:.1f} "
          f"range_vs_baseline={rng / base:.2f}x per_day_vs_range={per / rng:.2f}x "
          f"[{'OK' if rng <= 3 * base else 'OVER'} vs 3x] import_s={imp:.2f} import_build_s={build:.2f}")


# ---------------------------------------------------------------- parent: orchestrate and report
def _child(args: list[str]) -> tuple[dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"child {' '.join(args)} failed (exit {proc.returncode})")
    lines = [l for l in proc.stdout.splitlines() if l.startswith(RESULT_PREFIX)]
    return json.loads(lines[-1][len(RESULT_PREFIX) :]), wall


def _gb(n: float) -> str:
    return f"{n / 1024**3:.2f}"


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds / 1000:,.0f}k" if seconds > 0 else "-"


def report(rows: int, dag: dict[str, dict], walls: dict[str, float], base: dict) -> None:
    print(f"\n== {rows:,} rows (partition {dag['raw']['partition']}) ==")
    head = (
        f"{'stage':<10} {'dagster s':>9} {'rows/s':>7} {'cpu s':>6} {'+proc s':>7} {'self GB':>7} {'child GB':>8} {'(HWM)':>6} {'peak GB':>7}"
        f" | {'base s':>6} {'rows/s':>7} {'base GB':>7} | {'time x':>6} {'RSS x':>5}"
    )
    print(head)
    print("-" * len(head))
    tot = {"cpu": 0.0, "s": 0.0, "wall": 0.0, "peak": 0, "bs": 0.0, "bpeak": 0}
    for stage in STAGES:
        d, b = dag[stage], base["stages"][stage]
        peak = max(d["peak_self"], d["peak_children"])
        tot["s"] += d["seconds"]
        tot["cpu"] += d["cpu_seconds"]
        tot["wall"] += walls[stage]
        tot["peak"] = max(tot["peak"], peak)
        tot["bs"] += b["seconds"]
        tot["bpeak"] = max(tot["bpeak"], b["peak_self"])
        print(
            f"{stage:<10} {d['seconds']:>9.2f} {_rate(rows, d['seconds']):>7} {d['cpu_seconds']:>6.2f} {walls[stage] - d['seconds']:>7.2f}"
            f" {_gb(d['peak_self']):>7} {_gb(d['peak_children']):>8} {_gb(d['children_hwm']):>6} {_gb(peak):>7}"
            f" | {b['seconds']:>6.2f} {_rate(rows, b['seconds']):>7} {_gb(b['peak_self']):>7}"
            f" | {d['seconds'] / b['seconds']:>6.1f} {peak / b['peak_self']:>5.1f}"
        )
    print(
        f"{'total':<10} {tot['s']:>9.2f} {_rate(rows, tot['s']):>7} {tot['cpu']:>6.2f} {tot['wall'] - tot['s']:>7.2f}"
        f" {'':>7} {'':>8} {'':>6} {_gb(tot['peak']):>7}"
        f" | {tot['bs']:>6.2f} {_rate(rows, tot['bs']):>7} {_gb(tot['bpeak']):>7}"
        f" | {tot['s'] / tot['bs']:>6.1f} {tot['peak'] / tot['bpeak']:>5.1f}"
    )
    dbt_nodes = dag["features"].get("dbt_nodes") or {}
    if dbt_nodes:
        print("dbt node times (s): " + ", ".join(f"{k}={v:.2f}" for k, v in dbt_nodes.items()))
    verdict = "" if rows >= 1_000_000 else " (targets are for 1M rows; informative only)"
    print(
        f"vs target{verdict}: raw->features {tot['s']:.1f} s / {TARGET_SECONDS:.0f} s = "
        f"{tot['s'] / TARGET_SECONDS:.2f}x [{'OK' if tot['s'] <= TARGET_SECONDS else 'OVER'}] "
        f"(incl. 3 process start-ups {tot['wall']:.1f} s = {tot['wall'] / TARGET_SECONDS:.2f}x); "
        f"peak RSS {_gb(tot['peak'])} GB / 2 GB = {tot['peak'] / TARGET_RSS_BYTES:.2f}x "
        f"[{'OK' if tot['peak'] <= TARGET_RSS_BYTES else 'OVER'}]"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 1_000_000], help="single-partition sizes; none: skip")
    parser.add_argument("--backfill-days", type=int, default=21, help="partitions in the backfill part; 0: skip it")
    parser.add_argument("--backfill-rows", type=int, default=2_000, help="rows per backfill partition")
    parser.add_argument("--backfill-mode", choices=["range", "per-day", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (instance, data, baseline output)")
    parser.add_argument("--profile", metavar="DIR", help="cProfile each Dagster stage's materialize() into DIR")
    parser.add_argument("--stage", choices=[*STAGES, "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--partition", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.backfill_mode:
        return run_backfill(args.backfill_mode, args.backfill_days, args.backfill_rows, args.home, args.data)
    if args.stage == "baseline":
        return run_baseline(args.rows[0], args.data, args.partition)
    if args.stage:
        return run_stage(args.stage, args.rows[0], args.home, args.data, args.partition, args.profile)

    root = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    home, data = root / "dagster_home", root / "data"
    home.mkdir()
    data.mkdir()
    print(f"temp dir {root}; {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f} at start")
    print(
        "dagster s: materialize() of the stage in its own process; cpu s: its user+sys CPU incl. dbt; +proc s: that process's interpreter start-up, "
        "imports and definitions build on top;\nself GB: getrusage(RUSAGE_SELF) peak of that process (Dagster + "
        "pandas); child GB: getrusage(RUSAGE_CHILDREN) peak (the dbt subprocess; on Linux this includes the\n"
        "parent's RSS at spawn); (HWM): the descendants' own VmHWM polled from /proc every 0.1 s; "
        "peak GB = max(self, child);\nbase: plain "
        "generate_batch/validate_batch/compute_churn_features + to_parquet in one process (peak reset per step); "
        "x = dagster / base."
    )
    try:
        for i, rows in enumerate(args.rows):
            partition = (FIRST_PARTITION + datetime.timedelta(days=i)).isoformat()
            common = ["--rows", str(rows), "--home", str(home), "--data", str(data), "--partition", partition]
            dag, walls = {}, {}
            for stage in STAGES:
                extra = ["--profile", args.profile] if args.profile else []
                dag[stage], walls[stage] = _child(["--stage", stage, *common, *extra])
                dag[stage]["partition"] = partition
            base, _ = _child(
                ["--stage", "baseline", "--rows", str(rows), "--data", str(root / "baseline" / partition),
                 "--partition", partition]
            )  # fmt: skip
            report(rows, dag, walls, base)
            if not base["per_step_peak"]:
                print("(baseline peak RSS is cumulative: /proc/self/clear_refs not writable)")
        if args.backfill_days:
            backfill_report(args.backfill_days, args.backfill_rows, root)
        print(f"load avg {os.getloadavg()[0]:.2f} at end")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
