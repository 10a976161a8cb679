"""Run every test of the suite on its own: one fresh pytest process per test id, `--jobs` at a time.

A test that passes in the suite but fails alone leans on state an earlier test left behind (a fixture's side
effect, a module global, a file); one that fails in the suite but passes alone is disturbed by another. This finds
the first kind; ``make test`` finds the second.

    .venv/bin/python -m mlops_assets_tests.each_alone [--jobs 2] [--log each_alone.log] [pytest selection ...]

Prints one line per failing id (with the tail of its output in the log file) and a summary; exits 1 when any
test failed alone. Not part of ``make test``: run alone, each test pays the interpreter start-up and its module's
fixtures again (``make test-each-alone``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def collect(selection: list[str]) -> list[str]:
    """The test ids pytest collects for `selection` (the whole suite when empty)."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *selection],
                         cwd=REPO, capture_output=True, text=True, check=False)
    ids = [line for line in out.stdout.splitlines() if "::" in line and not line.startswith(" ")]
    if out.returncode != 0 or not ids:
        raise SystemExit(f"collection failed (exit {out.returncode}):\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    return ids


def run_alone(test_id: str) -> tuple[str, int, float, str]:
    """Run one id in its own pytest process: (id, exit code, seconds, output)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", test_id],
                         cwd=REPO, capture_output=True, text=True, check=False)
    return test_id, out.returncode, time.perf_counter() - start, out.stdout + out.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="test processes at a time (default 2)")
    parser.add_argument("--log", type=Path, default=Path("each_alone.log"), help="failures' output (appended)")
    parser.add_argument("selection", nargs="*", help="pytest paths or ids (default: the whole suite)")
    args = parser.parse_args(argv)
    ids = collect(args.selection)
    print(f"{len(ids)} tests, each in its own process, {args.jobs} at a time", flush=True)
    failed, skipped, slowest, start = [], 0, [], time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool, args.log.open("a") as log:
        for n, future in enumerate(as_completed(pool.submit(run_alone, i) for i in ids), 1):
            test_id, code, seconds, output = future.result()
            slowest = sorted([*slowest, (seconds, test_id)], reverse=True)[:5]
            skipped += code == 0 and " passed" not in output
            if code != 0:  # 5 (nothing collected) too: every collected id must run
                failed.append(test_id)
                print(f"FAILED alone ({code}): {test_id}", flush=True)
                log.write(f"==== {test_id} (exit {code})\n{output[-6000:]}\n")
            if n % 50 == 0:
                print(f"{n}/{len(ids)} run, {len(failed)} failed, {time.perf_counter() - start:.0f} s", flush=True)
    print(f"{len(ids)} tests run alone in {time.perf_counter() - start:.0f} s: {len(ids) - len(failed)} passed "
          f"(of which {skipped} skipped), {len(failed)} failed")
    print("slowest alone: " + "; ".join(f"{t} {s:.0f} s" for s, t in slowest))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
