"""Blue/green model servers as Docker containers (docker SDK), one image built from the repo's ``serving`` target.

How traffic switches: each colour publishes the server's port 8080 on its own loopback host port (``blue`` on
the project port, ``green`` on project port + ``green_offset``). The active colour is recorded in
``<data_dir>/serving/<project>/docker.json``, which :meth:`DockerDeployer.endpoint_url` reads: a blue/green deploy
starts the new model in the idle colour, waits until its ``/ready`` answers, writes the state file, then stops
(not removes) the old colour, which :meth:`DockerDeployer.rollback` starts again. No proxy: clients resolve
the URL through the deployer (or the endpoint asset's output). Canary and shadow run inside the active
container through its admin routes, as with the local deployer.

The data directory and, for a sqlite MLflow store, the store's directory are bind-mounted at the same absolute
paths, so model URIs, artifact paths and the prediction log mean the same inside and outside. Containers run
as the calling user's uid:gid so the files they write stay the user's.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from mlops_assets import __version__
from mlops_assets.deployment import rollout
from mlops_assets.deployment.deployers import DeploymentError, EndpointState, ModelDeployer, check_request
from mlops_assets.deployment.docker_build import build_image, image_labels, image_tags
from mlops_assets.deployment.layout import LOOPBACK, ServingLayout, project_port, read_json, write_json_atomic, \
    write_spec
from mlops_assets.deployment.server_client import ServerClient, ServerUnreachable
from mlops_assets.spec import ProjectSpec

BACKEND = "docker"
COLORS = ("blue", "green")
CONTAINER_PORT = "8080/tcp"
LABEL_PREFIX = "io.mlops-assets"
REPO_ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------ pure helpers
def other_color(color: str | None) -> str:
    """The idle colour: ``blue`` first, then alternating."""
    return "green" if color == "blue" else "blue"


def color_port(port: int, color: str, green_offset: int) -> int:
    if color not in COLORS:
        raise ValueError(f"colour must be one of {COLORS}, got {color!r}")
    return port if color == "blue" else port + green_offset


def container_name(project: str, color: str) -> str:
    return f"mlops-serving-{project}-{color}"


def container_labels(project: str, version: str, color: str, model_uri: str) -> dict[str, str]:
    return {f"{LABEL_PREFIX}.project": project, f"{LABEL_PREFIX}.model-version": str(version),
            f"{LABEL_PREFIX}.color": color, f"{LABEL_PREFIX}.model-uri": model_uri,
            f"{LABEL_PREFIX}.role": "serving"}


def bind_mounts(data_dir: str, tracking_uri: str) -> dict[str, dict]:
    """Same-path read-write binds: the data directory, plus a sqlite tracking store's directory outside it."""
    root = str(Path(data_dir).resolve())
    mounts = {root: {"bind": root, "mode": "rw"}}
    if tracking_uri.startswith("sqlite:///"):
        store = str(Path(tracking_uri.removeprefix("sqlite:///")).resolve().parent)
        if not (store == root or store.startswith(root + os.sep)):
            mounts[store] = {"bind": store, "mode": "rw"}
    return mounts


def run_config(*, image: str, project: str, color: str, host_port: int, model_uri: str, version: str,
               data_version: str | None, spec_file: str, log_dir: str, data_dir: str, tracking_uri: str,
               token_env: str, token: str | None, user: str | None) -> dict:
    """Keyword arguments of ``client.containers.run`` for one colour (the image's entrypoint runs the server)."""
    command = ["--project", spec_file, "--log-dir", log_dir, "--model-uri", model_uri, "--model-version", str(version),
               "--token-env", token_env]
    if data_version:
        command += ["--data-version", data_version]
    environment = {"MLFLOW_TRACKING_URI": tracking_uri}
    if token and token_env:
        environment[token_env] = token
    config = {
        "image": image,
        "command": command,
        "name": container_name(project, color),
        "labels": container_labels(project, version, color, model_uri),
        "ports": {CONTAINER_PORT: (LOOPBACK, host_port)},
        "environment": environment,
        "volumes": bind_mounts(data_dir, tracking_uri),
        "detach": True,
        "restart_policy": {"Name": "unless-stopped"},
    }
    if user:
        config["user"] = user
    return config


def git_sha(repo_root: Path) -> str | None:
    """The checked-out commit (names the image, so new code gets a new build), or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=repo_root)
    except OSError:
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# ------------------------------------------------------------ the deployer
def docker_sdk():
    """The Docker SDK (``import docker``), imported when a Docker deployment runs; a clear error without it."""
    try:
        import docker
        import docker.errors
    except ImportError as err:
        raise DeploymentError(
            f"the Docker deployer needs the Docker SDK, which is not installed ({err}); install the 'docker' extra: "
            'pip install "mlops-assets[docker]" (or use the local_process deployer)'
        ) from err
    return docker


class DockerDeployer(ModelDeployer):
    """Model servers as Docker containers, blue/green per project (see the module docstring)."""

    data_dir: str
    tracking_uri: str
    base_port: int = 8081
    green_offset: int = 1000
    image: str = ""  # a pre-built serving image; empty: build the repo's `serving` target once per code version
    image_repository: str = "mlops-serving"
    token_env: str = "MLOPS_SERVING_TOKEN"
    ready_timeout_s: float = 180.0
    stop_timeout_s: int = 30

    def _docker(self):
        docker = docker_sdk()
        try:
            client = docker.from_env()
            client.ping()
        except Exception as err:  # the SDK raises several types for "no engine"
            raise DeploymentError(f"no Docker engine reachable (DOCKER_HOST={os.environ.get('DOCKER_HOST', 'unset')}): "
                                  f"{err}") from err
        return client

    def _layout(self, spec: ProjectSpec) -> ServingLayout:
        return ServingLayout(Path(self.data_dir).resolve(), spec.name)

    def _state_file(self, spec: ProjectSpec) -> Path:
        return self._layout(spec).serving_dir / "docker.json"

    def _port(self, spec: ProjectSpec, color: str) -> int:
        return color_port(project_port(Path(self.data_dir).resolve(), spec, self.base_port), color, self.green_offset)

    def _active(self, spec: ProjectSpec) -> str | None:
        return (read_json(self._state_file(spec)) or {}).get("active_color")

    def endpoint_url(self, spec: ProjectSpec) -> str:
        return f"http://{LOOPBACK}:{self._port(spec, self._active(spec) or 'blue')}"

    def log_dir(self, spec: ProjectSpec) -> Path:
        return self._layout(spec).log_dir

    def _client(self, spec: ProjectSpec, color: str) -> ServerClient:
        return ServerClient(f"http://{LOOPBACK}:{self._port(spec, color)}", self.token_env, 120.0)

    def _image(self, client) -> str:
        if self.image:
            return self.image
        sha = git_sha(REPO_ROOT)
        tags = image_tags(self.image_repository, __version__, sha)
        try:
            client.images.get(tags[-1])
        except docker_sdk().errors.ImageNotFound:
            labels = image_labels(self.image_repository, __version__, sha, str(REPO_ROOT))
            build_image(client, REPO_ROOT, "serving", tags, labels)
        return tags[-1]

    def _container(self, client, spec: ProjectSpec, color: str):
        docker = docker_sdk()
        try:
            return client.containers.get(container_name(spec.name, color))
        except docker.errors.NotFound:
            return None

    def _wait_ready(self, container, spec: ProjectSpec, color: str) -> None:
        client = self._client(spec, color)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            container.reload()
            if container.status in ("exited", "dead"):
                break
            try:
                status, body = client.get("/ready", timeout_s=2.0)
                if status == 200:
                    return
                if "load failed" in str((body or {}).get("detail", "")):
                    break  # the model cannot be loaded: no point in waiting
            except ServerUnreachable:
                pass
            time.sleep(0.2)
        logs = container.logs(tail=60).decode(errors="replace")
        raise DeploymentError(f"container {container.name} did not become ready on {client.base_url} within "
                              f"{self.ready_timeout_s:.0f}s (status {container.status}); last log lines:\n{logs}")

    def _record(self, spec: ProjectSpec, color: str, container, action: str) -> EndpointState:
        status = rollout.admin_status(self._client(spec, color))
        state = EndpointState.from_server(spec.name, BACKEND, self.endpoint_url(spec), status, action=action,
                                          port=self._port(spec, color), container_id=container.id, color=color)
        return state

    def _switch(self, spec: ProjectSpec, client, new: str, container) -> None:
        """Make ``new`` the active colour, then stop (keep) the old one for rollback."""
        old = self._active(spec)
        write_json_atomic(self._state_file(spec), {"active_color": new, "container_id": container.id,
                                                   "switched_at": datetime.now(timezone.utc).isoformat()})
        previous = self._container(client, spec, old) if old and old != new else None
        if previous is not None and previous.status == "running":
            previous.stop(timeout=self.stop_timeout_s)

    def deploy(self, spec: ProjectSpec, model_uri: str, version: str, strategy: str, weight: float,
               data_version: str | None) -> EndpointState:
        check_request(strategy, weight)
        client = self._docker()
        active = self._active(spec)
        current = self._container(client, spec, active) if active else None
        if current is not None and current.status == "running" and (strategy != "blue_green" or self._serves(
                spec, active, model_uri, version)):
            # canary/shadow (or nothing to change): the active container's admin routes do it in place.
            api = self._client(spec, active)
            step = rollout.plan(rollout.admin_status(api), model_uri, str(version), strategy, weight)
            return self._record(spec, active, current, rollout.apply(api, step, model_uri, str(version), weight,
                                                                     data_version))
        new = other_color(active)
        stale = self._container(client, spec, new)
        if stale is not None:
            stale.remove(force=True)
        layout = self._layout(spec)
        layout.log_dir.mkdir(parents=True, exist_ok=True)
        config = run_config(
            image=self._image(client), project=spec.name, color=new, host_port=self._port(spec, new),
            model_uri=model_uri, version=str(version), data_version=data_version,
            spec_file=str(write_spec(spec, layout.spec_file)), log_dir=str(layout.log_dir),
            data_dir=str(layout.data_dir), tracking_uri=self.tracking_uri, token_env=self.token_env,
            token=os.environ.get(self.token_env) if self.token_env else None, user=f"{os.getuid()}:{os.getgid()}",
        )
        container = client.containers.run(**config)
        try:
            self._wait_ready(container, spec, new)
        except DeploymentError as err:
            container.remove(force=True)  # the active colour was never touched
            raise DeploymentError(f"{err}\nthe endpoint keeps serving the {active or 'no'} colour") from None
        self._switch(spec, client, new, container)
        return self._record(spec, new, container, "switched")

    def _serves(self, spec: ProjectSpec, color: str, model_uri: str, version: str) -> bool:
        live = rollout.admin_status(self._client(spec, color)).get("live") or {}
        return live.get("model_uri") == model_uri and str(live.get("model_version")) == str(version)

    def rollback(self, spec: ProjectSpec) -> EndpointState:
        client = self._docker()
        active = self._active(spec)
        current = self._container(client, spec, active) if active else None
        if current is None:
            raise DeploymentError(f"no '{spec.name}' container is active: nothing to roll back")
        status = rollout.admin_status(self._client(spec, active))
        if status.get("candidate") is not None:
            return self._record(spec, active, current, rollout.rollback(self._client(spec, active)))
        previous = self._container(client, spec, other_color(active))
        if previous is None:
            raise DeploymentError(f"no previous '{spec.name}' container ({other_color(active)}) to roll back to")
        previous.start()
        self._wait_ready(previous, spec, other_color(active))
        self._switch(spec, client, other_color(active), previous)
        return self._record(spec, other_color(active), previous, "previous_restored")

    def status(self, spec: ProjectSpec) -> EndpointState:
        active = self._active(spec)
        container = self._container(self._docker(), spec, active) if active else None
        if container is not None and container.status == "running":
            try:
                return self._record(spec, active, container, "status")
            except ServerUnreachable:  # running but not answering (yet): reported as not running
                pass
        return EndpointState(spec.name, BACKEND, self.endpoint_url(spec), running=False, color=active,
                             updated_at=datetime.now(timezone.utc).isoformat())

    def stop(self, spec: ProjectSpec) -> None:
        client = self._docker()
        for color in COLORS:
            container = self._container(client, spec, color)
            if container is not None and container.status == "running":
                container.stop(timeout=self.stop_timeout_s)
