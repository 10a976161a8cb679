"""The deploy lock across processes: while another process holds a project's deploy lock, a deploy of the endpoint
here waits for it without touching the server, and goes ahead once the other process lets go."""

from __future__ import annotations

import multiprocessing
import os
import threading

import pytest

from mlops_assets.deployment.layout import ServingLayout

from .helpers import blocked_behind, hold_deploy_lock

pytestmark = pytest.mark.timeout(600)


def test_deploy_waits_while_another_process_holds_the_lock_and_proceeds_after_release(world):
    world.deployer.stop(world.spec)  # no server: the deploy below has to start one, so its effect is visible
    pid_file = ServingLayout(world.data_dir.resolve(), world.spec.name).pid_file
    assert not world.deployer.status(world.spec).running and not pid_file.exists()
    spawn = multiprocessing.get_context("spawn")
    held, release = spawn.Event(), spawn.Event()
    holder = spawn.Process(target=hold_deploy_lock, args=(
        world.deployer.data_dir, world.deployer.tracking_uri, world.spec, held, release))
    outcome = {}
    deploy = threading.Thread(target=lambda: outcome.update(result=world.deploy(raise_on_error=False)))
    holder.start()
    try:
        while not held.wait(timeout=0.1):
            assert holder.is_alive(), f"the holder process exited (code {holder.exitcode}) without taking the lock"
        deploy.start()
        # Until the kernel lists this process as waiting for the lock the holder has (or the deploy ends: a failure).
        while not blocked_behind(os.getpid(), holder.pid):
            deploy.join(timeout=0.05)
            assert deploy.is_alive(), "the deploy finished while another process held the project's deploy lock"
        assert not world.deployer.status(world.spec).running and not pid_file.exists()  # nothing started meanwhile
    finally:
        release.set()
        holder.join(timeout=120)
        if deploy.ident is not None:
            deploy.join(timeout=300)
    assert holder.exitcode == 0
    result = outcome["result"]
    assert result.success
    state = result.output_for_node("churn__endpoint")
    assert state["running"] and state["live_version"] == "1" and state["action"] == "loaded"
    assert world.version()["model_version"] == "1"
