"""Pure parts of deployment: the rollout plan, endpoint state, port mapping, endpoint targets, docker run config;
the Docker engine itself only when one answers."""

from __future__ import annotations

import dataclasses
import json
import socket

import pytest
from dagster import Failure

from mlops_assets.deployment.assets import EndpointConfig, _target, check_alias
from mlops_assets.deployment.deployers import DeploymentError, EndpointState, check_request
from mlops_assets.deployment.docker_deployer import (
    DockerDeployer,
    bind_mounts,
    color_port,
    container_labels,
    container_name,
    other_color,
    run_config,
)
from mlops_assets.deployment.layout import project_port, write_spec
from mlops_assets.deployment.local_process import LocalProcessDeployer
from mlops_assets.deployment.rollout import plan
from mlops_assets.spec import load_spec

from ..helpers import PROJECTS

V1 = {"model_uri": "models:/churn/1", "model_version": "1"}
V2 = {"model_uri": "models:/churn/2", "model_version": "2"}


def churn():
    return load_spec(PROJECTS / "churn.yaml")


@pytest.mark.parametrize(
    "status, target, strategy, weight, expected",
    [
        ({"live": None, "candidate": None}, V1, "blue_green", 0.0, ("load", "blue_green")),
        ({"live": V1, "candidate": None}, V1, "blue_green", 0.0, ("unchanged", None)),
        ({"live": V1, "candidate": None}, V2, "blue_green", 0.0, ("load", "blue_green")),
        ({"live": V1, "candidate": V2, "strategy": "canary", "weight": 0.1}, V2, "blue_green", 0.0, ("promote", None)),
        ({"live": V1, "candidate": V2, "strategy": "canary", "weight": 0.1}, V1, "blue_green", 0.0,
         ("drop_candidate", None)),
        ({"live": None, "candidate": None}, V1, "canary", 0.2, ("load", "blue_green")),  # nothing to canary against
        ({"live": V1, "candidate": None}, V2, "canary", 0.2, ("load", "canary")),
        ({"live": V1, "candidate": V2, "strategy": "canary", "weight": 0.2}, V2, "canary", 0.2, ("unchanged", None)),
        ({"live": V1, "candidate": V2, "strategy": "canary", "weight": 0.2}, V2, "canary", 0.5, ("load", "canary")),
        ({"live": V1, "candidate": V2, "strategy": "canary", "weight": 0.2}, V2, "shadow", 0.0, ("load", "shadow")),
        ({"live": V1, "candidate": None}, V1, "shadow", 0.0, ("unchanged", None)),
        ({"live": V1, "candidate": V2, "strategy": "shadow", "weight": 0.0}, V1, "canary", 0.3,
         ("drop_candidate", None)),
    ],
)
def test_rollout_plan(status, target, strategy, weight, expected):
    step = plan(status, target["model_uri"], target["model_version"], strategy, weight)
    assert (step.action, step.mode) == expected


def test_endpoint_state_from_server_is_json_serialisable():
    status = {"live": {**V2, "project": "churn"}, "previous": V1, "candidate": None, "strategy": "blue_green",
              "weight": 0.0}
    state = EndpointState.from_server("churn", "local_process", "http://127.0.0.1:8081", status, action="loaded",
                                      pid=42, port=8081)
    assert (state.live_version, state.previous_version, state.candidate_version) == ("2", "1", None)
    again = EndpointState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.live_version = "3"


@pytest.mark.parametrize("strategy, weight", [("rolling", 0.0), ("canary", 1.5), ("canary", -0.1)])
def test_check_request_rejects(strategy, weight):
    with pytest.raises(DeploymentError):
        check_request(strategy, weight)


def test_project_ports_are_stable_and_spec_port_wins(tmp_path):
    spec = churn()
    housing = load_spec(PROJECTS / "housing.yaml")
    assert project_port(tmp_path, spec, 9000) == 9000
    assert project_port(tmp_path, housing, 9000) == 9001
    assert project_port(tmp_path, spec, 9000) == 9000  # recorded, not recomputed
    pinned = spec.model_copy(update={"deployment": spec.deployment.model_copy(update={"port": 7777})})
    assert project_port(tmp_path, pinned, 9000) == 7777
    assert json.loads((tmp_path / "serving" / "ports.json").read_text()) == {"churn": 9000, "housing": 9001}


def test_written_spec_loads_back_as_the_same_spec(tmp_path):
    from mlops_assets.spec import load_spec as load

    spec = churn()
    path = write_spec(spec, tmp_path / "churn.yaml")
    assert load(path) == spec
    mtime = path.stat().st_mtime_ns
    write_spec(spec, path)
    assert path.stat().st_mtime_ns == mtime  # unchanged spec: not rewritten


def test_deployers_serve_on_loopback_only(tmp_path):
    local = LocalProcessDeployer(data_dir=str(tmp_path), tracking_uri="sqlite:///x.db", base_port=9100)
    assert local.endpoint_url(churn()) == "http://127.0.0.1:9100"
    assert local.log_dir(churn()) == tmp_path.resolve() / "predictions" / "churn"
    with pytest.raises(DeploymentError, match="127.0.0.1 only"):
        LocalProcessDeployer(data_dir=str(tmp_path), tracking_uri="x", host="0.0.0.0").endpoint_url(churn())
    docker = DockerDeployer(data_dir=str(tmp_path / "docker"), tracking_uri="x", base_port=9300)
    assert docker.endpoint_url(churn()) == "http://127.0.0.1:9300"  # no colour active yet: blue's port


def test_status_and_rollback_without_a_server(tmp_path):
    local = LocalProcessDeployer(data_dir=str(tmp_path), tracking_uri="sqlite:///x.db", base_port=9200)
    assert local.status(churn()).running is False
    with pytest.raises(DeploymentError, match="nothing to roll back"):
        local.rollback(churn())
    local.stop(churn())  # no-op


CHAMPION = {"registered_model": "churn", "version": "3", "previous_version": "2", "model_uri": "models:/churn/3"}


@pytest.mark.parametrize(
    "config, expected",
    [
        (EndpointConfig(), ("models:/churn/3", "3", "blue_green", 0.0)),
        (EndpointConfig(strategy="canary"), ("models:/churn/3", "3", "canary", 0.1)),
        (EndpointConfig(strategy="canary", weight=0.3), ("models:/churn/3", "3", "canary", 0.3)),
    ],
)
def test_endpoint_target(config, expected):
    """The endpoint serves the champion record's version; a rollback is a move of the alias, not an endpoint mode."""
    assert _target(churn(), config, CHAMPION) == expected


@pytest.mark.parametrize(
    "alias, match",
    [("2", "alias points at v2 but churn/champion records v3.*churn__sync_champion"),
     (None, "no 'champion' alias but churn/champion records v3")],
)
def test_endpoint_refuses_when_the_alias_left_the_record(alias, match):
    check_alias(churn(), "3", CHAMPION)  # in step: nothing to say
    with pytest.raises(Failure, match=match):
        check_alias(churn(), alias, CHAMPION)


def test_unknown_strategy_in_config_fails():
    with pytest.raises(Failure, match="unknown strategy 'rolling'"):
        _target(churn(), EndpointConfig(strategy="rolling"), CHAMPION)


# ------------------------------------------------------------ docker helpers
@pytest.mark.parametrize("color, expected", [(None, "blue"), ("blue", "green"), ("green", "blue")])
def test_other_color(color, expected):
    assert other_color(color) == expected


def test_color_ports_names_labels():
    assert color_port(8081, "blue", 1000) == 8081 and color_port(8081, "green", 1000) == 9081
    with pytest.raises(ValueError):
        color_port(8081, "red", 1000)
    assert container_name("churn", "green") == "mlops-serving-churn-green"
    labels = container_labels("churn", "3", "green", "models:/churn/3")
    assert labels["io.mlops-assets.project"] == "churn" and labels["io.mlops-assets.model-version"] == "3"
    assert labels["io.mlops-assets.color"] == "green"


def test_bind_mounts_same_path_and_tracking_store_outside(tmp_path):
    data = tmp_path / "data"
    inside = bind_mounts(str(data), f"sqlite:///{data}/mlflow/mlflow.db")
    assert inside == {str(data.resolve()): {"bind": str(data.resolve()), "mode": "rw"}}
    outside = bind_mounts(str(data), f"sqlite:///{tmp_path}/ml/mlflow.db")
    assert str((tmp_path / "ml").resolve()) in outside and len(outside) == 2
    assert len(bind_mounts(str(data), "http://mlflow:5000")) == 1


def test_run_config():
    config = run_config(image="mlops-serving:git-abc", project="churn", color="green", host_port=9081,
                        model_uri="models:/churn/3", version="3", data_version="fp1", spec_file="/d/serving/churn/churn.yaml",
                        log_dir="/d/predictions/churn", data_dir="/d", tracking_uri="sqlite:////d/mlflow/mlflow.db",
                        token_env="MLOPS_SERVING_TOKEN", token="s3cret", user="1000:1000")
    assert config["name"] == "mlops-serving-churn-green" and config["detach"] is True
    assert config["ports"] == {"8080/tcp": ("127.0.0.1", 9081)}  # published on loopback only
    assert config["environment"] == {"MLFLOW_TRACKING_URI": "sqlite:////d/mlflow/mlflow.db", "MLOPS_SERVING_TOKEN": "s3cret"}
    cmd = config["command"]
    assert cmd[cmd.index("--model-uri") + 1] == "models:/churn/3" and cmd[cmd.index("--log-dir") + 1] == "/d/predictions/churn"
    assert cmd[cmd.index("--data-version") + 1] == "fp1"
    assert config["volumes"] == {"/d": {"bind": "/d", "mode": "rw"}} and config["user"] == "1000:1000"
    no_token = run_config(**{**dict(image="i", project="churn", color="blue", host_port=1, model_uri="u", version="1",
                                    data_version=None, spec_file="s", log_dir="l", data_dir="/d", tracking_uri="t",
                                    token_env="T", token=None, user=None)})
    assert "T" not in no_token["environment"] and "--data-version" not in no_token["command"]
    assert "user" not in no_token


def _engine():
    try:
        import docker

        client = docker.from_env()
        client.ping()
        return client
    except Exception:
        return None


ENGINE = _engine()


@pytest.mark.skipif(ENGINE is not None, reason="checks the error without an engine")
def test_docker_deployer_without_engine_fails_clearly(tmp_path):
    deployer = DockerDeployer(data_dir=str(tmp_path), tracking_uri="sqlite:///x.db")
    with pytest.raises(DeploymentError, match="no Docker engine reachable"):
        deployer.deploy(churn(), "models:/churn/1", "1", "blue_green", 0.0, None)


@pytest.mark.skipif(ENGINE is None, reason="no Docker engine answers docker.from_env().ping() here")
@pytest.mark.timeout(1800)
def test_docker_blue_green_switch_and_rollback(tmp_path):
    """Builds the serving image, deploys v1 (blue) then v2 (green), rolls back to blue; needs an engine."""
    from mlops_assets_tests.serving.helpers import build_registry

    registry = build_registry(tmp_path / "ml")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    deployer = DockerDeployer(data_dir=str(tmp_path / "data"), tracking_uri=registry.uri, base_port=port,
                              green_offset=1, token_env="")
    spec = registry.spec
    try:
        first = deployer.deploy(spec, "models:/churn/1", "1", "blue_green", 0.0, None)
        assert first.color == "blue" and first.live_version == "1"
        second = deployer.deploy(spec, "models:/churn/2", "2", "blue_green", 0.0, None)
        assert second.color == "green" and second.live_version == "2"
        assert deployer.endpoint_url(spec).endswith(f":{port + 1}")
        with pytest.raises(DeploymentError):
            deployer.deploy(spec, "models:/churn/99", "99", "blue_green", 0.0, None)
        assert deployer.status(spec).live_version == "2"
        back = deployer.rollback(spec)
        assert back.color == "blue" and back.live_version == "1"
    finally:
        for color in ("blue", "green"):
            container = deployer._container(ENGINE, spec, color)
            if container is not None:
                container.remove(force=True)


def test_without_the_docker_sdk_the_docker_deployer_names_the_extra():
    """In a fresh interpreter where `import docker` fails (as without the 'docker' extra)."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['docker'] = None\n"
            "from mlops_assets.deployment.docker_deployer import docker_sdk\n"
            "from mlops_assets.deployment.errors import DeploymentError\n"
            "try:\n    docker_sdk()\nexcept DeploymentError as err:\n    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install "mlops-assets[docker]"' in out.stdout
