"""Shared fixtures: temp data directories, real Dagster instances, spec variants."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import instance_for_test

from mlops_assets.definitions import default_resources


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

