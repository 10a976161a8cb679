"""Manual promotion (``evaluation.promotion: manual``): the train job stops at the evaluation report; a person
promotes by materializing the champion and the endpoint. Passing gates move the registry alias, the champion record
and the served version; failing gates leave all three exactly as they were and the run says why."""

from __future__ import annotations

import pytest
from dagster import AssetKey, RunConfig

from mlops_assets.definitions import build_definitions
from mlops_assets.training.assets import CandidateConfig

from .helpers import ENDPOINT

pytestmark = pytest.mark.timeout(600)

CHAMPION = AssetKey(["churn", "champion"])
REPORT = AssetKey(["churn", "evaluation_report"])


def train(defs, world, candidate: CandidateConfig | None = None):
    ops = {"churn__candidate_model": candidate} if candidate else {}
    return defs.resolve_job_def("churn__train").execute_in_process(
        instance=world.instance, run_config=RunConfig(ops=ops), raise_on_error=False)


def promote_by_hand(defs, world):
    """What "Materialize" on champion and endpoint in the UI launches: the asset job over that selection."""
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=world.instance, asset_selection=[CHAMPION, ENDPOINT], raise_on_error=False)


def latest(world, key: AssetKey) -> dict:
    event = world.instance.get_latest_materialization_event(key)
    return {k: v.value for k, v in event.asset_materialization.metadata.items()} | {"run_id": event.run_id}


def registry_champion(world) -> str | None:
    return world.resources["tracking"].alias_version("churn", "champion")


def test_manual_promotion_moves_alias_and_endpoint_only_when_the_gates_pass(manual_world):
    world = manual_world
    defs = build_definitions([world.spec], world.resources)
    champion_file = world.data_dir / "assets" / "churn" / "champion.json"

    # The train job leaves promotion to a person: v1 is evaluated, nothing is promoted or served.
    first = train(defs, world)
    assert first.success
    assert {e.materialization.asset_key for e in first.get_asset_materialization_events()} == {
        AssetKey(["churn", "training_set"]), AssetKey(["churn", "candidate_model"]), REPORT}
    assert registry_champion(world) is None and not champion_file.exists()
    assert not world.deployer.status(world.spec).running

    # Promoted by hand with passing gates: alias, record and endpoint move to v1.
    promoted = promote_by_hand(defs, world)
    assert promoted.success
    assert registry_champion(world) == "1"
    assert latest(world, CHAMPION)["champion_version"] == "1" and latest(world, CHAMPION)["moved"] is True
    assert promoted.output_for_node("churn__endpoint")["live_version"] == "1"
    assert world.version()["model_version"] == "1"

    # v2 (a constant predictor) fails the roc_auc threshold: the train job's blocking gate fails on its report.
    weak = train(defs, world, CandidateConfig(estimator="dummy"))
    assert not weak.success
    report = latest(world, REPORT)
    assert report["challenger_version"] == "2" and report["gates_passed"] is False
    before = (registry_champion(world), champion_file.read_text(), latest(world, CHAMPION), latest(world, ENDPOINT))

    refused = promote_by_hand(defs, world)
    assert not refused.success
    failure = refused.get_step_failure_events()[0]
    assert failure.step_key == "churn__champion"
    message = failure.step_failure_data.error.message
    assert "version 2 failed its promotion gates (meets_thresholds" in message
    assert "the champion alias was not moved" in message
    assert refused.get_asset_materialization_events() == []  # neither champion nor endpoint materialized
    assert (registry_champion(world), champion_file.read_text(), latest(world, CHAMPION),
            latest(world, ENDPOINT)) == before
    assert world.version()["model_version"] == "1"

    # A passing v3 afterwards promotes over v1 as usual.
    assert train(defs, world, CandidateConfig(estimator="logistic_regression")).success
    third = promote_by_hand(defs, world)
    assert third.success
    assert registry_champion(world) == "3" and latest(world, CHAMPION)["previous_champion"] == "1"
    assert third.output_for_node("churn__endpoint")["live_version"] == "3"
    assert world.version()["model_version"] == "3"
