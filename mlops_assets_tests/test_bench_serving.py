"""The pure helpers of bench/serving.py (the bench itself runs with ``make bench``, never in tests)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "bench" / "serving.py"
_SPEC = importlib.util.spec_from_file_location("bench_serving", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def test_latency_summary_matches_numpy_percentiles():
    seconds = np.linspace(0.001, 0.1, 100)
    got = bench.latency_summary(seconds, elapsed=2.0)
    assert got["req/s"] == 50.0
    assert got["p50 ms"] == pytest.approx(np.percentile(seconds, 50) * 1e3)
    assert got["p99 ms"] == pytest.approx(np.percentile(seconds, 99) * 1e3)


def test_parse_wrk_reads_the_lua_done_line():
    out = ("Running 4s test @ http://127.0.0.1:1\n"
           'WRK {"requests": 8000, "duration_us": 4000000, "p50_us": 4500, "p99_us": 9100, "mean_us": 5000.0, '
           '"max_us": 20000, "status_errors": 2, "socket_errors": 1}\n')
    assert bench.parse_wrk(out) == {"req/s": 2000.0, "p50 ms": 4.5, "p99 ms": 9.1, "errors": 3}
    with pytest.raises(ValueError, match="no WRK line"):
        bench.parse_wrk("Running 4s test\n")


@pytest.mark.parametrize("value, bound, higher, expected", [
    (12.0, 10.0, True, (1.2, True)),
    (8.0, 10.0, True, (0.8, False)),
    (20.0, 25.0, False, (0.8, True)),
    (30.0, 25.0, False, (1.2, False)),
])
def test_check_target(value, bound, higher, expected):
    ratio, met = bench.check_target(value, bound, higher)
    assert (ratio, met) == (pytest.approx(expected[0]), expected[1])


def test_median_table_report_and_targets():
    results = {
        "ours /predict": [{"py 8 req/s": 1000.0, "py 8 p99 ms": 10.0, "seq p50 ms": 1.5},
                          {"py 8 req/s": 1200.0, "py 8 p99 ms": 30.0, "seq p50 ms": 1.7},
                          {"py 8 req/s": 1100.0, "py 8 p99 ms": 20.0, "seq p50 ms": 1.6}],
        "mlflow": [{"py 8 req/s": 100.0, "py 8 p99 ms": 50.0, "seq p50 ms": 8.0}] * 3,
        "bentoml": [{"py 8 req/s": 500.0, "py 8 p99 ms": 40.0, "seq p50 ms": 5.0}] * 3,
    }
    med = bench.median_table(results)
    assert med["ours /predict"] == {"py 8 req/s": 1100.0, "py 8 p99 ms": 20.0, "seq p50 ms": 1.6}
    table = bench.report(results)
    row = next(line for line in table if line.startswith("py 8 req/s"))
    assert "1100 [1000–1200]" in row and "11.00x" in row and "2.20x" in row
    lines = bench.target_lines(med, ["py"], [8])
    assert any("py 8 req/s vs mlflow: 11.00x" in line and "met" in line for line in lines)
    assert any("py 8 p99: 20.00 ms (target <= 25 ms: 0.80 of it, met)" in line for line in lines)
    assert any("seq p50: 1.60 ms" in line and "met" in line for line in lines)


def test_median_table_keeps_a_figure_a_server_lacks_as_nan():
    med = bench.median_table({"mlflow": [{"rows/batch": math.nan, "req/s": 1.0}]})
    assert math.isnan(med["mlflow"]["rows/batch"]) and med["mlflow"]["req/s"] == 1.0
