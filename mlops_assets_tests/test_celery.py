"""Steps on Celery: a real `dagster-celery` worker on the machine's RabbitMQ runs the steps of a churn ingestion
launched with MLOPS_EXECUTOR=celery (the deployment's choice, not the definitions'); the step events are read back
from the instance's PostgreSQL storage."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from mlops_assets.executors import DEFAULT_BROKER, celery_settings, executor_from_env

from .helpers import REPO
from .prod_support import BIN, DAYS, Service, fresh_databases, port_open, sqlalchemy_url, wait_for, write_small_churn

JOB = "churn__ingest"
STEPS = {"churn__raw_data", "churn__validated_data", "churn__features"}


@pytest.mark.timeout(900)
def test_ingestion_steps_run_on_a_celery_worker(tmp_path):
    if not port_open(5672):
        pytest.fail("RabbitMQ (the Celery broker) is not answering on 127.0.0.1:5672: `make services` starts it "
                    "(rabbitmq-server -detached)")
    home, data, logs = tmp_path / "home", tmp_path / "data", tmp_path / "logs"
    for d in (home, data, logs):
        d.mkdir()
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.production.yaml").read_text())
    projects = write_small_churn(tmp_path / "projects").parent
    queue = f"mlops_test_{uuid.uuid4().hex[:8]}"  # this test's own queue: no other worker takes its tasks
    with fresh_databases("dagster") as (dagster_db,):
        env = {**os.environ, "DAGSTER_HOME": str(home), "MLOPS_PG_URL": sqlalchemy_url(dagster_db),
               "MLOPS_DATA_DIR": str(data), "MLOPS_PROJECTS_DIR": str(projects),
               "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "MLOPS_EXECUTOR": "celery",
               "MLOPS_CELERY_BROKER": DEFAULT_BROKER, "MLOPS_CELERY_BACKEND": "rpc://", "MLOPS_CELERY_QUEUE": queue,
               # dagster-celery starts `celery` from the PATH: the venv's.
               "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        # The worker as `make worker` starts it.
        worker = Service("worker", [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                                    "-y", str(REPO / "deploy" / "celery.yaml"), "-q", queue, "--", "--concurrency", "1"],
                         env, logs, cwd=REPO)
        try:
            wait_for(lambda: "ready." in worker.log.read_text(errors="replace") or not worker.alive(), 180,
                     "the Celery worker", [worker.log])
            assert worker.alive(), worker.log.read_text()
            day = DAYS[0]
            proc = subprocess.run(
                [str(BIN / "dagster"), "job", "execute", "-m", "mlops_assets.definitions", "-j", JOB,
                 "--tags", json.dumps({"dagster/partition": day})],
                env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{worker.log.read_text()[-3000:]}"
        finally:
            worker.stop()

        os.environ["MLOPS_PG_URL"] = env["MLOPS_PG_URL"]
        try:
            with DagsterInstance.from_config(str(home)) as instance:
                (run,) = instance.get_runs(RunsFilter(job_name=JOB))
                assert run.status == DagsterRunStatus.SUCCESS
                assert run.tags["dagster/partition"] == day
                events = [e for e in instance.all_logs(run.run_id) if e.dagster_event]
        finally:
            os.environ.pop("MLOPS_PG_URL", None)

    succeeded = {e.step_key for e in events if e.dagster_event.event_type == DagsterEventType.STEP_SUCCESS}
    assert STEPS <= succeeded
    # Each step went to the test's queue as a Celery task ...
    submitted = " ".join(e.user_message for e in events if e.dagster_event.event_type == DagsterEventType.ENGINE_EVENT)
    for step in STEPS:
        assert f'Submitting celery task for step "{step}" to queue "{queue}"' in submitted
    # ... and ran in the worker's processes, not in the process that launched the run.
    run_pid = next(e.dagster_event.pid for e in events if e.dagster_event.event_type == DagsterEventType.RUN_START)
    step_pids = {e.dagster_event.pid for e in events if e.dagster_event.event_type == DagsterEventType.STEP_START}
    assert step_pids and run_pid not in step_pids
    materialized = {e.dagster_event.asset_key.path[-1] for e in events
                    if e.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION}
    assert {"raw_data", "validated_data", "features"} <= materialized


def test_components_merge_with_the_celery_executor(monkeypatch):
    """Two projects' definitions, each with the platform's (celery) executor, merge into one code location."""
    from dagster import Definitions

    from mlops_assets.definitions import build_project_definitions, platform_definitions
    from mlops_assets.executors import deployment_executor

    monkeypatch.setenv("MLOPS_EXECUTOR", "celery")
    deployment_executor.cache_clear()
    try:
        from mlops_assets.spec import load_spec

        from .helpers import PROJECTS

        merged = Definitions.merge(*(Definitions.merge(build_project_definitions(load_spec(PROJECTS / f"{n}.yaml")),
                                                        platform_definitions({})) for n in ("churn", "housing")))
        assert merged.executor is not None and merged.executor.name == "celery"
    finally:
        deployment_executor.cache_clear()


def test_executor_is_chosen_by_the_environment():
    assert executor_from_env({}).name == "in_process"
    assert executor_from_env({"MLOPS_EXECUTOR": "multiprocess"}).name == "multiprocess"
    assert executor_from_env({"MLOPS_EXECUTOR": "celery"}).name == "celery"
    with pytest.raises(ValueError, match="in_process, multiprocess, celery"):
        executor_from_env({"MLOPS_EXECUTOR": "dask"})
    # A URL set in the environment stays a reference to it (no broker password in the UI's config view).
    assert celery_settings({"MLOPS_CELERY_BROKER": "pyamqp://u:secret@mq//"})["broker"] == {"env": "MLOPS_CELERY_BROKER"}
    assert celery_settings({}) == {"broker": DEFAULT_BROKER, "backend": "rpc://",
                                   "config_source": {"task_default_queue": "dagster"}}
