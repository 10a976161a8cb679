"""reference_profile's declarative automation, ticked with Dagster's evaluator over a real instance: it follows the
champion (one request per new champion, none while nothing changed) and ignores a new training set on its own."""

from __future__ import annotations

import pytest
from dagster import AssetKey, AssetSelection, evaluate_automation_conditions

from mlops_assets.definitions import build_definitions
from mlops_assets.training.assets import CandidateConfig

from ..deployment.helpers import small_churn, small_world

pytestmark = pytest.mark.timeout(600)

REFERENCE = AssetKey(["churn", "reference_profile"])
TRAINING_SET = AssetKey(["churn", "training_set"])


class Ticks:
    """Successive evaluations of the project's automation conditions, each from the previous tick's cursor, as the
    `churn__automation_conditions` sensor evaluates them."""

    def __init__(self, defs, instance):
        self.defs, self.instance, self.cursor = defs, instance, None
        self.selection = AssetSelection.key_prefixes(["churn"])

    def requested(self) -> set[AssetKey]:
        result = evaluate_automation_conditions(self.defs, self.instance, asset_selection=self.selection,
                                                cursor=self.cursor)
        self.cursor = result.cursor
        keys = self.selection.resolve(self.defs.resolve_asset_graph())
        requested = {key for key in keys if result.get_num_requested(key)}
        assert result.total_requested == len(requested)  # unpartitioned: one request per asset at most
        return requested


def test_reference_profile_is_requested_once_per_new_champion_and_not_for_a_training_set_alone(tmp_path_factory):
    with small_world(tmp_path_factory, small_churn()) as world:
        defs = build_definitions([world.spec], world.resources)
        ticks = Ticks(defs, world.instance)

        # Data only: no champion yet, so nothing to profile.
        assert ticks.requested() == set()

        # A champion (training set -> candidate -> evaluation -> champion, without the reference): requested.
        assert world.train().success
        assert ticks.requested() == {REFERENCE}
        assert ticks.requested() == set()  # handled by the previous tick's request: not requested again

        # The requested run, as the sensor launches it; afterwards nothing is outstanding.
        run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=world.instance, asset_selection=[REFERENCE])
        assert run.success
        assert ticks.requested() == set()

        # A new training set whose candidate is not promoted must not move the reference.
        assert defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=world.instance, asset_selection=[TRAINING_SET]).success
        assert ticks.requested() == set()

        # A new champion (v2 promoted): requested again, once.
        assert world.train(CandidateConfig(estimator="logistic_regression")).success
        assert world.resources["tracking"].alias_version("churn", "champion") == "2"
        assert ticks.requested() == {REFERENCE}
        assert ticks.requested() == set()
