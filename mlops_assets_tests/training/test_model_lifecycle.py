"""Training -> evaluation -> promotion through a real Dagster instance and a real MLflow sqlite store."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, RunConfig, instance_for_test, materialize
from mlflow.entities import RunStatus

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.definitions import default_resources, local_tracking_uri
from mlops_assets.project_assets import build_data_assets, build_model_assets
from mlops_assets.resources.tracking import CHALLENGER, CHAMPION
from mlops_assets.spec import load_spec
from mlops_assets.training.assets import CandidateConfig
from mlops_assets.training.reproduce import reproduce

from ..helpers import PROJECTS
from .helpers import DAYS, small_churn

@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """Six days of churn features in a real instance, shared by this module's tests (each has its own MLflow)."""
    data_dir = tmp_path_factory.mktemp("data")
    spec = small_churn()
    with instance_for_test() as instance:
        for day in DAYS:
            result = materialize(
                build_data_assets(spec, None), partition_key=day, instance=instance,
                resources=default_resources(str(data_dir)),
                run_config=RunConfig(ops={"churn__raw_data": RawDataConfig(rows=700)}),
            )
            assert result.success
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


def checks(result) -> dict:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def materialized(result) -> set[str]:
    return {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}


def test_first_run_promotes_v1_and_worse_challenger_is_blocked(world):
    spec = small_churn()
    tracking = world[2]["tracking"]
    first = train(spec, world)
    assert first.success
    assert {"training_set", "candidate_model", "evaluation_report", "champion"} <= materialized(first)
    assert checks(first)["not_worse_than_champion"].metadata["summary"].value.startswith("no champion")
    report_meta = first.asset_materializations_for_node("churn__evaluation_report")[0].metadata
    assert "data:image/png;base64," in report_meta["plots"].value  # the curves render in the Dagster UI
    assert "roc_auc" in report_meta["metrics"].value and "contract" in report_meta["slices"].value
    # Readable in the UI: the confusion matrix and the champion's metrics as markdown tables, rounded; no MLflow UI
    # is configured here, so the run is named by id rather than linked.
    assert "| actual \\ predicted | negative (0) | positive (1) |" in report_meta["detail"].value
    assert "mlflow_run" not in report_meta and report_meta["mlflow_run_id"].value
    champion_meta = first.asset_materializations_for_node("churn__champion")[0].metadata
    rows = dict(line.strip("| ").split(" | ") for line in champion_meta["metrics"].value.splitlines()[2:])
    assert re.fullmatch(r"0\.\d{4}", rows["roc_auc"]), rows
    assert tracking.alias_version("churn", CHAMPION) == "1"
    # The logged model states what it needs (the installed versions), without MLflow's inference subprocess.
    from importlib.metadata import version

    import mlflow

    tracking.activate()
    reqs = Path(mlflow.artifacts.download_artifacts("models:/churn/1/requirements.txt", dst_path=str(world[1])))
    assert f"scikit-learn=={version('scikit-learn')}" in reqs.read_text().split()
    assert f"skops=={version('skops')}" in reqs.read_text().split()

    worse = train(spec, world, CandidateConfig(estimator="dummy", params="{strategy: prior}"))
    assert not worse.success
    gate = checks(worse)["not_worse_than_champion"]
    assert not gate.passed
    assert "champion" not in materialized(worse)
    assert tracking.alias_version("churn", CHAMPION) == "1"  # v1 still serves as champion
    assert tracking.alias_version("churn", CHALLENGER) == "2"
    champion_tags = tracking.client().get_model_version("churn", "1").tags
    assert "evaluation_summary" in champion_tags and champion_tags["previous_champion"] == "none"


def test_unmeetable_threshold_blocks_promotion(world):
    spec = small_churn(thresholds={"roc_auc": 0.99})
    result = train(spec, world)
    assert not result.success
    gate = checks(result)["meets_thresholds"]
    assert not gate.passed
    assert gate.metadata["metric"].value == "roc_auc"
    assert gate.metadata["threshold"].value == pytest.approx(0.99)
    assert 0.5 < gate.metadata["value"].value < 0.99
    assert "champion" not in materialized(result)
    assert world[2]["tracking"].alias_version("churn", CHAMPION) is None


def test_training_that_raises_leaves_failed_run_no_version_aliases_unchanged(world):
    spec = small_churn()
    tracking = world[2]["tracking"]
    assert train(spec, world).success
    client = tracking.client()
    before = {v.version for v in client.search_model_versions("name='churn'")}

    result = train(spec, world, CandidateConfig(params="{max_iter: -3}"))  # sklearn rejects it inside fit
    assert not result.success
    experiment = client.get_experiment_by_name("churn")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    assert runs[0].info.status == RunStatus.to_string(RunStatus.FAILED)
    assert {v.version for v in client.search_model_versions("name='churn'")} == before
    assert tracking.alias_version("churn", CHAMPION) == "1"
    assert tracking.alias_version("churn", CHALLENGER) == "1"


def test_reproduce_gives_identical_holdout_predictions(world):
    spec = small_churn()
    assert train(spec, world, CandidateConfig(estimator="random_forest", params="{n_estimators: 20}")).success
    result = reproduce(spec, world[2]["tracking"], "1", world[2]["io_manager"])
    assert result.identical_predictions and result.max_abs_diff == 0.0
    assert result.same_training_set and result.same_model_hash and result.same_spec
    assert result.holdout_rows == 2 * 700


def test_no_training_rows_from_after_holdout_start(world):
    spec = small_churn()
    instance, data_dir, resources = world
    assets = build_model_assets(spec)
    result = materialize(assets, instance=instance, resources=resources, selection=[AssetKey(["churn", "training_set"])])
    meta = result.asset_materializations_for_node("churn__training_set")[0].metadata
    holdout_start = pd.Timestamp(meta["holdout_start"].value)
    assert holdout_start.date() == date(2026, 1, 5)
    stored = pd.read_parquet(data_dir / "assets" / "churn" / "training_set.parquet")
    train_rows, holdout_rows = stored[stored["split"] == "train"], stored[stored["split"] == "holdout"]
    assert train_rows["event_time"].max() < holdout_start <= holdout_rows["event_time"].min()
    assert len(train_rows) == 4 * 700 and len(holdout_rows) == 2 * 700


def test_regression_project_trains_and_gates_on_rmse(tmp_path):
    """housing: landing CSVs -> pass-through features -> a regression champion, gated on rmse (lower is better)."""
    from mlops_assets.data.sources import write_sample_landing

    data_dir = tmp_path / "data"
    spec = load_spec(PROJECTS / "housing.yaml")
    spec = spec.model_copy(update={"training": spec.training.model_copy(update={"window_days": 3, "holdout_days": 1})})
    write_sample_landing(PROJECTS / "housing.yaml", data_dir, date(2026, 1, 1), 4)
    resources = default_resources(str(data_dir), tracking_uri=local_tracking_uri(str(tmp_path / "ml")))
    with instance_for_test() as instance:
        for day in ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]:
            assert materialize(build_data_assets(spec, None), partition_key=day, instance=instance, resources=resources).success
        assets = build_model_assets(spec)
        first = materialize(assets, instance=instance, resources=resources, selection=[a.key for a in assets])
        assert first.success
        assert resources["tracking"].alias_version("housing", CHAMPION) == "1"
        second = materialize(assets, instance=instance, resources=resources, raise_on_error=False,
                             selection=[a.key for a in assets],
                             run_config=RunConfig(ops={"housing__candidate_model": CandidateConfig(estimator="dummy")}))
    assert not second.success
    gate = checks(second)["not_worse_than_champion"]
    assert not gate.passed and "rmse" in gate.metadata["summary"].value
    assert resources["tracking"].alias_version("housing", CHAMPION) == "1"


def test_promoting_the_same_version_twice_keeps_the_recorded_previous_champion(world):
    spec = small_churn(tolerance=1.0)  # any second model that is not significantly worse promotes
    tracking = world[2]["tracking"]
    assert train(spec, world).success
    assert train(spec, world, CandidateConfig(seed=1)).success
    assert tracking.alias_version("churn", CHAMPION) == "2"
    instance, data_dir, resources = world
    again = materialize(build_model_assets(spec), instance=instance, resources=resources,
                        selection=[AssetKey(["churn", "champion"])])
    assert again.success
    record = __import__("json").loads((data_dir / "assets" / "churn" / "champion.json").read_text())
    assert record["version"] == "2" and record["previous_version"] == "1"  # still rollback-able to v1
