"""Helpers for the tests in this package (imported by test modules; fixtures stay in conftest.py)."""

from __future__ import annotations

import contextlib
import socket
from datetime import datetime, timezone

import requests
from dagster import AssetKey, Definitions, RunConfig, instance_for_test, materialize

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.definitions import default_resources, local_tracking_uri

from mlops_assets.deployment.assets import build_endpoint, build_feedback, build_prediction_log, build_rollback_job, build_sync_champion_job
from mlops_assets.deployment.local_process import LocalProcessDeployer
from mlops_assets.monitoring.assets import build_reference_profile
from mlops_assets.project_assets import build_data_assets, build_model_assets
from mlops_assets.spec import PassthroughFeatures, load_spec
from mlops_assets.training.assets import CandidateConfig
from ..helpers import PROJECTS


DAYS = [f"2026-01-0{i}" for i in range(1, 7)]  # 4 train days + 2 holdout days


FEATURES = ["tenure_months", "contract", "monthly_charges", "support_calls", "late_payments", "payment_method", "region"]


TOKEN_ENV = "MLOPS_TEST_DEPLOY_TOKEN"


TOKEN = "test-token-4f1c"


ENDPOINT = AssetKey(["churn", "endpoint"])


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def small_churn():
    """Churn on passthrough features; a tolerance wide enough that any sane challenger promotes."""
    spec = load_spec(PROJECTS / "churn.yaml")
    return spec.model_copy(update={
        "features": PassthroughFeatures(kind="passthrough", columns=FEATURES),
        "training": spec.training.model_copy(update={"window_days": 4, "holdout_days": 2}),
        "evaluation": spec.evaluation.model_copy(update={"tolerance": 1.0, "max_slice_gap": None}),
    })


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_deployer(data_dir, tracking_uri: str, **kwargs) -> LocalProcessDeployer:
    kwargs.setdefault("base_port", free_port())
    return LocalProcessDeployer(data_dir=str(data_dir), tracking_uri=tracking_uri, token_env=TOKEN_ENV,
                                startup_timeout_s=kwargs.pop("startup_timeout_s", 120.0), stop_timeout_s=30.0,
                                request_timeout_s=120.0, **kwargs)


class World:
    """The shared project: instance, resources (deployer included), and helpers to train and deploy."""

    def __init__(self, spec, instance, data_dir, resources):
        self.spec, self.instance, self.data_dir, self.resources = spec, instance, data_dir, resources
        self.model_assets = build_model_assets(spec)
        self.deploy_assets = [build_endpoint(spec), build_prediction_log(spec), build_feedback(spec)]

    @property
    def deployer(self) -> LocalProcessDeployer:
        return self.resources["deployer"]

    def with_deployer(self, deployer) -> "World":
        return World(self.spec, self.instance, self.data_dir, {**self.resources, "deployer": deployer})

    def train(self, candidate: CandidateConfig | None = None):
        ops = {"churn__candidate_model": candidate} if candidate else {}
        return materialize(self.model_assets, instance=self.instance, resources=self.resources,
                           run_config=RunConfig(ops=ops), selection=[a.key for a in self.model_assets])

    def deploy(self, raise_on_error: bool = True, **config):
        ops = {"churn__endpoint": {"config": config}} if config else {}
        return materialize(self.model_assets + self.deploy_assets, instance=self.instance, resources=self.resources,
                           selection=[ENDPOINT], run_config={"ops": ops}, raise_on_error=raise_on_error)

    def definitions(self) -> Definitions:
        return Definitions(assets=self.model_assets + self.deploy_assets + [build_reference_profile(self.spec)],
                           jobs=[build_rollback_job(self.spec), build_sync_champion_job(self.spec)],
                           resources=self.resources)

    def url(self, path: str = "") -> str:
        return self.deployer.endpoint_url(self.spec) + path

    def version(self) -> dict:
        return requests.get(self.url("/version"), timeout=10).json()

    def predict(self, rows: list[dict]) -> dict:
        r = requests.post(self.url("/predict"), json={"records": rows}, headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()


@contextlib.contextmanager
def stopping(deployer, spec):
    try:
        yield deployer
    finally:
        deployer.stop(spec)


@contextlib.contextmanager
def small_world(tmp_path_factory, spec):
    """Six days of `spec`'s data in a real instance and MLflow store, with a deployer on a free port; nothing
    trained yet; its server (if any) stopped at the end."""
    import pytest

    data_dir = tmp_path_factory.mktemp("data")
    tracking_uri = local_tracking_uri(str(tmp_path_factory.mktemp("ml")))
    with pytest.MonkeyPatch.context() as mp, instance_for_test() as instance:
        mp.setenv(TOKEN_ENV, TOKEN)
        resources = {**default_resources(str(data_dir), tracking_uri=tracking_uri),
                     "deployer": make_deployer(data_dir, tracking_uri)}
        for day in DAYS:
            materialize(build_data_assets(spec, None), partition_key=day, instance=instance, resources=resources,
                        run_config=RunConfig(ops={f"{spec.name}__raw_data": RawDataConfig(rows=600)}))
        w = World(spec, instance, data_dir, resources)
        with stopping(w.deployer, spec):
            yield w


def hold_deploy_lock(data_dir: str, tracking_uri: str, spec, held, release) -> None:
    """In another process: take the project's deploy lock as a deployer there would, set `held`, keep it until
    `release` (a deployer does not pickle: it is rebuilt here from its settings)."""
    with make_deployer(data_dir, tracking_uri)._exclusive(spec):
        held.set()
        if not release.wait(timeout=300):
            raise TimeoutError("nobody released the deploy lock")


def blocked_behind(waiter: int, holder: int) -> bool:
    """Whether process `waiter` is blocked on a flock that process `holder` holds, as the kernel lists them in
    /proc/locks: ``N: FLOCK ADVISORY WRITE <pid> <maj:min:inode> ...`` for a holder, ``N: -> FLOCK ...`` for a waiter."""
    held, waiting = set(), set()
    with open("/proc/locks") as locks:
        for line in locks:
            fields = line.split()
            blocked = len(fields) > 1 and fields[1] == "->"
            fields = fields[2:] if blocked else fields[1:]
            if len(fields) < 5 or fields[0] != "FLOCK":
                continue
            pid, inode = int(fields[3]), fields[4]
            if blocked and pid == waiter:
                waiting.add(inode)
            elif not blocked and pid == holder:
                held.add(inode)
    return bool(held & waiting)
