"""Production storage: the Dagster instance and the MLflow store on the real PostgreSQL of this machine."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg2
import pytest
import yaml
from dagster import DagsterInstance, RunConfig, materialize

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.definitions import default_resources
from mlops_assets.project_assets import build_data_assets, build_model_assets
from mlops_assets.resources.tracking import CHAMPION

from .helpers import REPO
from .training.helpers import DAYS, small_churn

SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def databases():
    """Two fresh databases (Dagster, MLflow) on the local PostgreSQL, dropped afterwards."""
    try:
        admin = psycopg2.connect(f"{SERVER}/postgres", connect_timeout=5)
    except psycopg2.OperationalError as err:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable ({err}); .ci/run starts it — run it, or start "
                    "the cluster with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
    admin.autocommit = True
    names = [f"mlops_test_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("dagster", "mlflow")]
    with admin.cursor() as cur:
        for name in names:
            cur.execute(f'CREATE DATABASE "{name}"')
    yield [f"{SERVER}/{name}" for name in names]
    with admin.cursor() as cur:
        for name in names:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_ingest_train_promote_on_postgres(databases, tmp_path, monkeypatch):
    dagster_url, mlflow_url = databases
    home = tmp_path / "dagster_home"
    home.mkdir()
    # The shipped production config, as a user would install it.
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.postgres.yaml").read_text())
    monkeypatch.setenv("MLOPS_PG_URL", dagster_url.replace("postgresql://", "postgresql+psycopg2://"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    spec = small_churn()
    resources = default_resources(str(tmp_path / "data"), tracking_uri=mlflow_url.replace("postgresql://", "postgresql+psycopg2://"))
    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        for day in DAYS:
            assert materialize(build_data_assets(spec, None), partition_key=day, instance=instance, resources=resources,
                               run_config=RunConfig(ops={"churn__raw_data": RawDataConfig(rows=500)})).success
        models = build_model_assets(spec)
        assert materialize(models, instance=instance, resources=resources, selection=[a.key for a in models]).success
        assert len(instance.get_runs()) == len(DAYS) + 1
    assert resources["tracking"].alias_version("churn", CHAMPION) == "1"
    with psycopg2.connect(dagster_url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from runs")
        assert cur.fetchone()[0] == len(DAYS) + 1
    with psycopg2.connect(mlflow_url) as conn, conn.cursor() as cur:
        cur.execute("select name, version from model_versions")
        assert cur.fetchall() == [("churn", 1)]
    assert yaml.safe_load((REPO / "deploy" / "dagster.postgres.yaml").read_text())["storage"]["postgres"]
    assert Path(home / "dagster.yaml").exists()
