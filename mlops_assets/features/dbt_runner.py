"""Run `dbt build` in this process with dbt's Python API (`dbtRunner`), the project parsed with fixed vars.

Why not dagster-dbt's `DbtCliResource.cli`: per invocation it runs `dbt --version` in a subprocess, initialises a
dbt adapter in-process (which we do not use), then starts dbt in a subprocess that re-parses the whole project
because the range's `--vars` changed: 20 of the 23.6 s the 21-day churn features step took (`make demo`, quiet
2-core machine). Here dbt is imported once, the project is parsed with fixed vars (`parse_vars`: dbt's partial
parsing, cached under ``state_dir`` and seeded from the prepared project's, then applies: ~0.3 s instead of 4 s)
and the range's vars reach only the build, which takes the parsed manifest.

No Dagster here: the asset shell (`dbt_assets.py`) turns the results into outputs and checks.
"""

from __future__ import annotations

import gc
import json
import shutil
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


#: dbt's partial-parse cache file in a target directory.
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def parse_vars(project_dir: Path) -> dict:
    """The vars every parse of the project runs with, the prepared one (`resources.dbt.prepare_manifest`) and each
    build's: dbt reuses a parse only when its vars and rendered profile match, and the profile's warehouse path
    comes from ``data_dir``, so a fixed one lets every data directory start from the prepared parse."""
    return {"data_dir": str(project_dir / "target")}


def _seed_parse_cache(project_dir: Path, parse_target: Path) -> None:
    """Start a new data directory's parse cache from the prepared project's (a full parse of the project costs
    ~4 s on a quiet 2-core machine, a partial parse that finds nothing changed ~0.3 s); dbt still checks every
    file's checksum and re-parses what changed."""
    cached = parse_target / PARTIAL_PARSE_FILE
    prepared = project_dir / "target" / PARTIAL_PARSE_FILE
    if not cached.exists() and prepared.exists():
        shutil.copyfile(prepared, cached)


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


def _event_callback(on_log: Callable[[str, str], None] | None):
    def callback(event) -> None:
        level = str(event.info.level)
        if on_log is not None and level in LOGGED_LEVELS and event.info.msg:
            on_log(level, str(event.info.msg))

    return callback


def parse(project_dir: Path, profiles_dir: Path, parse_target: Path,
          on_log: Callable[[str, str], None] | None = None):
    """`dbt parse` with `parse_vars` into ``parse_target`` (partial parsing, seeded from the prepared project's
    cache when ``parse_target`` has none); returns dbt's manifest for the builds."""
    from dbt.cli.main import dbtRunner

    parse_target.mkdir(parents=True, exist_ok=True)
    _seed_parse_cache(project_dir, parse_target)
    parsed = dbtRunner(callbacks=[_event_callback(on_log)]).invoke([
        "parse", *_common_args(project_dir, profiles_dir, parse_target), "--vars", json.dumps(parse_vars(project_dir)),
    ])
    if not parsed.success:
        raise DbtRunError(f"dbt could not parse {project_dir}: {parsed.exception or 'see the dbt log lines above'}")
    return parsed.result


def build(project_dir: Path, profiles_dir: Path, state_dir: Path, select: str, dbt_vars: dict,
          on_log: Callable[[str, str], None] | None = None, run_name: str = "build") -> BuildResult:
    """`dbt build --select <select> --vars <dbt_vars>`; ``on_log(level, message)`` receives dbt's log lines.

    ``state_dir/target`` keeps the parse (partial_parse.msgpack) between builds; ``state_dir/<run_name>`` gets the
    build's artifacts (run_results.json).
    """
    from dbt.cli.main import dbtRunner

    callback = _event_callback(on_log)
    run_target = state_dir / run_name
    try:
        manifest = parse(project_dir, profiles_dir, state_dir / "target", on_log)
        built = dbtRunner(manifest=manifest, callbacks=[callback]).invoke([
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
