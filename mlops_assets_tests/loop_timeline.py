"""A retraining-loop timeline against the real Dagster daemon (shared by the loop test and bench/loop.py).

A churn project whose days end yesterday: a champion trained before drift day D, the real ``dagster-daemon``
(sensors, queued runs, run workers) on a temporary ``DAGSTER_HOME``, a real model server on 127.0.0.1, and
drifted (or, for the control, undrifted) live traffic with feedback posted to it. Days from D on are generated
with covariate and concept drift; the sensors bring them in themselves.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
TOKEN = "loop-token-7d2e"
PROJECT = "churn"
FEATURES = ["tenure_months", "contract", "monthly_charges", "support_calls", "late_payments", "payment_method",
            "region", "num_products", "usage_minutes"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopTimeline:
    """Drive one timeline; `drift=False` is the control (the same traffic volume, no drift)."""

    def __init__(self, root: Path, drift: bool = True, rows_per_day: int = 600, window_rows: int = 500,
                 drift_days: int = 6, train_days: int = 4, holdout_days: int = 2, sensor_interval_s: int = 5):
        self.root = Path(root)
        self.drift = drift
        self.today = dt.datetime.now(dt.timezone.utc).date()
        self.onset = self.today - dt.timedelta(days=drift_days)  # drift day D
        self.window_rows = window_rows
        self.data_dir = self.root / "data"
        self.home = self.data_dir / "dagster_home"
        self.projects = self.root / "projects"
        self.port = _free_port()
        window = train_days + holdout_days
        drift_windows = [{"start": self.onset.isoformat(), "covariate": {"monthly_charges": {"mean_shift": 1.0}},
                          "concept": 1.0}] if drift else []
        base = yaml.safe_load((REPO / "projects" / "churn.yaml").read_text())
        base.update({
            "start_date": (self.onset - dt.timedelta(days=window + 2)).isoformat(),
            "source": {**base["source"], "rows_per_day": rows_per_day, "drift": drift_windows},
            "features": {"kind": "passthrough", "columns": FEATURES},
            "training": {"window_days": train_days, "holdout_days": holdout_days, "estimator": "hist_gradient_boosting",
                         "segment_columns": ["region"], "include_labeled_traffic": True},
            "evaluation": {"primary_metric": "roc_auc", "thresholds": {"roc_auc": 0.6}, "tolerance": 0.02},
            "deployment": {"port": self.port},
            "monitoring": {"window_rows": window_rows, "persistence": [2, 3], "cooldown_hours": 0,
                           "max_retrains_per_day": 5, "min_feedback": 300, "sensor_interval_seconds": sensor_interval_s},
        })
        self.spec_dict = base
        self.env = {
            **os.environ,
            "MLOPS_DATA_DIR": str(self.data_dir),
            "DAGSTER_HOME": str(self.home),
            "MLOPS_PROJECTS_DIR": str(self.projects),
            "MLFLOW_TRACKING_URI": f"sqlite:///{self.data_dir}/mlflow/mlflow.db",
            "MLOPS_SERVING_TOKEN": TOKEN,
            "MLOPS_ALERT_WEBHOOK_URL": "",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        self.daemon: subprocess.Popen | None = None
        self.events: dict[str, float] = {}
        self.session = requests.Session()
        self.session.headers["authorization"] = f"Bearer {TOKEN}"

    # ------------------------------------------------------------ set-up
    def write_files(self) -> None:
        self.projects.mkdir(parents=True, exist_ok=True)
        (self.projects / f"{PROJECT}.yaml").write_text(yaml.safe_dump(self.spec_dict, sort_keys=False))
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "deploy" / "dagster.yaml", self.home / "dagster.yaml")
        (self.root / "workspace.yaml").write_text(
            yaml.safe_dump({"load_from": [{"python_module": {"module_name": "mlops_assets.definitions",
                                                              "working_directory": str(REPO)}}]}))

    def apply_env(self) -> None:
        """Point this process at the timeline's instance, data and store (the tests' monkeypatch does it too)."""
        os.environ.update({k: v for k, v in self.env.items() if k not in os.environ or os.environ[k] != v})

    def instance(self):
        from dagster import DagsterInstance

        return DagsterInstance.from_config(str(self.home))

    def definitions(self):
        from mlops_assets.definitions import build_definitions
        from mlops_assets.spec import load_specs

        return build_definitions(load_specs(self.projects))

    def bootstrap(self, instance) -> None:
        """The days before D ingested and v1 trained on the window ending D-1, promoted and deployed."""
        defs = self.definitions()
        spec = self.spec()
        n = spec.training.window_days + spec.training.holdout_days
        ingest = defs.resolve_job_def(f"{PROJECT}__ingest")
        for i in range(n, 0, -1):
            day = (self.onset - dt.timedelta(days=i)).isoformat()
            assert ingest.execute_in_process(instance=instance, partition_key=day).success, day
        last = (self.onset - dt.timedelta(days=1)).isoformat()
        train = defs.resolve_job_def(f"{PROJECT}__train").execute_in_process(
            instance=instance, run_config={"ops": {f"{PROJECT}__training_set": {"config": {"as_of": last}}}})
        assert train.success
        assert self.version() == "1"

    def spec(self):
        from mlops_assets.spec import load_spec

        return load_spec(self.projects / f"{PROJECT}.yaml")

    def start_daemon(self) -> None:
        log = open(self.root / "daemon.log", "ab")
        self.daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(self.root / "workspace.yaml")],
            env=self.env, cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            os.killpg(self.daemon.pid, signal.SIGTERM)
            try:
                self.daemon.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait(10)
        from mlops_assets.definitions import default_resources

        deployer = default_resources(str(self.data_dir), tracking_uri=self.env["MLFLOW_TRACKING_URI"])["deployer"]
        deployer.stop(self.spec())

    # ------------------------------------------------------------ traffic
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def version(self) -> str:
        return str(self.session.get(f"{self.url}/version", timeout=10).json()["model_version"])

    def send(self, rows: int, seed: int, day: dt.date | None = None, batch: int = 100) -> int:
        """`rows` customers of a day from D on (drifted unless control) scored live, each label fed back."""
        from mlops_assets.data.generators.registry import generate_batch
        from mlops_assets.serving.contract import Contract

        spec = self.spec()
        frame = generate_batch(spec.source, day or self.onset, rows=rows, seed=seed, bounds=spec.schema.bounds())
        fields = Contract(spec).fields
        records = json.loads(frame[fields].to_json(orient="records", date_format="iso"))
        labels = frame[spec.target.column].tolist()
        for i in range(0, len(records), batch):
            r = self.session.post(f"{self.url}/predict", json={"records": records[i:i + batch]}, timeout=60)
            r.raise_for_status()
            request_id = r.headers["x-request-id"]
            for j, label in enumerate(labels[i:i + batch]):
                fb = self.session.post(f"{self.url}/feedback", json={"request_id": request_id, "row": j,
                                                                      "label": int(label)}, timeout=30)
                fb.raise_for_status()
        return len(records)

    def wait_logged(self, rows: int, timeout_s: float = 180.0) -> float:
        """Wait until the server's day Parquet logs hold at least `rows` predictions and `rows` labels (what the
        sensors read; the server compacts its segments every few seconds); the time they did."""
        from mlops_assets.monitoring.logs import project_log_dir

        root = project_log_dir(self.data_dir, PROJECT)

        def count(kind: str) -> int:
            return sum(len(pd.read_parquet(f, columns=["request_id"])) for f in (root / kind).rglob("*.parquet"))

        self.wait(lambda: count("predictions") >= rows and count("feedback") >= rows, timeout_s,
                  f"the prediction and feedback logs to hold {rows} rows")
        return time.time()

    # ------------------------------------------------------------ observing the daemon
    def retrain_runs(self, instance) -> list:
        from dagster import RunsFilter

        return list(instance.get_runs(RunsFilter(tags={"mlops/retrain": PROJECT})))

    def sensor_ticks(self, instance, name: str, limit: int = 50) -> list:
        states = [s for s in instance.all_instigator_state() if s.instigator_name == name]
        if not states:
            return []
        return list(instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id, limit=limit))

    def consumed_since(self, instance, name: str, since: float) -> bool:
        """Whether a tick of sensor `name` started after `since` had nothing left to judge: no new file, or only
        the remainder of a window (fewer rows than a window, kept for the next one)."""
        return any(t.timestamp > since and t.skip_reason and ("no new" in t.skip_reason or ", need " in t.skip_reason)
                   for t in self.sensor_ticks(instance, name))

    def wait(self, predicate, timeout_s: float, what: str, poll_s: float = 1.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.daemon is not None and self.daemon.poll() is not None:
                raise AssertionError(f"the daemon exited ({self.daemon.returncode}) while waiting for {what}; "
                                     f"see {self.root / 'daemon.log'}")
            time.sleep(poll_s)
        raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; see {self.root / 'daemon.log'}")

    def wait_quiet(self, instance, since: float, timeout_s: float = 180.0) -> None:
        """Both sensors have read everything logged before `since`, and no run is queued or in progress."""
        from dagster import DagsterRunStatus, RunsFilter

        busy = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
                DagsterRunStatus.STARTED]
        self.wait(lambda: (self.consumed_since(instance, f"{PROJECT}__drift", since)
                           and self.consumed_since(instance, f"{PROJECT}__performance", since)
                           and not instance.get_runs(RunsFilter(statuses=busy))),
                  timeout_s, "the sensors to read all traffic and the runs to finish")

    def confirmed_at(self, instance) -> float | None:
        """When a monitoring sensor first confirmed drift or decay (its first tick that requested runs or
        named a confirmation)."""
        times = [t.timestamp for name in (f"{PROJECT}__drift", f"{PROJECT}__performance")
                 for t in self.sensor_ticks(instance, name, limit=200)
                 if t.run_ids or (t.skip_reason and "confirmed (" in t.skip_reason or
                                  (t.skip_reason or "").startswith("drift confirmed"))]
        return min(times) if times else None

    def evaluation(self) -> dict:
        return json.loads((self.data_dir / "assets" / PROJECT / "evaluation_report.json").read_text())

    def reference(self) -> dict:
        return json.loads((self.data_dir / "assets" / PROJECT / "reference_profile.json").read_text())

    def training_set(self) -> pd.DataFrame:
        return pd.read_parquet(self.data_dir / "assets" / PROJECT / "training_set.parquet")
