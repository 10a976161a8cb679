"""The end-to-end demo behind `make demo`: every project, on embedded defaults, recorded in the instance.

It ingests the `--days` days ending yesterday (UTC), trains, deploys and asks the endpoint for one prediction.
The terminal gets one line per stage and project; everything else (Dagster's and dbt's logs, Python warnings,
MLflow's messages, any subprocess's output) goes to ``<data_dir>/logs/demo-<UTC time>.log``. With
``verbose=True`` (``mlops-assets demo --verbose``) all of it goes to the terminal instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, get_args

#: Dagster's console logger at WARNING: a run's full event log is in the instance (the UI shows it).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

#: Python logging at this level and above reaches the log file (root handler; named loggers propagate to it).
LOG_LEVEL = logging.INFO
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- pure parts
def demo_days(spec, days: int, today: date | None = None) -> list[str]:
    """The partition keys the demo ingests for `spec`: the `days` days ending yesterday (UTC) - or on the spec's
    `end_date` if that is earlier - and none before its `start_date`."""
    from mlops_assets.days import recent_days, utc_today

    end = (today or utc_today()) - timedelta(days=1)
    if spec.end_date is not None and spec.end_date < end:
        end = spec.end_date
    return [d.isoformat() for d in recent_days(days, end) if d >= spec.start_date]


def log_file_path(data_dir: Path, now: datetime | None = None) -> Path:
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return data_dir / "logs" / f"demo-{now:%Y%m%dT%H%M%SZ}.log"


@contextlib.contextmanager
def capture_output(log_path: Path, level: int = LOG_LEVEL) -> Iterator[IO[str]]:
    """Inside the block, everything written to stdout and stderr - by Python, by C extensions and by subprocesses
    (file descriptors 1 and 2 are redirected) - and all Python logging (root handler) and `warnings` go to
    `log_path` (appended). Yields a text stream to where stdout went before: the terminal, or a pipe."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    terminal = open(os.dup(1), "w", encoding=encoding, errors="replace", buffering=1)
    saved = (os.dup(1), os.dup(2))
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    streams = (sys.stdout, sys.stderr)
    # Line-buffered, so that Python's lines and subprocesses' lines land in the file in the order they are written.
    # Not closed on exit: a handler that picked it up (e.g. MLflow's, created at import) keeps writing to the file.
    sys.stdout = sys.stderr = open(fd, "w", encoding="utf-8", errors="backslashreplace", buffering=1)
    root = logging.getLogger()
    root_level = root.level
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(level)
    showwarning = warnings.showwarning  # restored as it was (captureWarnings(False) restores only its own first save)
    logging.captureWarnings(True)
    try:
        yield terminal
    finally:
        logging.captureWarnings(False)
        warnings.showwarning = showwarning
        root.removeHandler(handler)
        root.setLevel(root_level)
        handler.close()
        for stream in (sys.stdout, terminal):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for kept in saved:
            os.close(kept)
        terminal.close()


def fmt_metric(value: float) -> str:
    """Large values (errors in currency units) without decimals, scores with three."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3f}"


def ingest_summary(result, days: list[str], checks: tuple[int, int]) -> str:
    passed, failed = checks
    return (f"{len(result.ingested)}/{len(days)} days {days[0]} .. {days[-1]}, {result.rows:,} rows; "
            f"checks: {passed} passed, {failed} failed; {len(result.blocked)} days blocked")


def blocked_summary(blocked: dict[str, list[str]], shown: int = 3) -> str:
    """One line: the first `shown` blocked days with their failing checks, and how many more."""
    items = [f"{day} ({', '.join(checks)})" for day, checks in sorted(blocked.items())[:shown]]
    more = len(blocked) - shown
    return "; ".join(items) + (f"; and {more} more days (see the UI)" if more > 0 else "")


def step_failures(events, chars: int = 240) -> list[tuple[str, str]]:
    """(step, first line of its error, shortened to `chars`) of each failed step among a run's events."""
    out = []
    for event in events:
        error = event.step_failure_data.error if event.is_step_failure else None
        if error is not None:
            message = (error.message.strip().splitlines() or [""])[0]
            prefix = f"{error.cls_name}: "
            if error.cls_name and prefix in message:  # "<module path>.Failure: needs features" -> "needs features"
                message = message.split(prefix, 1)[1]
            out.append((event.step_key, message if len(message) <= chars else message[: chars - 3] + "..."))
    return out


class Report:
    """The demo's terminal account: one line per stage and project; a spinner while a stage runs (terminals)."""

    def __init__(self, console, width: int, live: bool):
        self.console, self.width, self.live = console, width, live
        utf = (console.encoding or "").lower().startswith("utf")
        self.ok, self.failed = ("✓", "✗") if utf else ("ok", "!!")
        self.warn = "!"

    @contextlib.contextmanager
    def stage(self, project: str, stage: str, doing: str) -> Iterator[None]:
        if not self.live:
            yield
            return
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        # No stdout/stderr redirection: those go to the log file, not above the spinner.
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=self.console,
                      transient=True, redirect_stdout=False, redirect_stderr=False) as progress:
            progress.add_task(f"{project:<{self.width}} {stage:<8} {doing}", total=None)
            yield

    @contextlib.contextmanager
    def board(self, projects: list[str]) -> Iterator:
        """A spinner per project (terminals) showing its current stage; yields ``show(project, stage, doing)``."""
        if not self.live:
            yield lambda project, stage, doing: None
            return
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=self.console,
                      transient=True, redirect_stdout=False, redirect_stderr=False) as progress:
            tasks = {p: progress.add_task(f"{p:<{self.width}} starting", total=None) for p in projects}

            def show(project: str, stage: str, doing: str) -> None:
                progress.update(tasks[project], description=f"{project:<{self.width}} {stage:<8} {doing}")

            yield show

    def line(self, project: str, stage: str, text: str, seconds: float | None = None, ok: bool | None = True) -> None:
        """`ok`: True (done), False (failed) or None (done, with something to look at)."""
        from rich.text import Text

        mark = {True: (self.ok, "green"), False: (self.failed, "bold red"), None: (self.warn, "bold yellow")}[ok]
        parts = [mark, " ", (f"{project:<{self.width}} ", "bold"), (f"{stage:<8} ", "cyan"), text]
        if seconds is not None:
            parts.append((f"  {seconds:.1f}s", "dim"))
        self.console.print(Text.assemble(*parts))

    def plain(self, text: str = "", style: str | None = None) -> None:
        self.console.print(text, style=style, markup=False, highlight=False)


# ---------------------------------------------------------------- the demo
def run_demo(data_dir: Path, days: int, verbose: bool = False, today: date | None = None) -> int:
    """Ingest the `days` days ending yesterday of every project (raw -> validated -> features), train, deploy and
    query each; print one line per stage (or, `verbose`, everything Dagster, dbt and MLflow print)."""
    from rich.console import Console

    if verbose:
        console = Console(soft_wrap=True, highlight=False)
        return _demo(Report(console, 8, live=False), data_dir, days, today)
    log_path = log_file_path(data_dir)
    # dbt writes no ANSI escapes into the log file: the steps run it with --no-use-colors (features/dbt_runner.py).
    with capture_output(log_path) as terminal:
        # soft_wrap: a long line stays one line (the terminal wraps it; a pipe gets it whole).
        console = Console(file=terminal, soft_wrap=True, highlight=False)
        report = Report(console, 8, live=console.is_terminal and not console.is_dumb_terminal)
        try:
            code = _demo(report, data_dir, days, today, log_path)
        except Exception as exc:
            log.exception("the demo failed")
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            report.plain(f"{report.failed} the demo failed: {type(exc).__name__}: {first}", style="bold red")
            code = 1
        report.plain(f"Log (Dagster, dbt, MLflow, warnings): {log_path}", style=None if code == 0 else "bold")
    return code


def _demo(report: Report, data_dir: Path, days: int, today: date | None, log_path: Path | None = None) -> int:
    """The projects side by side, one process each (their graphs are independent); this process prints their
    lines as they come and prepares the shared MLflow store meanwhile."""
    import multiprocessing
    import queue as queues
    import threading

    from mlops_assets.days import recent_days, utc_today

    with report.stage("demo", "load", "the projects' specs and the Dagster instance"):
        from dagster import DagsterInstance

        from mlops_assets.definitions import default_resources, projects_dir
        from mlops_assets.spec import load_specs

        specs = load_specs(projects_dir())
        instance = DagsterInstance.get()  # its storage is created once, before the projects' processes share it
        resources = default_resources(str(data_dir))
        tracking = resources["tracking"]
        for spec in specs:  # ports are handed out in spec order, not in the order the projects reach deployment
            resources["deployer"].endpoint_url(spec)
    report.width = max(len(s.name) for s in specs)
    window = recent_days(days, (today or utc_today()) - timedelta(days=1))
    report.plain(f"mlops-assets demo: {', '.join(s.name for s in specs)}; {days} days ending yesterday (UTC), "
                 f"{window[0]} .. {window[-1]}", style="bold")

    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads and open stores
    messages, store_ready = context.Queue(), context.Event()
    workers = {spec.name: context.Process(
        target=_project_worker, name=f"demo-{spec.name}",
        args=(spec.name, str(data_dir), days, today, str(log_path) if log_path else None, messages, store_ready),
    ) for spec in specs}
    for worker in workers.values():
        worker.start()

    def prepare_store() -> None:  # MLflow creates its tables on first use: once, while the projects ingest
        try:
            tracking.client().search_experiments(max_results=1)
        except Exception:  # the training steps meet the same error and report it
            log.exception("preparing the MLflow store failed")
        finally:
            store_ready.set()

    threading.Thread(target=prepare_store, name="mlflow-store", daemon=True).start()
    codes: dict[str, int] = {}
    with report.board([s.name for s in specs]) as show:
        while len(codes) < len(workers):
            try:
                kind, project, *rest = messages.get(timeout=1.0)
            except queues.Empty:
                for name, worker in workers.items():
                    if name not in codes and not worker.is_alive():
                        codes[name] = 1
                        report.line(name, "", f"its process ended (exit code {worker.exitcode}) without finishing; "
                                    "see the log", ok=False)
                continue
            if kind == "stage":
                show(project, *rest)
            elif kind == "line":
                report.line(project, *rest)
            elif kind == "done":
                codes[project] = rest[0]
    for worker in workers.values():
        worker.join()
    if any(codes.values()):
        return 1
    report.plain()
    report.plain(f"Outputs (Parquet, one file per asset partition): {resources['storage'].assets_dir}")
    report.plain(f"DuckDB warehouse (views over the features):      {data_dir / 'warehouse.duckdb'}")
    report.plain(f"Dagster instance (SQLite):                        {instance.root_directory}")
    report.plain(f"MLflow tracking store:                            {tracking.tracking_uri}")
    report.plain("Open the UI: make dev        ->  http://127.0.0.1:3000  (webserver + daemon)")
    report.plain("MLflow UI:   make mlflow-ui  ->  http://127.0.0.1:5000")
    report.plain("Model servers keep running: make stop  stops them")
    return 0


class _ProjectReport:
    """A project process's side of `Report`: its stages and lines go to the demo's process, which prints them."""

    def __init__(self, messages):
        self.messages = messages

    @contextlib.contextmanager
    def stage(self, project: str, stage: str, doing: str) -> Iterator[None]:
        self.messages.put(("stage", project, stage, doing))
        yield

    def line(self, project: str, stage: str, text: str, seconds: float | None = None, ok: bool | None = True) -> None:
        self.messages.put(("line", project, stage, text, seconds, ok))


def _project_worker(name: str, data_dir: str, days: int, today: date | None, log_path: str | None, messages,
                    store_ready) -> None:
    """One project's demo in its own process: its output to the log file (unless verbose), its lines to `messages`."""
    report = _ProjectReport(messages)
    code = 1
    try:
        with capture_output(Path(log_path)) if log_path else contextlib.nullcontext():
            try:
                code = _project(report, name, Path(data_dir), days, today, store_ready)
            except Exception as exc:
                log.exception("the %s demo failed", name)
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                report.line(name, "", f"failed: {type(exc).__name__}: {first}", ok=False)
    finally:
        messages.put(("done", name, code))


def _project(report, name: str, data_dir: Path, days: int, today: date | None, store_ready) -> int:
    """Ingest, train, deploy and query one project; 0 when all of it worked."""
    from mlops_assets.data.sources import write_sample_landing

    from dagster import BetaWarning, DagsterInstance

    from mlops_assets.definitions import build_definitions, default_resources, projects_dir
    from mlops_assets.ingestion import ingest_range
    from mlops_assets.spec import GeneratorSource, LandingSource, load_specs

    # Dagster's beta notices and MLflow's schema hints are noise here (in the log file too).
    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
    [spec] = [s for s in load_specs(projects_dir()) if s.name == name]
    instance = DagsterInstance.get()
    defs = build_definitions([spec], default_resources(str(data_dir)))
    keys = demo_days(spec, days, today)
    if not keys:
        report.line(spec.name, "ingest", f"no daily partitions in the last {days} days (start_date "
                    f"{spec.start_date}, end_date {spec.end_date})", ok=False)
        return 1
    if isinstance(spec.source, LandingSource) and spec.name not in get_args(GeneratorSource.model_fields["generator"].annotation):
        # e.g. a project made by `mlops-assets init` from the user's CSV: there is no sample feed to invent
        report.line(spec.name, "landing", f"skipped: no sample generator named '{spec.name}' writes its landing "
                    f"files; backfill {spec.name}__ingest over the days of its own landing files, then run "
                    f"{spec.name}__train", ok=None)
        return 0
    if isinstance(spec.source, LandingSource):
        started = time.perf_counter()
        with report.stage(spec.name, "landing", f"writing {len(keys)} sample files"):
            paths = write_sample_landing(projects_dir() / f"{spec.name}.yaml", data_dir,
                                         date.fromisoformat(keys[0]), len(keys))
        report.line(spec.name, "landing", f"{len(paths)} sample files in {paths[0].parent}",
                    time.perf_counter() - started)
    started = time.perf_counter()
    with report.stage(spec.name, "ingest", f"{len(keys)} days {keys[0]} .. {keys[-1]}: raw -> validated -> features"):
        result = ingest_range(defs, spec, keys, instance, QUIET)
    elapsed = time.perf_counter() - started
    ok = result.success and bool(result.ingested)
    report.line(spec.name, "ingest", ingest_summary(result, keys, _check_counts(instance, result.run_ids)),
                elapsed, ok=ok)
    if result.blocked:
        report.line(spec.name, "blocked", blocked_summary(result.blocked), ok=None)
    if not ok:
        report.line(spec.name, "ingest", f"run(s) {', '.join(result.run_ids)} failed; open them in the UI "
                    "(make dev) for the failing step", ok=False)
        for step, message in _run_failures(instance, result.run_ids)[:3]:
            report.line(spec.name, "", f"{step}: {message}", ok=False)
        return 1
    store_ready.wait()
    return 0 if _train(defs, spec, instance, report) else 1


def _check_counts(instance, run_ids: list[str]) -> tuple[int, int]:
    """(passed, failed) asset check evaluations over the runs."""
    from dagster import DagsterEventType

    passed = failed = 0
    for run_id in run_ids:
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            if entry.dagster_event.event_specific_data.passed:
                passed += 1
            else:
                failed += 1
    return passed, failed


def _run_failures(instance, run_ids: list[str]) -> list[tuple[str, str]]:
    from dagster import DagsterEventType

    return step_failures([entry.dagster_event for run_id in run_ids
                          for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)])


def _train(defs, spec, instance, report: Report) -> bool:
    """Run the project's train job; print the champion's version and metrics, and one live prediction (the
    champion record, the endpoint and the newest validated day loaded by Dagster's asset value loader)."""
    started = time.perf_counter()
    with report.stage(spec.name, "train", "train, evaluate, register, promote and deploy"):
        result = defs.resolve_job_def(f"{spec.name}__train").execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET
        )
    elapsed = time.perf_counter() - started
    failed_checks = [c.check_name for c in result.get_asset_check_evaluations() if not c.passed]
    if not result.success:
        report.line(spec.name, "train", f"run {result.run_id} failed (failed checks: "
                    f"{', '.join(failed_checks) or 'none'}); open it in the UI (make dev)", elapsed, ok=False)
        for step, message in step_failures(result.all_events)[:3]:
            report.line(spec.name, "", f"{step}: {message}", ok=False)
        return False
    from dagster import AssetKey

    from mlops_assets import constants as C

    with defs.get_asset_value_loader(instance) as loader:
        champion = loader.load_asset_value(AssetKey([spec.name, C.CHAMPION]))
        endpoint = loader.load_asset_value(AssetKey([spec.name, C.ENDPOINT]))
        validated = AssetKey([spec.name, C.VALIDATED_DATA])
        day = max(instance.get_materialized_partitions(validated))
        rows = loader.load_asset_value(validated, partition_key=day).head(1)
    report.line(spec.name, "train", f"champion {champion['model_uri']} (previous: "
                f"{champion['previous_version'] or 'none'})", elapsed)
    metrics = "  ".join(f"{k}={fmt_metric(v)}" for k, v in champion["metrics"].items())
    report.line(spec.name, "holdout", metrics)
    _sample_prediction(spec, endpoint, rows.drop(columns=[spec.target.column]), day, report)
    return True


def _sample_prediction(spec, endpoint: dict, rows, day: str, report: Report) -> None:
    """POST `rows` (one row of the newest validated `day`) to the live endpoint and print what it answers."""
    body = json.dumps({"records": json.loads(rows.to_json(orient="records", date_format="iso"))}).encode()
    request = urllib.request.Request(f"{endpoint['url']}/predict", data=body, headers={"Content-Type": "application/json"})
    token = os.environ.get("MLOPS_SERVING_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    record = answer["predictions"][0]
    shown = ", ".join(f"{k}={fmt_metric(v) if isinstance(v, float) else v}" for k, v in record.items())
    id_column = spec.schema_.id_column
    row = f"{id_column}={rows.iloc[0][id_column]}" if id_column in rows else "1 row"
    report.line(spec.name, "serve", f"{endpoint['url']} serves v{endpoint['live_version']}; "
                f"POST /predict {row} ({day}) -> {shown}")
