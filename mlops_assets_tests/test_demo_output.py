"""The demo's pure parts: which days it ingests, where its output goes, and the lines it prints."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import warnings
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest

from mlops_assets import days as calendar
from mlops_assets.cli import main
from mlops_assets.demo import Report, blocked_summary, capture_output, demo_days, fmt_metric, ingest_summary, \
    log_file_path
from mlops_assets.days import recent_days
from mlops_assets.ingestion import IngestResult
from mlops_assets.spec import load_spec

from .helpers import PROJECTS


# ---------------------------------------------------------------- days
def test_recent_days_end_on_the_given_day_in_order():
    assert recent_days(3, date(2026, 3, 1)) == [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1)]
    assert recent_days(1, date(2026, 1, 1)) == [date(2026, 1, 1)]
    with pytest.raises(ValueError):
        recent_days(0, date(2026, 1, 1))


def test_recent_days_default_to_the_days_ending_yesterday_utc(monkeypatch):
    monkeypatch.setattr(calendar, "utc_today", lambda: date(2026, 12, 2))
    days = recent_days(21)
    assert len(days) == 21 and days[-1] == date(2026, 12, 1) and days[0] == date(2026, 11, 11)


def test_demo_days_end_yesterday_and_stay_inside_the_specs_partitions():
    shipped = load_spec(PROJECTS / "churn.yaml")
    keys = demo_days(shipped, 21, today=date(2026, 12, 2))
    assert keys[0] == "2026-11-11" and keys[-1] == "2026-12-01" and len(keys) == 21
    # Not before start_date: the range is cut at the first partition.
    assert demo_days(shipped, 5, today=date(2026, 1, 3)) == ["2026-01-01", "2026-01-02"]
    assert demo_days(shipped, 5, today=date(2026, 1, 1)) == []
    # A spec with an end date in the past: the days ending on it.
    ended = SimpleNamespace(start_date=date(2026, 1, 1), end_date=date(2026, 2, 10))
    assert demo_days(ended, 3, today=date(2026, 12, 2)) == ["2026-02-08", "2026-02-09", "2026-02-10"]


def test_landing_default_start_is_the_days_ending_yesterday(data_dir, monkeypatch, capsys):
    monkeypatch.setattr(calendar, "utc_today", lambda: date(2026, 12, 2))
    assert main(["landing", "--spec", str(PROJECTS / "housing.yaml"), "--days", "2"]) == 0
    spec = load_spec(PROJECTS / "housing.yaml")
    names = sorted(p.name for p in (data_dir / spec.source.directory).iterdir())
    assert names == ["housing_2026-11-30.csv", "housing_2026-12-01.csv"]
    assert "2026-11-30 .. 2026-12-01" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["demo", "--days", "0"], ["landing", "--days", "-1"]])
def test_days_must_be_positive(argv):
    with pytest.raises(SystemExit):
        main(argv)


def test_log_file_is_under_the_data_dir_named_by_utc_time(tmp_path):
    path = log_file_path(tmp_path, datetime(2026, 12, 2, 13, 4, 5, tzinfo=timezone.utc))
    assert path == tmp_path / "logs" / "demo-20261202T130405Z.log"


# ---------------------------------------------------------------- output routing
def test_capture_output_sends_everything_but_the_terminal_stream_to_the_log(tmp_path, capfd):
    log_path = tmp_path / "logs" / "demo.log"
    root = logging.getLogger()
    root_level, root_handlers = root.level, list(root.handlers)
    stdout, stderr, showwarning = sys.stdout, sys.stderr, warnings.showwarning
    with capture_output(log_path) as terminal:
        terminal.write("for the terminal\n")
        print("python stdout")
        print("python stderr", file=sys.stderr)
        os.write(1, b"fd one\n")
        os.write(2, b"fd two\n")
        subprocess.run([sys.executable, "-c", "import sys; print('child out'); print('child err', file=sys.stderr)"],
                       check=True)
        logging.getLogger("dagster").info("dagster info")
        logging.getLogger("mlflow.store.db.utils").warning("mlflow warning")
        logging.getLogger("some.library").debug("debug is below the level")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a python warning", UserWarning)
    out, err = capfd.readouterr()
    assert out == "for the terminal\n" and err == ""
    text = log_path.read_text()
    for line in ("python stdout", "python stderr", "fd one", "fd two", "child out", "child err", "dagster info",
                 "mlflow warning", "a python warning"):
        assert line in text, line
    assert "debug is below the level" not in text and "for the terminal" not in text
    # Everything is put back.
    assert sys.stdout is stdout and sys.stderr is stderr
    assert root.level == root_level and root.handlers == root_handlers
    assert warnings.showwarning is showwarning
    print("after")
    os.write(1, b"fd after\n")
    assert capfd.readouterr().out == "after\nfd after\n"
    assert "after" not in log_path.read_text()


def test_capture_output_restores_the_terminal_when_the_block_raises(tmp_path, capfd):
    with pytest.raises(RuntimeError):
        with capture_output(tmp_path / "demo.log"):
            os.write(1, b"inside\n")
            raise RuntimeError("boom")
    os.write(1, b"outside\n")
    assert capfd.readouterr().out == "outside\n"
    assert (tmp_path / "demo.log").read_text() == "inside\n"


# ---------------------------------------------------------------- the lines
def _console(width: int = 80):
    from rich.console import Console

    buffer = io.StringIO()
    return Console(file=buffer, soft_wrap=True, highlight=False, width=width), buffer


def test_report_lines_are_one_line_each_and_plain_when_not_a_terminal():
    console, buffer = _console(width=40)
    report = Report(console, width=7, live=False)
    with report.stage("housing", "ingest", "21 days"):
        pass
    report.line("housing", "ingest", "a line much longer than the forty columns of this console [not markup]", 12.34)
    report.line("churn", "train", "run failed", ok=False)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2
    assert "\x1b" not in buffer.getvalue()  # not a terminal: no colour codes
    assert lines[0].startswith("✓ housing ingest   a line") and lines[0].endswith("[not markup]  12.3s")
    assert lines[1].startswith("✗ churn   train    run failed")


def test_summaries_carry_the_figures():
    result = IngestResult(project="housing", run_ids=["r1", "r2"], ingested=["2026-11-29", "2026-12-01"],
                          blocked={"2026-11-30": ["raw_data:row_count", "raw_data:schema"]}, rows=3000)
    line = ingest_summary(result, ["2026-11-29", "2026-11-30", "2026-12-01"], (40, 2))
    assert line == ("2/3 days 2026-11-29 .. 2026-12-01, 3,000 rows; checks: 40 passed, 2 failed; 1 days blocked")
    assert blocked_summary(result.blocked) == "2026-11-30 (raw_data:row_count, raw_data:schema)"
    many = {f"2026-11-{d:02d}": ["c"] for d in range(1, 6)}
    assert blocked_summary(many, shown=2) == "2026-11-01 (c); 2026-11-02 (c); and 3 more days (see the UI)"
    assert fmt_metric(121509.5465) == "121,510" and fmt_metric(0.80129) == "0.801"


def test_step_failures_give_each_failed_steps_first_line_without_the_class_path():
    """From a real failed run: Dagster's error messages start with the exception's module path and class."""
    from dagster import DagsterInstance, Failure, asset, materialize

    from mlops_assets.demo import step_failures

    @asset
    def raw():
        return 1

    @asset
    def train(raw):
        raise Failure("needs features\nmore")

    @asset
    def evaluate():
        raise Failure("x" * 500)

    with DagsterInstance.ephemeral() as instance:
        result = materialize([raw, train, evaluate], instance=instance, raise_on_error=False)
    out = dict(step_failures(result.all_events, chars=50))
    assert set(out) == {"train", "evaluate"}  # raw succeeded
    assert out["train"] == "needs features"
    assert len(out["evaluate"]) == 50 and out["evaluate"].startswith("x" * 40) and out["evaluate"].endswith("...")
