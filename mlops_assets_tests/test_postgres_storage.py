"""Production on this machine's real services (README "Running in production").

One stack, started once for the module, each part a real process: a fresh PostgreSQL database for the Dagster
instance (deploy/dagster.production.yaml) and one for MLflow, the MLflow tracking server on the latter
(`make mlflow-server`), the gRPC code location (`make code-server`) and `dagster-daemon run` on the production
workspace (deploy/workspace.yaml). Six days of churn are ingested into the instance, then two training runs of the
project are submitted at once through the queued run coordinator; the daemon launches them.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import psycopg2
import pytest
import yaml
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
    materialize,
)

from mlops_assets.definitions import default_resources
from mlops_assets.deployment.local_process import LocalProcessDeployer
from mlops_assets.project_assets import build_data_assets
from mlops_assets.spec import load_spec

from .helpers import REPO
from .prod_support import (
    BIN,
    DAYS,
    SERVER,
    Service,
    fresh_databases,
    free_port,
    sqlalchemy_url,
    wait_for,
    write_small_churn,
)

pytestmark = pytest.mark.timeout(1200)

TRAIN_JOB = "churn__train"
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
GRAPH = ["raw_data", "validated_data", "features", "training_set", "candidate_model", "evaluation_report",
         "champion", "endpoint"]


def _launch(env: dict, log_dir: Path, n: int) -> subprocess.Popen:
    """`dagster job launch` on the production workspace: submits the run to the instance's run coordinator."""
    out = (log_dir / f"launch{n}.log").open("wb")
    return subprocess.Popen([str(BIN / "dagster"), "job", "launch", "-w", str(REPO / "deploy" / "workspace.yaml"),
                             "-j", TRAIN_JOB], env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("prod")
    home, data, logs, artifacts = root / "dagster_home", root / "data", root / "logs", root / "mlflow-artifacts"
    for d in (home, data, logs, artifacts):
        d.mkdir()
    # The shipped production config, installed as `make prod-home` does.
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.production.yaml").read_text())
    spec_path = write_small_churn(root / "projects")
    spec = load_spec(spec_path)
    services: list[Service] = []
    with fresh_databases("dagster", "mlflow") as (dagster_db, mlflow_db):
        mlflow_port, code_port = free_port(), free_port()
        tracking = f"http://127.0.0.1:{mlflow_port}"
        env = {**os.environ, "DAGSTER_HOME": str(home), "MLOPS_PG_URL": sqlalchemy_url(dagster_db),
               "MLOPS_DATA_DIR": str(data), "MLOPS_PROJECTS_DIR": str(spec_path.parent),
               "MLFLOW_TRACKING_URI": tracking, "MLOPS_EXECUTOR": "in_process",
               "DAGSTER_CODE_SERVER_HOST": "127.0.0.1", "DAGSTER_CODE_SERVER_PORT": str(code_port)}
        deployer = LocalProcessDeployer(data_dir=str(data), tracking_uri=tracking)
        try:
            # The MLflow server as `make mlflow-server` starts it (one worker: a small test).
            services.append(Service("mlflow", [
                str(BIN / "mlflow"), "server", "--backend-store-uri", sqlalchemy_url(mlflow_db), "--serve-artifacts",
                "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(mlflow_port),
                "--workers", "1"], env, logs))
            services.append(Service("code-server", [
                str(BIN / "dagster"), "code-server", "start", "-m", "mlops_assets.definitions",
                "-h", "127.0.0.1", "-p", str(code_port)], env, logs, cwd=REPO))
            services.append(Service("daemon", [
                str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "deploy" / "workspace.yaml")], env, logs, cwd=REPO))

            # Ingestion, in this process, into the same PostgreSQL-backed instance.
            os.environ["MLOPS_PG_URL"] = env["MLOPS_PG_URL"]
            instance = DagsterInstance.from_config(str(home))
            resources = default_resources(str(data), tracking_uri=tracking)
            for day in DAYS:
                assert materialize(build_data_assets(spec, None), partition_key=day, instance=instance,
                                   resources=resources).success, day

            def mlflow_up():
                try:
                    with urllib.request.urlopen(f"{tracking}/health", timeout=5) as resp:
                        return resp.status == 200
                except OSError:
                    return False

            wait_for(mlflow_up, 180, "the MLflow server", [s.log for s in services])
            # Both runs submitted at once; a launch retries only while the code location is still loading.
            pending = {1: _launch(env, logs, 1), 2: _launch(env, logs, 2)}

            def submitted():
                for n, proc in list(pending.items()):
                    if proc.poll() is None:
                        continue
                    if proc.returncode == 0:
                        del pending[n]
                    else:
                        pending[n] = _launch(env, logs, n)
                return not pending

            wait_for(submitted, 300, "both training runs to be submitted", [logs / "launch1.log", logs / "launch2.log",
                                                                              *(s.log for s in services)], interval=2)

            def trained():
                runs = instance.get_runs(RunsFilter(job_name=TRAIN_JOB))
                return len(runs) >= 2 and all(r.status in FINISHED for r in runs)

            wait_for(trained, 900, "both training runs to finish", [s.log for s in services], interval=3)
            yield {"instance": instance, "dagster_db": dagster_db, "mlflow_db": mlflow_db, "tracking": tracking,
                   "spec": spec, "artifacts": artifacts, "logs": logs}
        finally:
            deployer.stop(spec)  # the model server the endpoint asset started
            for service in reversed(services):
                service.stop()
            os.environ.pop("MLOPS_PG_URL", None)


def _training_records(instance):
    records = instance.get_run_records(RunsFilter(job_name=TRAIN_JOB))
    return sorted(records, key=lambda r: r.start_time or float("inf"))


def test_two_training_runs_of_one_project_do_not_overlap(stack):
    instance = stack["instance"]
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    records = _training_records(instance)
    assert len(records) == 2
    for record in records:
        run = record.dagster_run
        assert run.status == DagsterRunStatus.SUCCESS, f"{run.run_id}: {run.status}; see {stack['logs']}"
        assert run.tags["mlops/training"] == "churn"
        # Through the queue: enqueued by the submission, then launched (starting) by the daemon.
        kinds = {e.dagster_event.event_type for e in instance.all_logs(run.run_id) if e.dagster_event}
        assert {DagsterEventType.RUN_ENQUEUED, DagsterEventType.RUN_STARTING} <= kinds
    first, second = records
    # Timestamps recorded by the instance (run start/end events), not measured here.
    assert first.end_time is not None and second.start_time is not None
    assert first.end_time <= second.start_time, (
        f"the second training started at {datetime.fromtimestamp(second.start_time, timezone.utc)} before the "
        f"first ended at {datetime.fromtimestamp(first.end_time, timezone.utc)}")
    # The second was held in the queue while the first ran: enqueued before the first ended, launched after it.
    events = {e.dagster_event.event_type: e.timestamp for e in instance.all_logs(second.dagster_run.run_id)
              if e.dagster_event}
    assert events[DagsterEventType.RUN_ENQUEUED] < first.end_time <= events[DagsterEventType.RUN_STARTING]


def test_the_churn_graph_is_stored_in_postgres(stack):
    instance = stack["instance"]
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    # Every asset from ingestion through champion and endpoint, read back through the instance.
    for name in GRAPH:
        records = instance.fetch_materializations(AssetKey(["churn", name]), limit=100).records
        assert records, f"no materialization of churn/{name} in storage"
    raw = instance.fetch_materializations(AssetKey(["churn", "raw_data"]), limit=100).records
    assert sorted({r.partition_key for r in raw}) == DAYS
    # The event log of a training run: its steps succeeded.
    run_id = _training_records(instance)[0].dagster_run.run_id
    steps = {e.step_key for e in instance.all_logs(run_id, of_type=DagsterEventType.STEP_SUCCESS)}
    assert {"churn__candidate_model", "churn__champion", "churn__endpoint"} <= steps
    # And straight from PostgreSQL's tables: the same runs and materializations.
    with psycopg2.connect(stack["dagster_db"]) as conn, conn.cursor() as cur:
        cur.execute("select pipeline_name, status from runs")
        rows = cur.fetchall()
        assert rows.count((TRAIN_JOB, "SUCCESS")) == 2
        # The six ingestion runs (materialized in-process) beside them.
        assert sum(1 for name, status in rows if name != TRAIN_JOB and status == "SUCCESS") >= len(DAYS)
        cur.execute("select distinct asset_key from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'")
        stored = {tuple(json.loads(k)) for (k,) in cur.fetchall()}
        assert {("churn", name) for name in GRAPH} <= stored


def test_the_mlflow_server_holds_the_trainings(stack):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=stack["tracking"], registry_uri=stack["tracking"])
    versions = sorted(client.search_model_versions("name = 'churn'"), key=lambda v: int(v.version))
    assert [v.version for v in versions] == ["1", "2"]  # one registered version per training run
    model = client.get_registered_model("churn")
    assert model.aliases.get("champion") in {"1", "2"}
    champion = client.get_model_version_by_alias("churn", "champion")
    run = client.get_run(champion.run_id)
    assert run.data.params["estimator"] == "hist_gradient_boosting" and run.data.params["seed"]
    assert 0.5 < run.data.metrics["train_roc_auc"] <= 1.0
    # The plain REST API of the server says the same (what any client in another process or host reads).
    url = f"{stack['tracking']}/api/2.0/mlflow/registered-models/get?name=churn"
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = json.load(resp)
    aliases = {a["alias"]: a["version"] for a in body["registered_model"].get("aliases", [])}
    assert aliases["champion"] == champion.version
    # Artifacts went through the server to its local artifact root.
    assert client.list_artifacts(champion.run_id)
    assert any(p.is_file() for p in stack["artifacts"].rglob("*"))
    # The server's backend store is the PostgreSQL database.
    with psycopg2.connect(stack["mlflow_db"]) as conn, conn.cursor() as cur:
        cur.execute("select alias, version from registered_model_aliases where name = 'churn'")
        assert {alias: str(version) for alias, version in cur.fetchall()} == aliases == model.aliases


def test_the_simple_postgres_config_is_a_postgres_instance(tmp_path, monkeypatch):
    """deploy/dagster.postgres.yaml: PostgreSQL storage without the queue, for one machine."""
    with fresh_databases("dagster") as (url,):
        monkeypatch.setenv("MLOPS_PG_URL", sqlalchemy_url(url))
        (tmp_path / "dagster.yaml").write_text((REPO / "deploy" / "dagster.postgres.yaml").read_text())
        with DagsterInstance.from_config(str(tmp_path)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert instance.get_runs() == []
    assert yaml.safe_load((REPO / "deploy" / "dagster.production.yaml").read_text())["storage"]["postgres"] == {
        "postgres_url": {"env": "MLOPS_PG_URL"}}


def test_pgdb_creates_a_missing_database_once():
    """`make prod-home` / `make mlflow-server` create their database with mlops_assets.pgdb when it is missing."""
    import uuid

    from mlops_assets.pgdb import ensure_database, split_database

    name = f"mlops_test_pgdb_{uuid.uuid4().hex[:8]}"
    url = sqlalchemy_url(f"{SERVER}/{name}")
    try:
        assert ensure_database(url) is True
        assert ensure_database(url) is False
    finally:
        conn = psycopg2.connect(f"{SERVER}/postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
    assert split_database("postgresql+psycopg2://u:p@db:6543/mlflow") == ("postgresql://u:p@db:6543/postgres", "mlflow")
    with pytest.raises(ValueError, match="not a PostgreSQL database URL"):
        split_database("sqlite:////tmp/mlflow.db")
