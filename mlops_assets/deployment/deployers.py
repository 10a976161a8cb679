"""The deployer interface: put a registered model behind a project's HTTP endpoint, roll back, report state."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from dagster import ConfigurableResource

from mlops_assets.deployment.errors import DeploymentError
from mlops_assets.spec import ProjectSpec

STRATEGIES = ("blue_green", "canary", "shadow")


@dataclass(frozen=True)
class EndpointState:
    """What a project's endpoint serves, as read back from the server after an operation (JSON-serialisable).

    ``action`` says what the last operation did: ``loaded``, ``promoted``, ``unchanged``,
    ``candidate_dropped``, ``previous_restored``, ``switched`` (docker colour switch), ``status``.
    """

    project: str
    backend: str
    url: str
    running: bool
    live_version: str | None = None
    live_model_uri: str | None = None
    previous_version: str | None = None
    candidate_version: str | None = None
    candidate_model_uri: str | None = None
    strategy: str = "blue_green"
    weight: float = 0.0
    action: str = "status"
    pid: int | None = None
    port: int | None = None
    container_id: str | None = None
    color: str | None = None
    log_file: str | None = None
    updated_at: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "EndpointState":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_server(cls, project: str, backend: str, url: str, status: dict, **extra) -> "EndpointState":
        """Build from the server's ``GET /admin/status`` body (``live``/``previous``/``candidate`` infos)."""

        def part(slot: str, key: str) -> str | None:
            info = status.get(slot)
            return None if info is None else info.get(key)

        return cls(
            project=project, backend=backend, url=url, running=True,
            live_version=part("live", "model_version"), live_model_uri=part("live", "model_uri"),
            previous_version=part("previous", "model_version"),
            candidate_version=part("candidate", "model_version"),
            candidate_model_uri=part("candidate", "model_uri"),
            strategy=status.get("strategy") or "blue_green", weight=float(status.get("weight") or 0.0),
            updated_at=datetime.now(timezone.utc).isoformat(), **extra,
        )


class ModelDeployer(ConfigurableResource, ABC):
    """Runs a project's model server and changes what it serves.

    Implementations: :class:`~mlops_assets.deployment.local_process.LocalProcessDeployer` (embedded default,
    a detached process on 127.0.0.1) and :class:`~mlops_assets.deployment.docker_deployer.DockerDeployer`.
    A failed ``deploy`` raises :class:`DeploymentError` and leaves the endpoint serving what it served before.
    """

    @abstractmethod
    def deploy(self, spec: ProjectSpec, model_uri: str, version: str, strategy: str, weight: float,
               data_version: str | None) -> EndpointState:
        """Serve ``model_uri`` as ``strategy`` (``blue_green`` swaps it live; ``canary``/``shadow`` add a candidate)."""

    @abstractmethod
    def rollback(self, spec: ProjectSpec) -> EndpointState:
        """Back to known-good: drop a candidate if there is one, else restore the previous live model."""

    @abstractmethod
    def status(self, spec: ProjectSpec) -> EndpointState:
        """What the endpoint serves now (``running=False`` when no server is up)."""

    @abstractmethod
    def endpoint_url(self, spec: ProjectSpec) -> str:
        """Base URL clients send ``/predict`` to."""

    @abstractmethod
    def stop(self, spec: ProjectSpec) -> None:
        """Stop the server gracefully (its prediction log is flushed); a no-op when it is not running."""

    @abstractmethod
    def log_dir(self, spec: ProjectSpec) -> Path:
        """The server's prediction-log directory on this host (``predictions/`` and ``feedback/`` under it)."""


def check_request(strategy: str, weight: float) -> None:
    """Reject a strategy or weight the server would refuse, before touching anything."""
    if strategy not in STRATEGIES:
        raise DeploymentError(f"unknown deployment strategy {strategy!r}; use one of {list(STRATEGIES)}")
    if not 0.0 <= weight <= 1.0:
        raise DeploymentError(f"weight must be within [0, 1], got {weight}")
