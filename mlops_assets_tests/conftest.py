"""Shared fixtures: temp data directories, real Dagster instances, spec variants."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from dagster import instance_for_test

from mlops_assets.definitions import default_resources
from mlops_assets.spec import ProjectSpec, parse_spec

REPO = Path(__file__).resolve().parents[1]
PROJECTS = REPO / "projects"


def spec_dict(name: str) -> dict:
    """A shipped spec as a plain mapping, to derive variants from."""
    return yaml.safe_load((PROJECTS / f"{name}.yaml").read_text())


def churn_landing_spec(directory: Path, features: str = "passthrough") -> ProjectSpec:
    """The churn schema fed from a landing directory of daily Parquet files (to inject bad batches)."""
    data = copy.deepcopy(spec_dict("churn"))
    data["name"] = "churnland"
    data["source"] = {"kind": "landing", "directory": str(directory), "filename_template": "churn_{date:%Y-%m-%d}.parquet"}
    if features == "passthrough":
        cols = ["tenure_months", "monthly_charges", "contract", "region", "support_calls"]
        data["features"] = {"kind": "passthrough", "columns": cols}
    return parse_spec(data, "churnland.yaml")


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("MLOPS_DATA_DIR", str(d))
    return d


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        yield inst


@pytest.fixture
def resources(data_dir) -> dict:
    return default_resources(str(data_dir))
