"""Benchmark: one request's rows out of a prediction log of 10M rows over 30 days (the lineage lookup's log part).

Generates the log in the server's layout (``predictions/date=YYYY-MM-DD/part-*.parquet``, 8 parts a day, rows in
time order with time-prefixed request ids, the schema :func:`mlops_assets.serving.predlog.log_schemas` gives the
churn project) plus a feedback log of 5% of the requests, then times
(a) ours: :func:`mlops_assets.lineage.logs.find_request` (DuckDB on the request's day folder, feedback from that
    day on), each lookup in a fresh process state apart from the DuckDB import, over ``--lookups`` random ids;
(b) DuckDB over every day (no pruning by day);
(c) the naive baseline: pandas reading every file, then filtering.

Run from the repository root::

    .venv/bin/python bench/lineage.py [--rows 10000000] [--days 30] [--keep DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlops_assets.lineage.logs import day_files, find_request, parquet_rows  # noqa: E402
from mlops_assets.serving.contract import Contract  # noqa: E402
from mlops_assets.serving.predlog import log_schemas  # noqa: E402
from mlops_assets.spec import load_spec  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
PARTS_PER_DAY = 8


def _ids(ms: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Time-prefixed 32-hex ids, as :func:`mlops_assets.serving.predlog.new_request_id` makes them."""
    tail = rng.integers(0, 2**63, size=(len(ms), 2), dtype=np.int64)
    return np.array([f"{m:012x}{a:016x}{b:04x}"[:32] for m, a, b in zip(ms.tolist(), tail[:, 0].tolist(),
                                                                                     tail[:, 1].tolist())])


def generate(root: Path, rows: int, days: int, seed: int = 7) -> list[str]:
    """Write the log; return every request id (one row per request: the worst case for pruning by row group)."""
    spec = load_spec(ROOT / "projects" / "churn.yaml")
    schemas = log_schemas(Contract(spec).columns)
    rng = np.random.default_rng(seed)
    per_day = rows // days
    all_ids = []
    for d in range(days):
        day = START + timedelta(days=d)
        ms = np.sort(rng.integers(0, 86_400_000, per_day)) + int(day.timestamp() * 1000)
        ids = _ids(ms, rng)
        all_ids.append(ids)
        cols = {"request_id": ids, "row": np.zeros(per_day, dtype=np.int64),
                "time": pd.to_datetime(ms, unit="ms", utc=True), "project": np.full(per_day, "churn"),
                "model_version": np.full(per_day, "3"), "role": np.full(per_day, "live"),
                "prediction": rng.integers(0, 2, per_day).astype(float), "score": rng.random(per_day),
                "data_version": np.full(per_day, "a1b2c3d4e5f6a1b2c3d4e5f6"),
                "feature_hash": np.array([f"{h:016x}" for h in rng.integers(0, 2**63, per_day).tolist()])}
        for field in schemas["predictions"].names[len(cols):]:
            t = schemas["predictions"].field(field).type
            if pa.types.is_string(t):
                cols[field] = rng.choice(np.array(["a", "b", "c", "d"]), per_day)
            elif pa.types.is_timestamp(t):
                cols[field] = cols["time"]
            elif pa.types.is_boolean(t):
                cols[field] = rng.random(per_day) < 0.5
            else:
                cols[field] = rng.integers(0, 100, per_day).astype(t.to_pandas_dtype())
        table = pa.Table.from_pandas(pd.DataFrame(cols), schema=schemas["predictions"], preserve_index=False)
        folder = root / "predictions" / f"date={day.date()}"
        folder.mkdir(parents=True)
        for p, chunk in enumerate(np.array_split(np.arange(per_day), PARTS_PER_DAY)):
            pq.write_table(table.take(chunk), folder / f"part-{d:03d}{p:02d}-1-000001.parquet")
        picked = rng.choice(per_day, per_day // 20, replace=False)
        picked.sort()
        fb = pd.DataFrame({"request_id": ids[picked], "row": np.zeros(len(picked), dtype=np.int64),
                           "time": cols["time"][picked] + pd.Timedelta(hours=6), "project": "churn",
                           "label": rng.integers(0, 2, len(picked)).astype(float)})
        for fday, part in fb.groupby(fb["time"].dt.date):
            out = root / "feedback" / f"date={fday}"
            out.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pandas(part, schema=schemas["feedback"], preserve_index=False),
                           out / f"part-{d:03d}-1-000001.parquet")
    return np.concatenate(all_ids).tolist()


def timed(fn, *args) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--lookups", type=int, default=20)
    parser.add_argument("--keep", type=Path, default=None, help="write the log here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-lineage-"))
    t0 = time.perf_counter()
    ids = generate(root, args.rows, args.days)
    files = len(day_files(root / "predictions"))
    size = sum(p.stat().st_size for p in root.rglob("*.parquet")) / 1e6
    print(f"log: {len(ids):,} prediction rows over {args.days} days, {files} files, {size:,.0f} MB "
          f"(generated in {time.perf_counter() - t0:.0f} s) at {root}")
    import duckdb  # noqa: F401  (import cost kept out of the per-lookup figure; it is paid once per process)

    rng = np.random.default_rng(11)
    targets = [ids[i] for i in rng.choice(len(ids), args.lookups, replace=False)]
    ours = []
    for rid in targets:
        seconds, found = timed(find_request, root, rid)
        assert len(found["predictions"]) == 1 and found["predictions"]["request_id"].iloc[0] == rid
        ours.append(seconds)
    every_day = [timed(parquet_rows, day_files(root / "predictions"), rid)[0] for rid in targets[:5]]
    t = time.perf_counter()
    frame = pd.concat([pd.read_parquet(f) for f in day_files(root / "predictions")], ignore_index=True)
    naive_rows = frame[frame["request_id"] == targets[0]]
    feedback = pd.concat([pd.read_parquet(f) for f in day_files(root / "feedback")], ignore_index=True)
    feedback[feedback["request_id"] == targets[0]]
    naive = time.perf_counter() - t
    assert len(naive_rows) == 1
    med = statistics.median(ours)
    print(f"(a) ours, pruned to the request's day: median {med * 1000:.0f} ms, max {max(ours) * 1000:.0f} ms "
          f"over {len(ours)} lookups (predictions + feedback; the first, {ours[0] * 1000:.0f} ms, on a cold DuckDB)")
    print(f"(b) DuckDB over every day, predictions only: median {statistics.median(every_day) * 1000:.0f} ms")
    print(f"(c) naive, pandas reading every file then filtering: {naive:.1f} s")
    print(f"ours vs naive: {naive / med:,.0f}x faster; target <= 1 s per lookup: "
          f"{'met' if max(ours) <= 1.0 else 'NOT met'} (max {max(ours):.3f} s)")
    if args.keep is None:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
