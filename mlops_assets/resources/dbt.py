"""The dbt feature project: where it lives, how its manifest is prepared (offline, no packages), and the "dbt"
resource naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from dagster import ConfigurableResource

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


def dbt_executable() -> str:
    """The `dbt` installed beside this interpreter (works without the venv on PATH)."""
    return str(Path(sys.executable).with_name("dbt"))


def manifest_path(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    return project_dir / "target" / "manifest.json"


def _sources(project_dir: Path) -> list[Path]:
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for sub in ("models", "macros", "tests"):
        files += [p for p in (project_dir / sub).rglob("*") if p.is_file()]
    return files


def manifest_is_stale(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    target = manifest_path(project_dir)
    if not target.exists():
        return True
    built = target.stat().st_mtime
    return any(p.stat().st_mtime > built for p in _sources(project_dir))


def prepare_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Run `dbt parse` when the manifest is missing or older than the project files; return its path."""
    if manifest_is_stale(project_dir):
        from mlops_assets.features.dbt_runner import parse_vars

        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        proc = subprocess.run(
            [dbt_executable(), "parse", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir), "--quiet",
             "--vars", json.dumps(parse_vars(project_dir))],
            capture_output=True,
            text=True,
            env=env,
            cwd=project_dir,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"`dbt parse` failed for {project_dir} (exit {proc.returncode}); fix the dbt project and reload.\n"
                f"{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
            )
    return manifest_path(project_dir)


@lru_cache(maxsize=1)
def cached_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """`prepare_manifest`, done at most once per process (definitions loading calls it)."""
    return prepare_manifest(project_dir)


class DbtProjectResource(ConfigurableResource):
    """Where the dbt project and its profiles are (the "dbt" resource); the steps run dbt in-process
    (`mlops_assets.features.dbt_runner`), so loading the definitions imports no dbt-core."""

    project_dir: str = str(DBT_PROJECT_DIR)
    profiles_dir: str = str(DBT_PROJECT_DIR)
