"""The ModelProject Dagster Component through the real `dg` CLI: listed, scaffolded, checked and loaded on the
shipped projects in a dg project of its own; a broken spec or defs.yaml reported with its line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_assets.definitions import build_definitions
from mlops_assets.spec import load_spec, load_specs
from mlops_assets_tests.helpers import churn_like_csv

REPO = Path(__file__).resolve().parents[1]
PROJECTS = REPO / "projects"
DG = str(Path(sys.executable).parent / "dg")
TYPE = "mlops_assets.components.ModelProject"


def dg(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """One `dg` call, as a user runs it from a project's root; stdout and stderr together."""
    return subprocess.run([DG, *args], cwd=cwd, env=env or os.environ.copy(), text=True, timeout=600,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def dg_project(tmp_path_factory) -> Path:
    """A dg project (as `dg scaffold project` lays one out) whose definitions are its defs folder."""
    root = tmp_path_factory.mktemp("dgproj")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "acme"\nversion = "0.1.0"\n\n[tool.dg]\ndirectory_type = "project"\n\n'
        '[tool.dg.project]\nroot_module = "acme"\n')
    package = root / "acme"
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n\n@dg.definitions\ndef defs():\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n")
    return root


@pytest.fixture
def dg_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "MLFLOW_TRACKING_URI")}
    env["MLOPS_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_dg_lists_the_component_with_its_schema():
    out = dg("list", "components", "--json", cwd=REPO)
    assert out.returncode == 0, out.stdout
    items = {i["key"]: i for i in json.loads(out.stdout[out.stdout.index("{"):])["items"]}
    assert TYPE in items, sorted(items)
    inspected = dg("utils", "inspect-component", TYPE, cwd=REPO)
    assert '"required": [\n        "spec"\n    ]' in inspected.stdout, inspected.stdout


def test_the_shipped_projects_as_components_check_and_load(dg_project, dg_env):
    for name in ("churn", "housing"):
        out = dg("scaffold", "defs", TYPE, name, "--spec", str(PROJECTS / f"{name}.yaml"), cwd=dg_project,
                 env=dg_env)
        assert out.returncode == 0, out.stdout
        written = yaml.safe_load((dg_project / "acme" / "defs" / name / "defs.yaml").read_text())
        assert written == {"type": TYPE, "attributes": {"spec": str(PROJECTS / f"{name}.yaml")}}
        # dg 1.13.27 checks one defs.yaml per component type when given no path: check each folder.
        out = dg("check", "yaml", f"acme/defs/{name}", cwd=dg_project, env=dg_env)
        assert out.returncode == 0 and "validated successfully" in out.stdout, out.stdout
    out = dg("check", "defs", cwd=dg_project, env=dg_env)
    assert out.returncode == 0 and "All definitions loaded successfully" in out.stdout, out.stdout
    out = dg("list", "defs", "--json", cwd=dg_project, env=dg_env)
    assert out.returncode == 0, out.stdout
    listed = json.loads(out.stdout[out.stdout.index("{"):])
    expected = build_definitions(load_specs(PROJECTS))
    assert {a["asset_key"] for a in listed["assets"]} == {k.to_user_string() for k in expected.resolve_all_asset_keys()}
    assert {j["name"] for j in listed["jobs"]} >= {"churn__train", "housing__ingest", "churn__rollback"}
    assert {s["name"] for s in listed["sensors"]} >= {"churn__drift", "housing__automation_conditions",
                                                       "churn__alert_on_run_failure"}


def test_a_broken_spec_and_a_broken_defs_yaml_are_reported_with_their_lines(dg_project, dg_env, tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(dg_project, project)
    text = (PROJECTS / "churn.yaml").read_text()
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.strip().startswith("estimator:"))
    bad = tmp_path / "specs" / "churn.yaml"
    bad.parent.mkdir()
    bad.write_text(text.replace("estimator: hist_gradient_boosting", "estimator: random_forrest"))
    defs = project / "acme" / "defs"
    (defs / "churn").mkdir(parents=True, exist_ok=True)
    (defs / "churn" / "defs.yaml").write_text(f"type: {TYPE}\nattributes:\n  spec: {bad}\n")
    out = dg("check", "defs", cwd=project, env=dg_env)
    assert out.returncode != 0
    assert f"{bad}:{line}: field 'training.estimator': unknown estimator 'random_forrest'" in out.stdout, out.stdout

    (defs / "housing").mkdir(exist_ok=True)
    (defs / "housing" / "defs.yaml").write_text(f"type: {TYPE}\n\nattributes:\n  specs: {PROJECTS / 'housing.yaml'}\n")
    out = dg("check", "yaml", "acme/defs/housing", cwd=project, env=dg_env)
    assert out.returncode != 0
    assert f"{defs / 'housing' / 'defs.yaml'}:3" in out.stdout and "'specs' was unexpected" in out.stdout, out.stdout


def test_scaffold_infers_a_spec_from_a_csv_beside_defs_yaml(dg_project, dg_env, tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(dg_project, project)
    shutil.rmtree(project / "acme" / "defs")
    (project / "acme" / "defs").mkdir()
    (project / "acme" / "defs" / "__init__.py").write_text("")
    csv = tmp_path / "accounts.csv"
    churn_like_csv(csv)
    out = dg("scaffold", "defs", TYPE, "accounts", "--from-csv", str(csv), "--target", "churned", cwd=project,
             env=dg_env)
    assert out.returncode == 0 and "Review before the first run" in out.stdout, out.stdout
    folder = project / "acme" / "defs" / "accounts"
    assert yaml.safe_load((folder / "defs.yaml").read_text()) == {"type": TYPE, "attributes": {"spec": "accounts.yaml"}}
    spec = load_spec(folder / "accounts.yaml")
    assert spec.target.column == "churned" and spec.schema_.id_column == "account_id"
    out = dg("check", "defs", cwd=project, env=dg_env)
    assert out.returncode == 0, out.stdout


def test_scaffold_without_a_spec_says_what_to_pass(dg_project, dg_env):
    out = dg("scaffold", "defs", TYPE, "nothing", cwd=dg_project, env=dg_env)
    assert out.returncode != 0 and "pass --spec PATH" in out.stdout and "--from-csv FILE --target COLUMN" in out.stdout
