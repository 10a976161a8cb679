"""Run the server as ``python -m mlops_assets.serving`` in a child process (for the CLI test and the load check)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from mlops_assets_tests.serving.helpers import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def server_process(tracking_uri: str, log_dir: Path, model_uri: str = "models:/churn@champion",
                   extra: list[str] | None = None, timeout: float = 120.0):
    """Yield (base URL, Popen); stop with SIGINT (uvicorn's graceful shutdown) and wait."""
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PYTHONPATH": str(ROOT)}
    env.pop("MLOPS_SERVING_TOKEN", None)
    cmd = [sys.executable, "-m", "mlops_assets.serving", "--project", str(ROOT / "projects" / "churn.yaml"),
           "--port", str(port), "--log-dir", str(log_dir), "--model-uri", model_uri, "--log-level", "warning",
           *(extra or [])]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        import requests

        deadline_reached = True
        for _ in range(int(timeout / 0.1)):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited {proc.returncode}: {proc.stdout.read().decode()[-2000:]}")
            try:
                requests.get(f"{base}/health", timeout=1)
                deadline_reached = False
                break
            except requests.ConnectionError:
                import time

                time.sleep(0.1)
        if deadline_reached:
            raise TimeoutError(f"server on {base} did not start within {timeout}s")
        wait_ready(base, timeout)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
