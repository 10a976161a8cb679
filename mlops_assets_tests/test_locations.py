"""Embedded defaults without make: with nothing set, the platform and Dagster use ./.mlops_data as the Makefile
does; with the variables set, resources are bound to them (EnvVar)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from dagster import EnvVar

from mlops_assets import constants as C
from mlops_assets.definitions import default_resources

REPO = Path(__file__).resolve().parents[1]
UNSET = (C.DATA_DIR_ENV, C.TRACKING_URI_ENV, C.ALERT_WEBHOOK_ENV, "DAGSTER_HOME")


def test_nothing_set_gives_the_makefile_locations(tmp_path, monkeypatch):
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    r = default_resources()
    assert r["storage"].data_dir == str(tmp_path / ".mlops_data")
    assert r["tracking"].tracking_uri == f"sqlite:///{tmp_path}/.mlops_data/mlflow/mlflow.db"
    assert r["deployer"].tracking_uri == r["tracking"].tracking_uri and r["alerts"].webhook_url == ""


def test_set_variables_are_bound_as_env_vars(tmp_path, monkeypatch):
    monkeypatch.setenv(C.DATA_DIR_ENV, str(tmp_path / "d"))
    monkeypatch.setenv(C.ALERT_WEBHOOK_ENV, "")
    monkeypatch.delenv(C.TRACKING_URI_ENV, raising=False)
    r = default_resources()
    assert r["storage"].data_dir == EnvVar(C.DATA_DIR_ENV) and r["alerts"].webhook_url == EnvVar(C.ALERT_WEBHOOK_ENV)
    # No tracking URI set: the embedded store inside the configured data directory.
    assert r["tracking"].tracking_uri == f"sqlite:///{tmp_path}/d/mlflow/mlflow.db"
    monkeypatch.setenv(C.TRACKING_URI_ENV, "sqlite:////elsewhere/mlflow.db")
    assert default_resources()["tracking"].tracking_uri == EnvVar(C.TRACKING_URI_ENV)


def test_the_two_instance_files_differ_only_in_storage():
    root = yaml.safe_load((REPO / "dagster.yaml").read_text())
    home = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    assert root.pop("storage") == {"sqlite": {"base_dir": ".mlops_data/dagster_home"}}
    assert root == home and "storage" not in home


def test_dagster_validates_the_clone_with_nothing_set(tmp_path):
    """`dagster definitions validate` from a clone's root with no environment: the instance is read from
    ./dagster.yaml (SQLite under ./.mlops_data/dagster_home) and the definitions bind the embedded locations."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET and k != C.PROJECTS_DIR_ENV}
    dagster = str(Path(sys.executable).parent / "dagster")
    out = subprocess.run([dagster, "definitions", "validate", "-w", "workspace.yaml"], cwd=REPO, env=env,
                         text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert out.returncode == 0 and "Validation successful" in out.stdout, out.stdout
    assert (REPO / ".mlops_data" / "dagster_home").is_dir()


def test_the_model_servers_first_port_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(C.SERVING_BASE_PORT_ENV, raising=False)
    assert default_resources(str(tmp_path))["deployer"].base_port == C.DEFAULT_SERVING_BASE_PORT
    monkeypatch.setenv(C.SERVING_BASE_PORT_ENV, "23456")
    assert default_resources(str(tmp_path))["deployer"].base_port == 23456
    for bad in ("http", "80", "70000"):
        monkeypatch.setenv(C.SERVING_BASE_PORT_ENV, bad)
        try:
            default_resources(str(tmp_path))
        except ValueError as err:
            assert C.SERVING_BASE_PORT_ENV in str(err) and repr(bad) in str(err)
        else:
            raise AssertionError(f"{bad!r} was accepted as a port")
