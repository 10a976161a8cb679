"""Run `dbt build` in this process with dbt's Python API (`dbtRunner`), the project parsed without vars.

Why not dagster-dbt's `DbtCliResource.cli`: per invocation it runs `dbt --version` in a subprocess, initialises a
dbt adapter in-process (which we do not use), then starts dbt in a subprocess that re-parses the whole project
because the range's `--vars` changed: 20 of the 23.6 s the 21-day churn features step took (`make demo`, quiet
2-core machine). Here dbt is imported once, the project is parsed without vars (dbt's partial parsing, cached
under ``state_dir``, then applies: 0.6 s instead of 4 s) and the range's vars reach only the build, which takes
the parsed manifest: the same step takes about 6 s.

No Dagster here: the asset shell (`dbt_assets.py`) turns the results into outputs and checks.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: dbt event levels passed on to the caller's log (dbt's debug events are not).
LOGGED_LEVELS = ("info", "warn", "error")


class DbtRunError(RuntimeError):
    """dbt could not run at all (bad project, profile or vars): the message is dbt's."""


@dataclass(frozen=True)
class NodeResult:
    """One node of a build: a model (seed, snapshot) or a data test."""

    unique_id: str
    resource_type: str
    name: str
    #: dbt's status: success / error / skipped for models; pass / fail / warn / error / skipped for tests
    status: str
    message: str | None
    failures: int | None
    seconds: float


@dataclass(frozen=True)
class BuildResult:
    success: bool
    invocation_id: str | None
    results: tuple[NodeResult, ...]

    def by_type(self, *types: str) -> list[NodeResult]:
        return [r for r in self.results if r.resource_type in types]


def _common_args(project_dir: Path, profiles_dir: Path, target: Path) -> list[str]:
    return ["--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir), "--target-path", str(target),
            "--log-path", str(target), "--no-use-colors", "--quiet"]


def _release_warehouse() -> None:
    """Close the DuckDB handle dbt-duckdb keeps for the process, so the warehouse file is free for readers and for
    the next run's dbt in another process."""
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter: nothing held by the process
        return
    DuckDBConnectionManager.close_all_connections()
    gc.collect()  # the environment's connection closes when its last reference goes


def build(project_dir: Path, profiles_dir: Path, state_dir: Path, select: str, dbt_vars: dict,
          on_log: Callable[[str, str], None] | None = None, run_name: str = "build") -> BuildResult:
    """`dbt build --select <select> --vars <dbt_vars>`; ``on_log(level, message)`` receives dbt's log lines.

    ``state_dir/target`` keeps the parse (partial_parse.msgpack) between builds; ``state_dir/<run_name>`` gets the
    build's artifacts (run_results.json).
    """
    from dbt.cli.main import dbtRunner

    def callback(event) -> None:
        level = str(event.info.level)
        if on_log is not None and level in LOGGED_LEVELS and event.info.msg:
            on_log(level, str(event.info.msg))

    parse_target = state_dir / "target"
    run_target = state_dir / run_name
    parse_target.mkdir(parents=True, exist_ok=True)
    try:
        parsed = dbtRunner(callbacks=[callback]).invoke(["parse", *_common_args(project_dir, profiles_dir, parse_target)])
        if not parsed.success:
            raise DbtRunError(f"dbt could not parse {project_dir}: {parsed.exception or 'see the dbt log lines above'}")
        built = dbtRunner(manifest=parsed.result, callbacks=[callback]).invoke([
            "build", *_common_args(project_dir, profiles_dir, run_target), "--vars", json.dumps(dbt_vars),
            "--select", select,
        ])
    finally:
        _release_warehouse()
    if built.result is None:
        raise DbtRunError(f"dbt build --select {select} did not run: {built.exception or 'see the dbt log lines'}")
    results = tuple(
        NodeResult(
            unique_id=r.node.unique_id,
            resource_type=r.node.resource_type,
            name=r.node.name,
            status=str(r.status),
            message=r.message,
            failures=r.failures,
            seconds=float(r.execution_time or 0.0),
        )
        for r in built.result.results
    )
    from dbt_common.invocation import get_invocation_id

    return BuildResult(success=bool(built.success), invocation_id=get_invocation_id(), results=results)
