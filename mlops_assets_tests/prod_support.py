"""Helpers of the production tests: fresh PostgreSQL databases, real service processes, a small churn spec."""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest
import yaml

from .helpers import spec_dict

SERVER = "postgresql://postgres@127.0.0.1:5432"
BIN = Path(sys.executable).parent
# The churn features without dbt (passthrough), 500 rows a day, 4 training + 2 holdout days: one cheap training.
FEATURES = ["tenure_months", "contract", "monthly_charges", "support_calls", "late_payments", "payment_method", "region"]
DAYS = [f"2026-01-0{i}" for i in range(1, 7)]


def sqlalchemy_url(url: str) -> str:
    """Name the driver: SQLAlchemy 2.1 would otherwise pick psycopg 3, which is not installed."""
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


@contextlib.contextmanager
def fresh_databases(*kinds: str) -> Iterator[list[str]]:
    """One fresh database per kind on the local PostgreSQL (libpq URLs), dropped afterwards."""
    try:
        admin = psycopg2.connect(f"{SERVER}/postgres", connect_timeout=5)
    except psycopg2.OperationalError as err:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable ({err}); `make services` (run by make test and "
                    ".ci/run) starts it, or: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
    admin.autocommit = True
    names = [f"mlops_test_{kind}_{uuid.uuid4().hex[:8]}" for kind in kinds]
    try:
        with admin.cursor() as cur:
            for name in names:
                cur.execute(f'CREATE DATABASE "{name}"')
        yield [f"{SERVER}/{name}" for name in names]
    finally:
        with admin.cursor() as cur:
            for name in names:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False


def wait_for(condition: Callable[[], object], timeout: float, what: str, logs: list[Path] = (), interval=1.0):
    """Poll until `condition()` is truthy (a generous failure guard, not a measurement); its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}:\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
        time.sleep(interval)


class Service:
    """A real process in its own session (so it and its children stop together), its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path, cwd: Path | None = None):
        self.name, self.log = name, log_dir / f"{name}.log"
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._out, stderr=subprocess.STDOUT, cwd=cwd,
                                     start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # Children left in the session (a run worker, a Celery pool process) go with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._out.close()


def write_small_churn(projects_dir: Path) -> Path:
    """The shipped churn spec made cheap (passthrough features, 500 rows a day), as a project directory holds it."""
    data = copy.deepcopy(spec_dict("churn"))
    data["features"] = {"kind": "passthrough", "columns": FEATURES}
    data["source"]["rows_per_day"] = 500
    data["training"]["window_days"] = 4
    data["training"]["holdout_days"] = 2
    # A port of its own: other tests' (or a user's) churn server may hold the spec's default.
    data.setdefault("deployment", {})["port"] = free_port()
    projects_dir.mkdir(parents=True, exist_ok=True)
    path = projects_dir / "churn.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
