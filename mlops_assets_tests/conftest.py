"""Shared fixtures: temp data directories, real Dagster instances, spec variants."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from dagster import instance_for_test

from mlops_assets.constants import SERVING_BASE_PORT_ENV
from mlops_assets.definitions import default_resources


def _free_port_run(length: int = 4) -> int:
    """A port p such that p .. p+length-1 are free now (the OS picks p)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + length > 65000:
            continue
        try:
            held = []
            for port in range(base, base + length):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()


def pytest_configure(config):
    # The model servers the tests deploy take their ports from here, not from 8081: two suites (or a suite and
    # `make demo`) can run on one machine. Child processes (dagster dev, the CLI) inherit it.
    os.environ.setdefault(SERVING_BASE_PORT_ENV, str(_free_port_run()))


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

