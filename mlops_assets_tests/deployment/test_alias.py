"""The champion alias is the truth: rollbacks move it back through the promotion history, a hand-moved alias is
synced by the alias sensor, and the endpoint and the reference profile follow — through a real Dagster instance,
a real MLflow sqlite store and a real model server process."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from dagster import (
    AssetKey,
    Definitions,
    RunConfig,
    RunRequest,
    SkipReason,
    build_sensor_context,
    instance_for_test,
    materialize,
)

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.definitions import default_resources, local_tracking_uri
from mlops_assets.deployment.alias_sensor import alias_request, build_alias_sensor
from mlops_assets.deployment.assets import build_rollback_job, build_sync_champion_job
from mlops_assets.evaluation.champion import ChampionError, metrics_of, rollback_target
from mlops_assets.monitoring.assets import build_reference_profile, reference_rows
from mlops_assets.project_assets import build_data_assets
from mlops_assets.training.assets import CandidateConfig

from .helpers import DAYS, TOKEN, TOKEN_ENV, World, make_deployer, small_churn, stopping

pytestmark = pytest.mark.timeout(900)

LATER_DAY = "2026-01-07"  # ingested before v3: v3 trains on another window than v1 and v2


# ------------------------------------------------------------------ pure parts
def test_rollback_target_is_the_recorded_previous_champion():
    assert rollback_target("churn", "3", {"previous_champion": "2"}) == "2"
    for tags in ({}, {"previous_champion": "none"}):
        with pytest.raises(ChampionError, match="no previous champion recorded.*Nothing was changed"):
            rollback_target("churn", "1", tags)
    with pytest.raises(ChampionError, match="no 'champion' alias"):
        rollback_target("churn", None, {})


@pytest.mark.parametrize(
    "tags, run_metrics, expected",
    [
        ({"evaluation_summary": json.dumps({"metrics": {"roc_auc": 0.8}})}, {"holdout_roc_auc": 0.7}, {"roc_auc": 0.8}),
        ({"evaluation_summary": '{"metrics": {"roc_auc": 0.8'}, {"holdout_roc_auc": 0.7}, {"roc_auc": 0.7}),  # cut
        ({}, {"holdout_roc_auc": 0.7, "train_roc_auc": 0.9}, {"roc_auc": 0.7}),
        ({}, {"train_roc_auc": 0.9}, {}),
    ],
)
def test_metrics_of_a_version(tags, run_metrics, expected):
    assert metrics_of(tags, run_metrics) == expected


def test_reference_rows_are_the_newest_days_of_the_window_and_later_traffic():
    frame = pd.DataFrame({
        "t": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 00:00", "2026-01-03 23:59", "2026-01-05 08:00"]),
        "source": ["warehouse", "warehouse", "warehouse", "traffic"],
    })
    rows, window = reference_rows(frame, "t", 2)
    assert rows["t"].dt.day.tolist() == [2, 3, 5]  # the window's newest 2 days, plus the traffic dated after it
    assert window == {"first_day": "2026-01-02", "last_day": "2026-01-05", "days": 2, "rows": 3}
    rows, window = reference_rows(frame.drop(columns="source"), "t", 1)
    assert rows["t"].dt.day.tolist() == [5] and window["first_day"] == "2026-01-05"


def test_alias_request_decisions():
    written = "2026-01-08T00:00:00+00:00"
    assert "agree: v2 is the champion" in alias_request("churn", "2", "2", written).skip_message
    assert isinstance(alias_request("churn", None, None), SkipReason)
    assert "set the alias in MLflow" in alias_request("churn", None, "2", written).skip_message
    request = alias_request("churn", "3", "2", written)
    assert request.tags == {"project": "churn", "mlops/trigger": "alias_moved", "mlops/from_version": "2",
                            "mlops/to_version": "3"}
    assert request.run_config == {"reason": "'champion' alias moved in the registry from v2 to v3"}
    again = alias_request("churn", "3", "2", "2026-01-09T00:00:00+00:00")
    assert again.run_key != request.run_key  # the same move after another champion change is requested again
    assert alias_request("churn", "3", "2", written).run_key == request.run_key  # one request per move


# ------------------------------------------------------------------ through Dagster, MLflow and a server
class AliasWorld(World):
    """The shared World plus the reference profile, the rollback and sync jobs, and the alias sensor."""

    def __init__(self, spec, instance, data_dir, resources):
        super().__init__(spec, instance, data_dir, resources)
        self.reference = build_reference_profile(spec)
        sync = build_sync_champion_job(spec)
        self.sensor = build_alias_sensor(spec, sync)
        self.defs = Definitions(assets=self.model_assets + self.deploy_assets + [self.reference],
                                jobs=[build_rollback_job(spec), sync], sensors=[self.sensor], resources=resources)

    @property
    def tracking(self):
        return self.resources["tracking"]

    def alias(self) -> str | None:
        return self.tracking.alias_version("churn", "champion")

    def tags(self, version: str) -> dict:
        return self.tracking.client().get_model_version("churn", version).tags

    def ingest(self, day: str) -> None:
        assert materialize(build_data_assets(self.spec, None), partition_key=day, instance=self.instance,
                           resources=self.resources,
                           run_config=RunConfig(ops={"churn__raw_data": RawDataConfig(rows=600)})).success

    def promote(self, candidate: CandidateConfig | None = None):
        """Train, evaluate and promote a candidate, then build its reference (as the train job does)."""
        assets = self.model_assets + [self.reference]
        ops = {"churn__candidate_model": candidate} if candidate else {}
        result = materialize(assets, instance=self.instance, resources=self.resources, run_config=RunConfig(ops=ops),
                             selection=[a.key for a in assets], raise_on_error=False)
        assert result.success, [e.step_failure_data.error.message for e in result.get_step_failure_events()]
        return result.output_for_node("churn__champion")

    def run(self, job: str, **kwargs):
        return self.defs.resolve_job_def(job).execute_in_process(instance=self.instance, raise_on_error=False, **kwargs)

    def stored(self, name: str) -> dict:
        """The stored value of churn/<name>, loaded through its IO manager (Dagster's asset value loader)."""
        with self.defs.get_asset_value_loader(self.instance) as loader:
            return loader.load_asset_value(AssetKey(["churn", name]))

    def champion(self) -> dict:
        return self.stored("champion")

    def reference_record(self) -> dict:
        return self.stored("reference_profile")


def failure(result) -> str:
    return result.get_step_failure_events()[0].step_failure_data.error.message


@pytest.fixture(scope="module")
def alias_world(tmp_path_factory):
    """v1 and v2 trained on days 1-6, v3 on days 2-7, all promoted in turn and v3 deployed; servers stopped at the end."""
    data_dir = tmp_path_factory.mktemp("data")
    tracking_uri = local_tracking_uri(str(tmp_path_factory.mktemp("ml")))
    spec = small_churn()
    with pytest.MonkeyPatch.context() as mp, instance_for_test() as instance:
        mp.setenv(TOKEN_ENV, TOKEN)
        resources = {**default_resources(str(data_dir), tracking_uri=tracking_uri),
                     "deployer": make_deployer(data_dir, tracking_uri)}
        w = AliasWorld(spec, instance, data_dir, resources)
        for day in DAYS:
            w.ingest(day)
        assert w.promote()["version"] == "1"
        assert w.promote(CandidateConfig(seed=1))["version"] == "2"
        w.ingest(LATER_DAY)
        assert w.promote(CandidateConfig(seed=2))["version"] == "3"
        with stopping(w.deployer, spec):
            assert w.deploy().success
            yield w


def test_rollbacks_step_back_through_promotions_and_a_hand_moved_alias_is_synced(alias_world):
    w = alias_world
    assert w.alias() == "3" and w.version()["model_version"] == "3"
    assert w.reference_record()["model_version"] == "3"
    assert w.tags("3")["previous_champion"] == "2" and w.tags("2")["previous_champion"] == "1"

    # Rollback 1: the alias goes 3 -> 2; the reference (v2's, stored in its MLflow run: today's training set is
    # v3's) and the endpoint follow.
    before = w.reference_record()["created_at"]
    first = w.run("churn__rollback", run_config={"reason": "v3 misbehaves in production"})
    assert first.success
    assert w.alias() == "2" and w.version()["model_version"] == "2"
    record = w.champion()
    assert (record["version"], record["previous_version"], record["from_version"], record["action"]) == \
        ("2", "1", "3", "rollback")
    assert record["reason"] == "v3 misbehaves in production" and record["metrics"]["roc_auc"] > 0.5
    tags = w.tags("3")
    assert tags["rollback_reason"] == "v3 misbehaves in production" and tags["rolled_back_to"] == "2"
    assert tags["rolled_back_at"] and w.tags("2")["restored_at"] and w.tags("2")["restored_from"] == "3"
    reference = w.reference_record()
    assert reference["model_version"] == "2" and reference["created_at"] != before  # the drift history restarts
    assert reference["reference_window"]["last_day"] == DAYS[-1]  # v2's window, not today's training set
    meta = first.asset_materializations_for_node("churn__reference_profile")[0].metadata
    assert "reference/profile.json" in meta["source"].value and meta["training_set_matches_champion"].value is False
    change = first.asset_materializations_for_node("churn__champion")[0].metadata["change"].value
    assert "| rollback" in change and "v3" in change and "v2" in change

    # A fresh endpoint materialization keeps serving v2; re-promoting v3 from its (older) evaluation is refused.
    assert w.deploy().success and w.version()["model_version"] == "2"
    stale = materialize(w.model_assets, instance=w.instance, resources=w.resources, raise_on_error=False,
                        selection=[w.model_assets[-1].key])
    assert not stale.success and "v3 was rolled back" in failure(stale) and w.alias() == "2"

    # Rollback 2 steps back again (2 -> 1): never toggles to the version just rolled away from.
    assert w.run("churn__rollback").success
    assert w.alias() == "1" and w.version()["model_version"] == "1"
    assert w.champion()["previous_version"] is None and w.tags("2")["rollback_reason"] == "rollback requested"
    assert w.reference_record()["model_version"] == "1"

    # A third rollback has nowhere to go: it fails clearly and changes nothing.
    champion_before, reference_before = w.champion(), w.reference_record()
    third = w.run("churn__rollback", run_config={"reason": "again"})
    assert not third.success
    assert "cannot roll back: champion v1 has no previous champion" in failure(third)
    assert "churn__sync_champion" in failure(third)
    assert w.alias() == "1" and w.version()["model_version"] == "1" and "rolled_back_at" not in w.tags("1")
    assert w.champion() == champion_before and w.reference_record() == reference_before

    # The alias moved by hand in MLflow: the sensor requests the sync job, which serves what the alias says.
    w.tracking.client().set_registered_model_alias("churn", "champion", "3")
    sensor = w.sensor
    assert sensor.name == "churn__champion_alias" and sensor.job_name == "churn__sync_champion"
    assert sensor.minimum_interval_seconds == w.spec.monitoring.sensor_interval_seconds
    with build_sensor_context(instance=w.instance, resources=w.resources) as context:
        request = sensor(context)
    assert isinstance(request, RunRequest) and request.job_name in (None, "churn__sync_champion")
    assert request.tags["mlops/trigger"] == "alias_moved"
    assert (request.tags["mlops/from_version"], request.tags["mlops/to_version"]) == ("1", "3")
    synced = w.run("churn__sync_champion", tags=request.tags, run_config=request.run_config)
    assert synced.success
    assert w.version()["model_version"] == "3" and w.reference_record()["model_version"] == "3"
    record = w.champion()
    assert (record["version"], record["previous_version"], record["action"]) == ("3", "2", "sync")
    assert record["metrics"]["roc_auc"] > 0.5 and w.tags("3")["synced_from"] == "1"
    with build_sensor_context(instance=w.instance, resources=w.resources) as context:
        assert "agree: v3 is the champion" in sensor(context).skip_message


def test_after_a_rollback_the_endpoint_keeps_serving_the_restored_version(alias_world):
    w = alias_world
    restored = w.alias()
    new = w.promote(CandidateConfig(seed=7))
    assert new["previous_version"] == restored  # a promotion after rollbacks records the current alias
    assert w.tags(new["version"])["previous_champion"] == restored
    assert w.deploy().success and w.version()["model_version"] == new["version"]
    assert w.run("churn__rollback", run_config={"reason": "try the restored one"}).success
    assert w.alias() == restored and w.version()["model_version"] == restored
    again = w.deploy()  # e.g. the next train or a manual materialization of the endpoint alone
    assert again.success and again.output_for_node("churn__endpoint")["live_version"] == restored
    assert again.output_for_node("churn__endpoint")["action"] == "unchanged"
    assert w.version()["model_version"] == restored
