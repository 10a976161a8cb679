"""The churn features through real dbt on DuckDB, as Dagster assets with dbt tests as checks."""

from __future__ import annotations

import pandas as pd
from dagster import AssetKey, RunConfig, materialize

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.features.churn import FEATURE_COLUMNS, compute_churn_features
from mlops_assets.project_assets import build_data_assets
from mlops_assets.resources.dbt import cached_manifest
from mlops_assets.resources.storage import asset_path
from mlops_assets.spec import load_spec

from ..helpers import PROJECTS

DAY = "2026-01-02"


def test_churn_features_via_dbt(instance, resources, data_dir):
    spec = load_spec(PROJECTS / "churn.yaml")
    assets = build_data_assets(spec, cached_manifest())
    result = materialize(
        assets, partition_key=DAY, instance=instance, resources=resources,
        run_config=RunConfig(ops={"churn__raw_data": RawDataConfig(rows=700)}),
    )
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey(["churn", "features"]) in materialized and AssetKey(["churn", "stg_churn"]) in materialized

    features = pd.read_parquet(asset_path(data_dir, ["churn", "features"], DAY))
    validated = pd.read_parquet(asset_path(data_dir, ["churn", "validated_data"], DAY))
    assert len(features) == len(validated) == 700
    assert list(features.columns) == ["customer_id", "event_time", "event_date", *FEATURE_COLUMNS, "churned"]
    # dbt produced exactly what the shared feature function computes (the definition serving will reuse).
    features = features.sort_values("customer_id").reset_index(drop=True)
    validated = validated.sort_values("customer_id").reset_index(drop=True)
    expected = compute_churn_features(validated)
    pd.testing.assert_frame_equal(features[FEATURE_COLUMNS], expected, check_dtype=False)
    assert (features["churned"].to_numpy() == validated["churned"].to_numpy()).all()

    dbt_checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations() if c.asset_key.path[-1] == "features"}
    assert "unique_churn_features_customer_id" in dbt_checks and all(dbt_checks.values()), dbt_checks


def test_a_new_data_directory_starts_from_the_prepared_parse(tmp_path):
    """The first dbt parse in a new data directory reuses the prepared project's parse (dbt's partial parsing
    finds nothing to parse) instead of parsing every file; without that cache it parses them all."""
    import json

    from mlops_assets.features import dbt_runner
    from mlops_assets.resources.dbt import DBT_PROJECT_DIR, prepare_manifest

    prepare_manifest()

    def parsed_files(target):
        dbt_runner.parse(DBT_PROJECT_DIR, DBT_PROJECT_DIR, target)
        return json.loads((target / "perf_info.json").read_text())["parsed_path_count"]

    assert parsed_files(tmp_path / "new" / "target") == 0
    unseeded = tmp_path / "unseeded" / "target"
    unseeded.mkdir(parents=True)
    (unseeded / dbt_runner.PARTIAL_PARSE_FILE).write_bytes(b"")  # an unusable cache: dbt parses everything
    assert parsed_files(unseeded) > 0


def test_a_build_without_the_stored_partitions_says_how_to_pass_them(tmp_path):
    """dbt reads the upstream files the storage module names (var partition_files), never a layout of its own."""
    from mlops_assets.features import dbt_runner
    from mlops_assets.resources.dbt import DBT_PROJECT_DIR

    vars_without_files = {"data_dir": str(tmp_path), "project": "churn", "partition_days": ["2026-01-05"]}
    lines = []
    result = dbt_runner.build(DBT_PROJECT_DIR, DBT_PROJECT_DIR, tmp_path / "dbt", "stg_churn", vars_without_files,
                              on_log=lambda level, message: lines.append(message))
    errors = [r for r in result.results if r.status == "error"]
    assert [r.name for r in errors] == ["stg_churn"]
    assert any("partition_files('validated_data')" in m and "--vars" in m for m in [*lines, *(r.message or "" for r in errors)])
