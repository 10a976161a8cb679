"""The embedded default deployer: the model server as a detached local process on 127.0.0.1, one per project.

Files under ``<data_dir>/serving/<project>/``: ``server.pid.json`` (pid, port, spec hash), ``server.log``
(stdout/stderr), ``<project>.yaml`` (the spec the server reads) and ``state.json`` (the last live model, which
a restarted server loads first so that a crash does not leave the endpoint empty). The prediction log goes to
``<data_dir>/predictions/<project>/``. Strategies are carried out by the server's admin routes: ``blue_green``
loads, warms and checks the model on a sample, then swaps it live atomically; ``canary``/``shadow`` add it as
a candidate. A failed load leaves the live model untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from mlops_assets.deployment import rollout
from mlops_assets.deployment.deployers import DeploymentError, EndpointState, ModelDeployer, check_request
from mlops_assets.deployment.layout import locked, LOOPBACK, ServingLayout, port_is_free, project_port, read_json, \
    write_json_atomic, write_spec
from mlops_assets.deployment.server_client import ServerClient, ServerUnreachable
from mlops_assets.spec import ProjectSpec

BACKEND = "local_process"
#: Servers started by this process, kept so they are reaped (not left as zombies) and polled exactly.
_CHILDREN: dict[int, subprocess.Popen] = {}


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running model server (a reused pid of another program does not count)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        _CHILDREN.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # not ours
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return b"mlops_assets.serving" in cmdline.read_bytes()
        except OSError:
            return False
    return True


def _wait_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "<no log written>"


class LocalProcessDeployer(ModelDeployer):
    """Model servers as detached local processes (``python -m mlops_assets.serving``) on 127.0.0.1.

    The port is ``spec.deployment.port`` when set, else ``base_port`` plus the project's slot in
    ``<data_dir>/serving/ports.json`` (assigned on first deploy, then fixed).
    """

    data_dir: str
    tracking_uri: str
    host: str = LOOPBACK
    base_port: int = 8081
    token_env: str = "MLOPS_SERVING_TOKEN"
    startup_timeout_s: float = 120.0
    request_timeout_s: float = 300.0
    stop_timeout_s: float = 60.0

    # ------------------------------------------------------------ layout
    def _layout(self, spec: ProjectSpec) -> ServingLayout:
        return ServingLayout(Path(self.data_dir).resolve(), spec.name)

    def _port(self, spec: ProjectSpec) -> int:
        return project_port(Path(self.data_dir).resolve(), spec, self.base_port)

    def endpoint_url(self, spec: ProjectSpec) -> str:
        if self.host != LOOPBACK:
            raise DeploymentError(f"LocalProcessDeployer serves on {LOOPBACK} only (got host {self.host!r}): "
                                  "its admin routes must not be reachable from the network")
        return f"http://{self.host}:{self._port(spec)}"

    def log_dir(self, spec: ProjectSpec) -> Path:
        return self._layout(spec).log_dir

    def _client(self, spec: ProjectSpec) -> ServerClient:
        return ServerClient(self.endpoint_url(spec), self.token_env, self.request_timeout_s)

    # ------------------------------------------------------------ process
    def _running(self, spec: ProjectSpec) -> dict | None:
        """The pid record of this project's server if it is alive and answers on its port as this project."""
        record = read_json(self._layout(spec).pid_file)
        if record is None or not _alive(int(record["pid"])):
            return None
        client = ServerClient(f"http://{LOOPBACK}:{record['port']}", self.token_env, 5.0)
        try:
            status, body = client.get("/version")
        except ServerUnreachable:
            return None
        if status != 200 or not isinstance(body, dict) or body.get("project") != spec.name:
            return None
        return record

    def _terminate(self, pid: int, log_file: Path) -> None:
        """SIGINT (uvicorn's graceful shutdown: the prediction log is flushed), then SIGKILL after the timeout."""
        for sig, wait in ((signal.SIGINT, self.stop_timeout_s), (signal.SIGKILL, 10.0)):
            if not _alive(pid):
                return
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            if _wait_exit(pid, wait):
                return
        raise DeploymentError(f"server pid {pid} did not exit after SIGKILL; see {log_file}")

    def _ensure_running(self, spec: ProjectSpec) -> tuple[dict, bool]:
        """Start the server unless a healthy one for this spec and port runs; return (pid record, started)."""
        layout = self._layout(spec)
        port = self._port(spec)
        url = self.endpoint_url(spec)
        record = self._running(spec)
        if record is not None and record["port"] == port and record["spec_hash"] == spec.spec_hash():
            return record, False
        old = read_json(layout.pid_file)
        if old is not None and _alive(int(old["pid"])):  # hung, moved or running an older spec: replace it
            self._terminate(int(old["pid"]), layout.log_file)
        layout.pid_file.unlink(missing_ok=True)
        if not port_is_free(port):
            raise DeploymentError(f"port {port} on {LOOPBACK} is taken by another process, not the '{spec.name}' "
                                  f"server; free it or set deployment.port in the spec")
        last = read_json(layout.state_file) or {}
        cmd = [sys.executable, "-m", "mlops_assets.serving", "--project", str(write_spec(spec, layout.spec_file)),
               "--log-dir", str(layout.log_dir), "--host", LOOPBACK, "--port", str(port),
               "--token-env", self.token_env]
        if last.get("live_model_uri"):
            cmd += ["--model-uri", last["live_model_uri"], "--model-version", str(last["live_version"])]
        layout.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MLFLOW_TRACKING_URI": self.tracking_uri, "PYTHONUNBUFFERED": "1"}
        with open(layout.log_file, "ab") as log:
            log.write(f"\n=== {datetime.now(timezone.utc).isoformat()} starting: {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    cwd=layout.serving_dir, start_new_session=True, close_fds=True)
        _CHILDREN[proc.pid] = proc
        record = {"pid": proc.pid, "port": port, "spec_hash": spec.spec_hash(),
                  "started_at": datetime.now(timezone.utc).isoformat(), "log_file": str(layout.log_file)}
        write_json_atomic(layout.pid_file, record)
        try:
            self._wait_started(proc, url, layout.log_file, initial=bool(last.get("live_model_uri")))
        except DeploymentError:
            if proc.poll() is None:
                self._terminate(proc.pid, layout.log_file)
            layout.pid_file.unlink(missing_ok=True)
            raise
        return record, True

    def _wait_started(self, proc: subprocess.Popen, url: str, log_file: Path, initial: bool) -> None:
        """Until /health answers (and, with an initial model, /ready settles), within ``startup_timeout_s``."""
        client = ServerClient(url, self.token_env, 5.0)
        deadline = time.monotonic() + self.startup_timeout_s
        healthy = False
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DeploymentError(f"the model server exited with code {proc.returncode} before answering on "
                                      f"{url}; see {log_file}:\n{_tail(log_file)}")
            try:
                if not healthy:
                    healthy = client.get("/health", timeout_s=2.0)[0] == 200
                if healthy:
                    if not initial:
                        return
                    status, body = client.get("/ready", timeout_s=2.0)
                    # Settled: the initial model is live, or it failed (a deploy then loads a new one).
                    if status == 200 or "failed" in str((body or {}).get("detail", "")):
                        return
            except ServerUnreachable:
                pass
            time.sleep(0.1)
        raise DeploymentError(f"the model server did not become healthy on {url} within {self.startup_timeout_s:.0f}s; "
                              f"see {log_file}:\n{_tail(log_file)}")

    # ------------------------------------------------------------ the interface
    def _state(self, spec: ProjectSpec, record: dict, action: str) -> EndpointState:
        status = rollout.admin_status(self._client(spec))
        state = EndpointState.from_server(spec.name, BACKEND, self.endpoint_url(spec), status, action=action,
                                          pid=record["pid"], port=record["port"], log_file=record["log_file"])
        if state.live_model_uri:
            write_json_atomic(self._layout(spec).state_file, state.to_dict())
        return state

    def deploy(self, spec: ProjectSpec, model_uri: str, version: str, strategy: str, weight: float,
               data_version: str | None) -> EndpointState:
        check_request(strategy, weight)
        with self._exclusive(spec):  # a sensor's retrain and a person's rollback must not interleave
            record, _ = self._ensure_running(spec)
            client = self._client(spec)
            step = rollout.plan(rollout.admin_status(client), model_uri, str(version), strategy, weight)
            action = rollout.apply(client, step, model_uri, str(version), weight, data_version)
            return self._state(spec, record, action)

    def rollback(self, spec: ProjectSpec) -> EndpointState:
        with self._exclusive(spec):
            record = self._running(spec)
            if record is None:
                raise DeploymentError(f"no '{spec.name}' server is running at {self.endpoint_url(spec)}: nothing to "
                                      "roll back; deploy a version instead")
            return self._state(spec, record, rollout.rollback(self._client(spec)))

    def status(self, spec: ProjectSpec) -> EndpointState:
        record = self._running(spec)
        if record is None:
            return EndpointState(spec.name, BACKEND, self.endpoint_url(spec), running=False,
                                 port=self._port(spec), log_file=str(self._layout(spec).log_file),
                                 updated_at=datetime.now(timezone.utc).isoformat())
        return self._state(spec, record, "status")

    def stop(self, spec: ProjectSpec) -> None:
        with self._exclusive(spec):
            layout = self._layout(spec)
            record = read_json(layout.pid_file)
            if record is not None and _alive(int(record["pid"])):
                self._terminate(int(record["pid"]), layout.log_file)
            layout.pid_file.unlink(missing_ok=True)

    def _exclusive(self, spec: ProjectSpec):
        """One deploy/rollback/stop of a project at a time, across processes (a file lock beside its pid file)."""
        layout = self._layout(spec)
        layout.serving_dir.mkdir(parents=True, exist_ok=True)
        return locked(layout.serving_dir / "deploy.lock")
