"""reference_profile, drift_report and performance_report materialized with a small trained champion; freshness."""

from __future__ import annotations

import datetime as dt

import mlflow
import pandas as pd
import pytest
from dagster import AssetKey, RunConfig, materialize

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.definitions import default_resources, local_tracking_uri
from mlops_assets.monitoring.assets import build_monitoring_assets
from mlops_assets.monitoring.windows import SCORE
from mlops_assets.monitoring.freshness import apply_freshness, freshness_policies
from mlops_assets.project_assets import build_data_assets, build_model_assets
from mlops_assets.spec import PassthroughFeatures, load_spec

from ..helpers import PROJECTS
from .helpers import COVARIATE, LIVE_DAY, CONCEPT, LogWriter, raw_rows

DAYS = ["2026-01-01", "2026-01-02", "2026-01-03"]
FEATURES = ["tenure_months", "contract", "monthly_charges", "support_calls", "late_payments", "payment_method", "region"]


def small_spec():
    spec = load_spec(PROJECTS / "churn.yaml")
    return spec.model_copy(update={
        "end_date": dt.date(2026, 3, 1),
        "features": PassthroughFeatures(kind="passthrough", columns=FEATURES),
        "training": spec.training.model_copy(update={"window_days": 2, "holdout_days": 1}),
        "evaluation": spec.evaluation.model_copy(update={"thresholds": {}, "max_slice_gap": None}),
        "monitoring": spec.monitoring.model_copy(update={"min_feedback": 100}),
    })


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from dagster import instance_for_test

    data_dir = tmp_path_factory.mktemp("data")
    spec = small_spec()
    resources = default_resources(str(data_dir), tracking_uri=local_tracking_uri(str(data_dir / "ml")))
    with instance_for_test() as instance:
        for day in DAYS:
            assert materialize(build_data_assets(spec, None), partition_key=day, instance=instance, resources=resources,
                               run_config=RunConfig(ops={"churn__raw_data": RawDataConfig(rows=400)})).success
        models = build_model_assets(spec)
        assert materialize(models, instance=instance, resources=resources, selection=[a.key for a in models]).success
        yield spec, instance, data_dir, resources


def test_reference_drift_and_performance_reports(trained):
    spec, instance, data_dir, resources = trained
    monitoring = build_monitoring_assets(spec)
    reference_key = AssetKey(["churn", "reference_profile"])
    result = materialize(monitoring + build_model_assets(spec), instance=instance, resources=resources,
                         selection=[reference_key])
    assert result.success
    record = resources["json_io_manager"].load_record(reference_key)
    # Built from the newest reference_days (default: holdout_days = 1) of the window, not the train split.
    assert record["model_version"] == "1" and record["rows"] == 400 and record["reference_days"] == 1
    assert record["reference_window"] == {"first_day": DAYS[-1], "last_day": DAYS[-1], "days": 1, "rows": 400}
    stored = mlflow.artifacts.load_dict(f"runs:/{resources['tracking'].client().get_model_version('churn', '1').run_id}"
                                        "/reference/profile.json")
    assert stored["model_version"] == "1" and stored["features"] == record["features"]
    assert [f["name"] for f in record["features"]] == [*[c for c in FEATURES if c not in ("contract", "payment_method", "region")], SCORE, "contract", "payment_method", "region"]

    resources["tracking"].activate()
    model = mlflow.sklearn.load_model("models:/churn/1")
    log = LogWriter(data_dir, spec, model)
    drifted_day, concept_day = LIVE_DAY, LIVE_DAY + dt.timedelta(days=1)
    log.predictions(raw_rows(spec, drifted_day, 1500, COVARIATE), dt.datetime(2026, 2, 1, 9, tzinfo=dt.timezone.utc))
    raw = raw_rows(spec, concept_day, 800, CONCEPT)
    ids = log.predictions(raw, dt.datetime(2026, 2, 2, 9, tzinfo=dt.timezone.utc))
    log.feedback(ids, raw["churned"].to_numpy(), dt.datetime(2026, 2, 2, 18, tzinfo=dt.timezone.utc))

    drift_key, perf_key = AssetKey(["churn", "drift_report"]), AssetKey(["churn", "performance_report"])
    everything = monitoring + build_model_assets(spec)
    day = materialize(everything, instance=instance, resources=resources, selection=[drift_key], partition_key="2026-02-01")
    meta = day.asset_materializations_for_node("churn__drift_report")[0].metadata
    assert meta["decision"].value == "drift" and "monthly_charges" in meta["drifted_features"].value
    assert meta["plots"].value.startswith("![reference vs current](data:image/png;base64,")
    assert "| monthly_charges" in meta["table"].value
    table = pd.read_parquet(data_dir / "assets" / "churn" / "drift_report" / "2026-02-01.parquet")
    assert table.set_index("feature").loc["monthly_charges", "drifted"]

    empty = materialize(everything, instance=instance, resources=resources, selection=[drift_key], partition_key="2026-02-05")
    meta = empty.asset_materializations_for_node("churn__drift_report")[0].metadata
    assert meta["decision"].value == "no data" and "no live predictions" in meta["note"].value

    perf = materialize(everything, instance=instance, resources=resources, selection=[perf_key], partition_key="2026-02-02")
    meta = perf.asset_materializations_for_node("churn__performance_report")[0].metadata
    assert meta["decision"].value == "decayed" and meta["joined"].value == 800
    assert meta["value"].value < meta["baseline"].value


def test_freshness_policies_attach_to_plain_and_dbt_multi_assets():
    from mlops_assets.resources.dbt import cached_manifest

    spec = load_spec(PROJECTS / "churn.yaml")
    assets = apply_freshness(spec, build_data_assets(spec, cached_manifest()) + build_model_assets(spec))
    attached = {s.key.to_user_string(): s.freshness_policy for a in assets for s in a.specs if s.freshness_policy}
    policies = freshness_policies(spec)
    assert attached == {"churn/raw_data": policies["raw_data"], "churn/features": policies["features"],
                        "churn/champion": policies["champion"]}
    assert policies["champion"].fail_window.to_timedelta() == dt.timedelta(days=spec.monitoring.max_model_age_days)
    dbt = next(a for a in assets if AssetKey(["churn", "features"]) in a.keys)
    assert len(dbt.check_specs_by_output_name) > 0  # dbt tests survive the mapping
