"""Start-up benchmark: importing and building the Definitions, against ``import dagster`` as the floor.

Every figure is measured in a fresh interpreter (a child process), best of ``--repeat``:

* ``import dagster``: the wall time of ``python -c "import dagster"``, the baseline no code location can beat;
* ``import mlops_assets.definitions``: the wall time of ``python -c "import mlops_assets.definitions"``;
* build: ``build_definitions(load_specs(projects_dir()))`` of the shipped projects, timed inside the child after
  the import (the dbt manifest is prepared first, so a stale manifest's ``dbt parse`` is not counted);
* 100 specs: ``load_specs`` + ``build_definitions`` of 100 generated pass-through projects (the specs of
  ``mlops_assets_tests/test_import_time.py``) in one process, and then resolving all their jobs
  (``Definitions.validate_loadable``, what a code server does on load), timed apart.

The child also lists which of mlflow, matplotlib, sklearn, scipy, pyarrow and dagster_dbt the build imported.

Usage::

    .venv/bin/python bench/startup.py                 # best of 3 (100 specs: once)
    .venv/bin/python bench/startup.py --repeat 5 --specs 200
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH_RESULT "
WATCHED = ("mlflow", "matplotlib", "sklearn", "scipy", "pyarrow", "dagster_dbt")


def _emit(payload: dict) -> None:
    print(RESULT_PREFIX + json.dumps(payload), flush=True)


def _loaded() -> list[str]:
    return sorted({m.split(".")[0] for m in sys.modules} & set(WATCHED))


# ---------------------------------------------------------------- children
def child_build() -> None:
    t0 = time.perf_counter()
    from mlops_assets.definitions import build_definitions, projects_dir
    from mlops_assets.resources.dbt import cached_manifest
    from mlops_assets.spec import load_specs

    imported = time.perf_counter() - t0
    cached_manifest()  # a stale manifest runs `dbt parse` (seconds): not what is measured here
    t1 = time.perf_counter()
    defs = build_definitions(load_specs(projects_dir()))
    built = time.perf_counter() - t1
    _emit({"import_s": imported, "build_s": built, "assets": len(defs.resolve_asset_graph().get_all_asset_keys()),
           "loaded": _loaded()})


def child_many(count: int) -> None:
    sys.path.insert(0, str(REPO_ROOT))
    from dagster import Definitions

    from mlops_assets.definitions import build_definitions
    from mlops_assets.spec import load_specs
    from mlops_assets_tests.test_import_time import write_specs

    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
        write_specs(Path(tmp), count)
        t0 = time.perf_counter()
        specs = load_specs(tmp)
        t1 = time.perf_counter()
        defs = build_definitions(specs)
        t2 = time.perf_counter()
        Definitions.validate_loadable(defs)
        t3 = time.perf_counter()
    _emit({"specs": len(specs), "load_s": t1 - t0, "build_s": t2 - t1, "resolve_s": t3 - t2,
           "assets": len(defs.resolve_asset_graph().get_all_asset_keys()), "jobs": len(defs.jobs),
           "loaded": _loaded()})


# ---------------------------------------------------------------- parent
def _run(args: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"child {' '.join(args)} failed (exit {proc.returncode})")
    return wall, proc.stdout


def _result(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    return json.loads(lines[-1][len(RESULT_PREFIX):])


def best_import(module: str, repeat: int) -> tuple[float, list[float]]:
    walls = [_run(["-c", f"import {module}"])[0] for _ in range(repeat)]
    return min(walls), walls


def _fmt(walls: list[float]) -> str:
    return " ".join(f"{w:.2f}" for w in walls)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is reported (default 3)")
    parser.add_argument("--specs", type=int, default=100, help="generated projects built in one process (default 100)")
    parser.add_argument("--specs-repeat", type=int, default=1, help="runs of the many-projects build (default 1)")
    parser.add_argument("--child", choices=["build", "many"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "build":
        return child_build()
    if args.child == "many":
        return child_many(args.specs)

    os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="bench_startup_home_"))
    print(f"{os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f} at start; best of {args.repeat} (all runs in s)")
    dagster_s, dagster_runs = best_import("dagster", args.repeat)
    print(f"python -c 'import dagster'                    {dagster_s:6.2f} s   ({_fmt(dagster_runs)})")
    defs_s, defs_runs = best_import("mlops_assets.definitions", args.repeat)
    print(f"python -c 'import mlops_assets.definitions'   {defs_s:6.2f} s   ({_fmt(defs_runs)})  "
          f"= {defs_s / dagster_s:.2f}x import dagster")

    builds = [_result(_run([__file__, "--child", "build"])[1]) for _ in range(args.repeat)]
    build = min(builds, key=lambda r: r["build_s"])
    print(f"build shipped definitions ({build['assets']} assets)  {build['build_s']:6.2f} s   "
          f"({_fmt([r['build_s'] for r in builds])}); loaded after build: {', '.join(build['loaded']) or 'none'}")

    many_runs = [_result(_run([__file__, "--child", "many", "--specs", str(args.specs)])[1])
                 for _ in range(args.specs_repeat)]
    many = min(many_runs, key=lambda r: r["load_s"] + r["build_s"])
    many_s = many["load_s"] + many["build_s"]
    print(f"{many['specs']} specs: load {many['load_s']:.2f} s + build {many['build_s']:.2f} s = {many_s:.2f} s "
          f"({many['assets']} assets, {many['jobs']} jobs; {many_s / many['specs'] * 1000:.0f} ms per project); "
          f"resolving all jobs {many['resolve_s']:.2f} s more")
    print(f"load avg {os.getloadavg()[0]:.2f} at end")
    print(f"STARTUP dagster_s={dagster_s:.2f} import_s={defs_s:.2f} ratio={defs_s / dagster_s:.2f}x "
          f"build_s={build['build_s']:.2f} specs{many['specs']}_s={many_s:.2f} "
          f"specs{many['specs']}_resolve_s={many['resolve_s']:.2f}")


if __name__ == "__main__":
    main()
