"""A quick start-up: loading the Definitions imports no ML/plotting stack, and many projects build in one process.

Wall-clock figures are in ``bench/startup.py``; these tests only check what is imported and what is built.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import Definitions

from mlops_assets.definitions import build_definitions
from mlops_assets.spec import load_specs, parse_spec

from .helpers import PROJECTS, REPO, spec_dict

#: Imported only by the steps that train, evaluate, plot or test for drift; never by loading the definitions.
DEFERRED = ("mlflow", "matplotlib", "sklearn", "scipy")
#: dbt-core's parser and CLI: `dbt parse` runs in a subprocess and dbt runs happen in steps.
DBT_CORE_PARSING = ("dbt.parser", "dbt.cli.main")

_LOAD_DEFINITIONS = """
import json, sys
import mlops_assets.definitions
from dagster import Definitions
from mlops_assets.definitions import build_definitions, projects_dir
from mlops_assets.spec import load_specs
defs = build_definitions(load_specs(projects_dir()))
Definitions.validate_loadable(defs)  # resolve the repository, as a code server does
print(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def loaded_modules() -> set[str]:
    """`sys.modules` of a fresh interpreter after importing the definitions and building the shipped projects."""
    env = {**os.environ, "MLOPS_PROJECTS_DIR": str(PROJECTS)}
    proc = subprocess.run([sys.executable, "-c", _LOAD_DEFINITIONS], capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_definitions_do_not_load_the_ml_stack(loaded_modules):
    offenders = sorted(m for m in loaded_modules if m.split(".")[0] in DEFERRED)
    print(offenders)
    assert offenders == []


def test_definitions_do_not_load_dbt_core_parsing(loaded_modules):
    offenders = sorted(m for m in loaded_modules if m in DBT_CORE_PARSING or m.startswith(tuple(f"{p}." for p in DBT_CORE_PARSING)))
    print(offenders)
    assert offenders == []


#: What importing the module alone (every `dagster` CLI call and run worker, before `defs` builds anything) loads
#: beyond Dagster: none of the data stack either.
DATA_STACK = ("pandas", "numpy", "pyarrow", "duckdb", "dagster_dbt", "dbt")


def test_importing_the_definitions_module_builds_nothing_and_loads_no_data_stack():
    code = "import json, sys, mlops_assets.definitions; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-4000:]
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    offenders = sorted(m for m in modules if m.split(".")[0] in DATA_STACK + DEFERRED)
    assert offenders == []
    # nothing of the asset factories is imported until the definitions are built
    assert not any(m.startswith(("mlops_assets.project_assets", "mlops_assets.monitoring.sensors")) for m in modules)


# ---------------------------------------------------------------- many projects in one process
def _passthrough_churn() -> dict:
    """projects/churn.yaml (generator-fed) with pass-through features: a new name has no dbt model of its own."""
    data = copy.deepcopy(spec_dict("churn"))
    columns = data["schema"]["columns"]
    data["features"] = {"kind": "passthrough", "columns": [c for c in data["features"]["columns"] if c in columns]}
    return data


TEMPLATES = {"churn": _passthrough_churn, "housing": lambda: copy.deepcopy(spec_dict("housing"))}  # housing: landing-fed


def template(kind: str, name: str) -> dict:
    data = TEMPLATES[kind]()
    data["name"] = name
    return data


def write_specs(directory: Path, count: int) -> list[str]:
    """`count` spec files alternating the two templates, each named after its file (``churn_000``, ``housing_001``…)."""
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        kind = sorted(TEMPLATES)[i % len(TEMPLATES)]
        data = template(kind, f"{kind}_{i:03d}")
        (directory / f"{data['name']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        names.append(data["name"])
    return names


def _asset_names(defs: Definitions) -> dict[str, set[str]]:
    """Asset names (the key without its project prefix) by project."""
    by_project: dict[str, set[str]] = {}
    for key in defs.resolve_asset_graph().get_all_asset_keys():
        by_project.setdefault(key.path[0], set()).add("/".join(key.path[1:]))
    return by_project


def test_a_hundred_generated_projects_load_and_build_in_one_process(tmp_path):
    names = write_specs(tmp_path, 100)
    specs = load_specs(tmp_path)
    assert sorted(s.name for s in specs) == sorted(names)
    singles = {kind: build_definitions([parse_spec(template(kind, "solo"))]) for kind in TEMPLATES}
    per_project = _asset_names(singles["churn"])["solo"]
    assert _asset_names(singles["housing"])["solo"] == per_project  # both templates build the same graph
    jobs, schedules = len(singles["churn"].jobs), len(singles["churn"].schedules)

    defs = build_definitions(specs)
    assets = _asset_names(defs)
    assert set(assets) == set(names)
    assert all(a == per_project for a in assets.values())
    assert sum(len(a) for a in assets.values()) == 100 * len(per_project)
    assert (len(defs.jobs), len(defs.schedules)) == (100 * jobs, 100 * schedules)
