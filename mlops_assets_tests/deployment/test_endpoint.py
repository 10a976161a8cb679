"""The endpoint asset through real Dagster, a real MLflow store and a real server process: deploy, promote,
roll back (the alias moves), restart a killed server, and keep serving when a deployment fails."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import requests
from mlops_assets.deployment.deployers import DeploymentError
from mlops_assets.deployment.layout import ServingLayout
from mlops_assets.training.assets import CandidateConfig
from mlops_assets_tests.serving.helpers import churn_raw, records

from .helpers import make_deployer

pytestmark = pytest.mark.timeout(600)


def endpoint_output(result) -> dict:
    return result.output_for_node("churn__endpoint")


def endpoint_metadata(result) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node("churn__endpoint")[0].metadata.items()}


def wait_dead(pid: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if open(f"/proc/{pid}/stat").read().split()[2] == "Z":
            return
        time.sleep(0.05)
    raise TimeoutError(f"pid {pid} still alive")


def test_deploy_promote_rollback_restart_and_failed_deploy(fresh_world):
    world = fresh_world  # starts from v1 alone, whatever the module's other tests did to the shared world
    rows = records(churn_raw(5, seed=3))

    # v1: the first deployment starts the server and swaps v1 live.
    first = world.deploy()
    state = endpoint_output(first)
    assert state["live_version"] == "1" and state["running"] and state["action"] == "loaded"
    meta = endpoint_metadata(first)
    assert meta["url"] == world.url() and meta["live_version"] == "1" and meta["strategy"] == "blue_green"
    assert world.version()["model_version"] == "1"
    assert world.version()["data_version"]  # the training-set fingerprint from the registry tag
    body = world.predict(rows)
    assert body["model_version"] == "1" and len(body["predictions"]) == 5
    unauthorized = requests.post(world.url("/predict"), json={"records": rows}, timeout=30)
    assert unauthorized.status_code == 401  # the token from the environment is enforced

    # Re-materializing with nothing new is a no-op on the server.
    assert endpoint_output(world.deploy())["action"] == "unchanged"

    # v2 promotes, and the endpoint swaps to it in the same server process.
    assert world.train(CandidateConfig(estimator="random_forest", params="{n_estimators: 20}")).success
    second = endpoint_output(world.deploy())
    assert second["live_version"] == "2" and second["previous_version"] == "1" and second["pid"] == state["pid"]
    assert world.version()["model_version"] == "2"
    assert world.predict(rows)["model_version"] == "2"

    # The rollback job moves the champion alias back to the previous champion (recorded at promotion) and serves it.
    job = world.definitions().resolve_job_def("churn__rollback")
    rolled = job.execute_in_process(instance=world.instance)
    assert rolled.success
    assert rolled.output_for_node("churn__endpoint")["live_version"] == "1"
    assert world.resources["tracking"].alias_version("churn", "champion") == "1"
    assert world.version()["model_version"] == "1"

    # A killed server is restarted by the next deployment, which serves the champion: v1, not the rolled-back v2.
    os.kill(second["pid"], signal.SIGKILL)
    wait_dead(second["pid"])
    assert not world.deployer.status(world.spec).running
    restarted = endpoint_output(world.deploy())
    assert restarted["pid"] != second["pid"] and restarted["live_version"] == "1"
    assert world.predict(rows)["model_version"] == "1"

    # A champion whose model cannot be loaded (a registry version with no model behind it) fails the
    # materialization; the endpoint keeps serving v1.
    client = world.resources["tracking"].client()
    broken = client.create_model_version("churn", source=str(world.data_dir / "no-such-model"), run_id=None).version
    champion_file = world.data_dir / "assets" / "churn" / "champion.json"
    good = champion_file.read_text()
    bad = {**json.loads(good), "version": str(broken), "model_uri": f"models:/churn/{broken}"}
    champion_file.write_text(json.dumps(bad))
    client.set_registered_model_alias("churn", "champion", str(broken))
    try:
        failed = world.deploy(raise_on_error=False)
    finally:
        champion_file.write_text(good)
        client.set_registered_model_alias("churn", "champion", "1")
    assert not failed.success
    failure = failed.get_step_failure_events()[0].step_failure_data.error
    assert f"models:/churn/{broken}" in failure.message and "keeps serving version 1" in failure.message
    assert world.version()["model_version"] == "1"
    assert world.predict(rows)["model_version"] == "1"
    assert world.deployer.status(world.spec).pid == restarted["pid"]


def test_canary_then_promote_by_blue_green(world):
    if len(world.resources["tracking"].client().search_model_versions("name='churn'")) < 2:
        assert world.train(CandidateConfig(estimator="random_forest", params="{n_estimators: 20}")).success
    world.deploy()  # champion live (v1 or v2, whatever the registry says now)
    live = world.version()["model_version"]
    other = "1" if live == "2" else "2"
    state = world.deployer.deploy(world.spec, f"models:/churn/{other}", other, "canary", 0.5, None)
    assert state.live_version == live and state.candidate_version == other and state.weight == 0.5
    versions = [world.predict(records(churn_raw(1, seed=i)))["model_version"] for i in range(4)]
    assert sorted(versions) == sorted([live, live, other, other])  # the router's exact counter split
    promoted = world.deployer.deploy(world.spec, f"models:/churn/{other}", other, "blue_green", 0.0, None)
    assert promoted.action == "promoted" and promoted.live_version == other and promoted.candidate_version is None
    back = world.deployer.rollback(world.spec)
    assert back.action == "previous_restored" and back.live_version == live


def test_endpoint_refuses_a_champion_record_the_alias_disagrees_with(world):
    world.deploy()
    live = world.version()["model_version"]
    champion_file = world.data_dir / "assets" / "churn" / "champion.json"
    good = champion_file.read_text()
    other = "2" if live == "1" else "1"
    champion_file.write_text(json.dumps({**json.loads(good), "version": other, "model_uri": f"models:/churn/{other}"}))
    try:
        result = world.deploy(raise_on_error=False)
    finally:
        champion_file.write_text(good)
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert f"alias points at v{live}" in message and f"records v{other}" in message and "churn__sync_champion" in message
    assert world.version()["model_version"] == live  # nothing redeployed


def test_port_taken_by_another_program_fails_clearly(world, tmp_path):
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        spec = world.spec.model_copy(update={"deployment": world.spec.deployment.model_copy(update={"port": port})})
        deployer = make_deployer(tmp_path, world.deployer.tracking_uri)
        with pytest.raises(DeploymentError, match=f"port {port} .* taken by another process"):
            deployer.deploy(spec, "models:/churn/1", "1", "blue_green", 0.0, None)


def test_server_that_does_not_come_up_names_its_log(world, tmp_path):
    deployer = make_deployer(tmp_path, world.deployer.tracking_uri, startup_timeout_s=0.01)
    try:
        with pytest.raises(DeploymentError, match="did not become healthy") as err:
            deployer.deploy(world.spec, "models:/churn/1", "1", "blue_green", 0.0, None)
        log_file = ServingLayout(tmp_path.resolve(), "churn").log_file
        assert str(log_file) in str(err.value) and log_file.exists()
        assert not deployer.status(world.spec).running
    finally:
        deployer.stop(world.spec)
