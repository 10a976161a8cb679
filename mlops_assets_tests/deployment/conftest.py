"""Fixtures for deployment tests: a small churn project with real Dagster, a real MLflow sqlite store and a
real model server process on 127.0.0.1 (always stopped on teardown)."""

from __future__ import annotations

import pytest
from dagster import RunConfig, instance_for_test, materialize

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.definitions import default_resources, local_tracking_uri
from mlops_assets.project_assets import build_data_assets
from .helpers import DAYS, TOKEN, TOKEN_ENV, World, make_deployer, small_churn, stopping


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Six days of churn features and a promoted v1 in a real instance and MLflow store; servers stopped at the end."""
    data_dir = tmp_path_factory.mktemp("data")
    tracking_uri = local_tracking_uri(str(tmp_path_factory.mktemp("ml")))
    spec = small_churn()
    with pytest.MonkeyPatch.context() as mp, instance_for_test() as instance:
        mp.setenv(TOKEN_ENV, TOKEN)
        resources = {**default_resources(str(data_dir), tracking_uri=tracking_uri),
                     "deployer": make_deployer(data_dir, tracking_uri)}
        for day in DAYS:
            materialize(build_data_assets(spec, None), partition_key=day, instance=instance, resources=resources,
                        run_config=RunConfig(ops={"churn__raw_data": RawDataConfig(rows=600)}))
        w = World(spec, instance, data_dir, resources)
        assert w.train().success
        with stopping(w.deployer, spec):
            yield w

