"""evaluation.promotion_rule through a real Dagster instance and a real MLflow sqlite store, on identical data."""

from __future__ import annotations

import json

import pytest
from dagster import AssetKey, RunConfig, instance_for_test, materialize

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.definitions import default_resources, local_tracking_uri
from mlops_assets.project_assets import build_data_assets, build_model_assets
from mlops_assets.resources.tracking import CHALLENGER, CHAMPION
from mlops_assets.spec import PassthroughFeatures, load_spec
from mlops_assets.training.assets import CandidateConfig

from ..helpers import PROJECTS

DAYS = [f"2026-01-0{i}" for i in range(1, 7)]  # 4 train days + 2 holdout days
FEATURES = ["tenure_months", "contract", "monthly_charges", "support_calls", "late_payments", "payment_method", "region"]
TOLERANCE = 1.0  # so wide that only the promotion rule can block a challenger
FOREST = "{n_estimators: 40, min_samples_leaf: 5}"


def small_churn(**evaluation):
    """Churn on passthrough features; no thresholds or slice bound, so not_worse_than_champion alone decides."""
    spec = load_spec(PROJECTS / "churn.yaml")
    evaluation = {"thresholds": {}, "max_slice_gap": None, "tolerance": TOLERANCE, **evaluation}
    return spec.model_copy(update={
        "features": PassthroughFeatures(kind="passthrough", columns=FEATURES),
        "training": spec.training.model_copy(update={"window_days": 4, "holdout_days": 2}),
        "evaluation": spec.evaluation.model_copy(update=evaluation),
    })


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """Six days of churn features in a real instance, shared by this module's tests (each has its own MLflow)."""
    data_dir = tmp_path_factory.mktemp("data")
    spec = small_churn()
    with instance_for_test() as instance:
        for day in DAYS:
            assert materialize(
                build_data_assets(spec, None), partition_key=day, instance=instance,
                resources=default_resources(str(data_dir)),
                run_config=RunConfig(ops={"churn__raw_data": RawDataConfig(rows=600)}),
            ).success
        yield instance, data_dir


@pytest.fixture
def world(ingested, tmp_path):
    instance, data_dir = ingested
    resources = default_resources(str(data_dir), tracking_uri=local_tracking_uri(str(tmp_path / "ml")))
    return instance, data_dir, resources


def train(spec, world, candidate: CandidateConfig | None = None):
    instance, _, resources = world
    assets = build_model_assets(spec)
    ops = {"churn__candidate_model": candidate} if candidate else {}
    return materialize(assets, instance=instance, resources=resources, raise_on_error=False,
                       run_config=RunConfig(ops=ops), selection=[a.key for a in assets])


def reevaluate(spec, world):
    """Evaluate the stored candidate again (same model, same holdout) under ``spec``, then try to promote it."""
    instance, _, resources = world
    keys = [AssetKey(["churn", "evaluation_report"]), AssetKey(["churn", "champion"])]
    return materialize(build_model_assets(spec), instance=instance, resources=resources, raise_on_error=False,
                       selection=keys)


def gate(result):
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "not_worse_than_champion"]
    return check


def materialized(result) -> set[str]:
    return {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}


def report(world) -> dict:
    return json.loads((world[1] / "assets" / "churn" / "evaluation_report.json").read_text())


def improvement_ci(report: dict) -> tuple[float, float]:
    c = report["comparison"]
    return (c["ci_low"], c["ci_high"]) if c["higher_is_better"] else (-c["ci_high"], -c["ci_low"])


def test_significantly_worse_challenger_is_blocked_even_within_tolerance(world):
    spec = small_churn()
    tracking = world[2]["tracking"]
    assert train(spec, world).success
    assert tracking.alias_version("churn", CHAMPION) == "1"

    worse = train(spec, world, CandidateConfig(estimator="dummy", params="{strategy: prior}"))
    assert not worse.success
    evaluated = report(world)
    assert evaluated["challenger_version"] == "2" and evaluated["promotion_rule"] == "non_inferior"
    low, high = improvement_ci(evaluated)
    assert -TOLERANCE <= low <= high < 0  # inside the tolerance, so only "entirely below zero" can block it
    check = gate(worse)
    assert not check.passed
    summary = check.metadata["summary"].value
    assert summary.startswith("failed (rule non_inferior): challenger significantly worse than champion: roc_auc")
    assert "lies entirely below zero" in summary
    assert {c.check_name for c in worse.get_asset_check_evaluations() if not c.passed} == {"not_worse_than_champion"}
    assert "champion" not in materialized(worse)
    assert tracking.alias_version("churn", CHAMPION) == "1"
    assert tracking.alias_version("churn", CHALLENGER) == "2"
    meta = worse.asset_materializations_for_node("churn__evaluation_report")[0].metadata
    assert meta["promotion_rule"].value == "non_inferior"
    assert "Promotion rule **non_inferior**: failed (rule non_inferior)" in meta["metrics"].value


def test_superior_rule_blocks_a_merely_non_inferior_challenger_that_non_inferior_promotes(world):
    superior, non_inferior = small_churn(promotion_rule="superior"), small_churn(promotion_rule="non_inferior")
    tracking = world[2]["tracking"]
    first = train(superior, world, CandidateConfig(estimator="random_forest", params=FOREST, seed=1))
    assert first.success and gate(first).metadata["summary"].value.startswith("no champion")
    assert tracking.alias_version("churn", CHAMPION) == "1"

    # the same estimator and data, another seed: about as good as the champion
    rival = train(superior, world, CandidateConfig(estimator="random_forest", params=FOREST, seed=2))
    assert not rival.success
    strict = report(world)
    assert strict["challenger_version"] == "2" and strict["promotion_rule"] == "superior"
    low, high = improvement_ci(strict)
    assert low < 0 < high  # the CI straddles zero: not worse, not shown better
    assert not gate(rival).passed
    assert gate(rival).metadata["summary"].value.startswith("failed (rule superior): challenger not shown better")
    assert "champion" not in materialized(rival)
    assert tracking.alias_version("churn", CHAMPION) == "1"

    lenient = reevaluate(non_inferior, world)  # the very same v2 on the same holdout
    assert lenient.success
    relaxed = report(world)
    assert relaxed["challenger_version"] == "2" and relaxed["promotion_rule"] == "non_inferior"
    assert relaxed["comparison"] == strict["comparison"]
    assert gate(lenient).passed
    assert gate(lenient).metadata["summary"].value.startswith("passed (rule non_inferior)")
    assert "champion" in materialized(lenient)
    assert tracking.alias_version("churn", CHAMPION) == "2"
