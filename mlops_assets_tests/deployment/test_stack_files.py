"""deploy/docker-compose.yaml and the Helm values: validated without an engine or a cluster.

The compose file goes through `docker compose config` when the Compose plugin is installed; otherwise (as on the
machine this project is tested on) it is validated against the Compose specification's JSON schema, which
`make compose-schema` (run by `make test`) takes from Debian's docker-compose package. The Helm values are checked
against deploy/dagster.production.yaml (the same queue, retries, monitoring); the Dagster chart's values schema is
published only on its Helm repository, which cannot be reached here, so they are not validated against it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from jsonschema.validators import validator_for

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yaml"
SCHEMA = REPO / ".cache" / "compose" / "compose_spec.json"
SERVICES = {"postgres", "webserver", "daemon", "code-location", "mlflow", "model-server", "rabbitmq", "worker"}
TEST_ENV = {"POSTGRES_PASSWORD": "not-a-secret"}


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable syntax as `docker compose config` applies it: $VAR, ${VAR}, ${VAR:-default},
    ${VAR-default}, ${VAR:?error}, ${VAR?error}; $$ is a literal $."""
    pattern = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")

    def sub(m: re.Match) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, arg = m.group(3), m.group(4)
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op and op.endswith("?") and unset:
            raise ValueError(f"required variable {name} is missing: {arg}")
        if op and op.endswith("-") and unset:
            return arg
        return value or ""

    return pattern.sub(sub, text)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), TEST_ENV))


def test_interpolation_follows_compose():
    assert interpolate("a ${X:-d} ${Y-e} $Z $$", {"Z": "z", "Y": ""}) == "a d  z $"
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):
        interpolate("${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}", {})


def test_compose_file_is_valid(compose):
    plugin = shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    if plugin:  # the real `docker compose config` (needs no engine)
        proc = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True,
                              text=True, env={**os.environ, **TEST_ENV}, timeout=60)
        assert proc.returncode == 0, proc.stderr
    assert SCHEMA.is_file(), "no Compose spec schema: run `make compose-schema` (make test does)"
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(validator_for(schema)(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_schema_validation_is_not_vacuous(compose):
    schema = json.loads(SCHEMA.read_text()) if SCHEMA.is_file() else pytest.fail("run `make compose-schema`")
    bad = {**compose, "services": {**compose["services"], "worker": {**compose["services"]["worker"], "restart": 3,
                                                                      "depends_on": "rabbitmq"}}}
    assert list(validator_for(schema)(schema).iter_errors(bad))


def test_the_stack_has_every_service_wired(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    declared = set(compose.get("volumes", {}))
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
    # The Dagster processes share one instance config and reach the code location over gRPC.
    for name in ("code-location", "webserver", "daemon", "worker"):
        env = services[name]["environment"]
        assert env["DAGSTER_CODE_SERVER_HOST"] == "code-location" and env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert "./dagster.production.yaml:/data/dagster_home/dagster.yaml:ro" in services[name]["volumes"]
        assert env["MLOPS_PG_URL"].endswith("@postgres:5432/dagster")
    assert services["webserver"]["entrypoint"][:3] == ["dagster-webserver", "-w", "/app/deploy/workspace.yaml"]
    assert services["daemon"]["entrypoint"][:2] == ["dagster-daemon", "run"]
    worker = services["worker"]["entrypoint"]
    assert worker[:3] == ["dagster-celery", "worker", "start"] and "/app/deploy/celery.yaml" in worker
    assert services["worker"]["environment"]["MLOPS_CELERY_BROKER"].startswith("pyamqp://") and "rabbitmq:5672" in \
        services["worker"]["environment"]["MLOPS_CELERY_BROKER"]
    mlflow = services["mlflow"]["command"]
    assert mlflow[mlflow.index("--backend-store-uri") + 1].endswith("@postgres:5432/mlflow") and "--serve-artifacts" in mlflow
    assert "CREATE DATABASE mlflow" in (DEPLOY / "postgres-init.sql").read_text()
    # The model server is the lean image, pointed at the MLflow server.
    assert services["model-server"]["image"].startswith("mlops-serving")
    assert services["model-server"]["environment"]["MLFLOW_TRACKING_URI"].startswith("http://")


def test_workspace_is_the_grpc_code_location():
    (entry,) = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())["load_from"]
    assert entry["grpc_server"]["host"] == {"env": "DAGSTER_CODE_SERVER_HOST"}
    assert entry["grpc_server"]["port"] == {"env": "DAGSTER_CODE_SERVER_PORT"}


def test_helm_values_match_the_production_instance():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    prod = yaml.safe_load((DEPLOY / "dagster.production.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["runLauncher"]["config"]["k8sRunLauncher"]["loadInclusterConfig"] is True
    queue = values["dagsterDaemon"]["runCoordinator"]
    assert queue["enabled"] and queue["type"] == "QueuedRunCoordinator"
    limits = queue["config"]["queuedRunCoordinator"]
    assert limits["maxConcurrentRuns"] == prod["concurrency"]["runs"]["max_concurrent_runs"]
    assert limits["tagConcurrencyLimits"] == prod["concurrency"]["runs"]["tag_concurrency_limits"]
    retries = values["dagsterDaemon"]["runRetries"]
    assert (retries["enabled"], retries["maxRetries"], retries["retryOnAssetOrOpFailure"]) == (
        prod["run_retries"]["enabled"], prod["run_retries"]["max_retries"], prod["run_retries"]["retry_on_asset_or_op_failure"])
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is prod["run_monitoring"]["enabled"] is True
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "mlops_assets.definitions"]
    assert (REPO / "mlops_assets" / "definitions.py").is_file()
    # No credentials in the values: PostgreSQL's password and the platform's URLs come from secrets.
    assert values["postgresql"]["enabled"] is False and "postgresqlPassword" not in values["postgresql"]
    assert deployment["envSecrets"] == [{"name": "mlops-assets-env"}]
