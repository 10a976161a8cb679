"""Where a project's server lives on disk (pid, log, spec copy, state) and which port it gets."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from mlops_assets.monitoring.logs import project_log_dir

import yaml

from mlops_assets.spec import ProjectSpec

#: Only loopback: the admin routes change what is served and must not be reachable from the network.
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServingLayout:
    """``<data_dir>/serving/<project>/`` holds the server's files; its prediction log is ``<data_dir>/predictions/<project>/``."""

    data_dir: Path
    project: str

    @property
    def serving_dir(self) -> Path:
        return self.data_dir / "serving" / self.project

    @property
    def pid_file(self) -> Path:
        return self.serving_dir / "server.pid.json"

    @property
    def log_file(self) -> Path:
        return self.serving_dir / "server.log"

    @property
    def spec_file(self) -> Path:
        # load_spec insists that the file is named after the project.
        return self.serving_dir / f"{self.project}.yaml"

    @property
    def state_file(self) -> Path:
        return self.serving_dir / "state.json"

    @property
    def log_dir(self) -> Path:
        # One definition of where a project's server logs, shared with the monitoring sensors and assets.
        return project_log_dir(self.data_dir, self.project)


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def write_spec(spec: ProjectSpec, path: Path) -> Path:
    """The validated spec as YAML for ``python -m mlops_assets.serving --project`` (rewritten only when it changed)."""
    text = yaml.safe_dump(spec.model_dump(mode="json", by_alias=True), sort_keys=True)
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


@contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def project_port(data_dir: Path, spec: ProjectSpec, base_port: int) -> int:
    """``spec.deployment.port`` when set; else the port recorded for the project in ``<data_dir>/serving/ports.json``.

    A project seen for the first time gets the lowest ``base_port + i`` no other project holds, and keeps it
    (the file is the mapping; no hashing, so ports never collide and never move when projects are added).
    Ports set in specs are not reserved here: keep them outside ``base_port``'s range.
    """
    if spec.deployment.port is not None:
        return spec.deployment.port
    registry = data_dir / "serving" / "ports.json"
    with locked(registry.with_suffix(".lock")):
        ports = read_json(registry) or {}
        if spec.name not in ports:
            taken = set(ports.values())
            ports[spec.name] = next(base_port + i for i in range(len(taken) + 1) if base_port + i not in taken)
            write_json_atomic(registry, ports)
        return int(ports[spec.name])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could bind ``host:port`` now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
