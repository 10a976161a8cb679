"""raw_data -> validated_data through a real Dagster instance: storage, determinism, blocking bad batches."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, AssetRecordsFilter, RunConfig, materialize

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.data.generators.registry import generate_batch
from mlops_assets.project_assets import build_data_assets
from mlops_assets.resources.storage import asset_path
from mlops_assets.spec import GeneratorSource, load_spec

from ..helpers import PROJECTS, churn_landing_spec

DAY = "2026-01-03"
CHURN = GeneratorSource(kind="generator", generator="churn", seed=42, rows_per_day=400)


def _passthrough_churn():
    """The shipped churn spec with pass-through features (keeps these tests off dbt; dbt has its own)."""
    spec = load_spec(PROJECTS / "churn.yaml")
    features = {"kind": "passthrough", "columns": ["tenure_months", "contract", "monthly_charges"]}
    return spec.model_copy(update={"features": _pt(features)})


def _pt(data):
    from mlops_assets.spec import PassthroughFeatures

    return PassthroughFeatures.model_validate(data)


def _data_version(instance, key: AssetKey, partition: str) -> str:
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1)
    return records.records[0].asset_materialization.tags["dagster/data_version"]


def _raw_config(**kwargs) -> RunConfig:
    return RunConfig(ops={"churn__raw_data": RawDataConfig(**kwargs)})


def test_partition_materializes_and_parquet_reads_back(instance, resources, data_dir):
    assets = build_data_assets(_passthrough_churn(), None)
    result = materialize(assets, partition_key=DAY, instance=instance, resources=resources, run_config=_raw_config(rows=500))
    assert result.success
    stored = pd.read_parquet(asset_path(data_dir, ["churn", "validated_data"], DAY))
    assert len(stored) == 500
    assert stored["event_time"].dt.date.eq(date(2026, 1, 3)).all()
    assert str(stored["event_time"].dtype) == "datetime64[ns]" and str(stored["tenure_months"].dtype) == "int64"
    features = pd.read_parquet(asset_path(data_dir, ["churn", "features"], DAY))
    assert list(features.columns) == ["customer_id", "event_time", "event_date", "tenure_months", "contract",
                                      "monthly_charges", "churned"]
    raw_meta = result.asset_materializations_for_node("churn__raw_data")[0].metadata
    assert raw_meta["dagster/row_count"].value == 500
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks


def test_same_partition_same_data_version_and_seed_changes_it(instance, resources):
    assets = build_data_assets(_passthrough_churn(), None)
    key = AssetKey(["churn", "raw_data"])
    versions = []
    for seed in (42, 42, 7):
        result = materialize(
            assets, partition_key=DAY, instance=instance, resources=resources,
            run_config=_raw_config(rows=300, seed=seed), selection=[key],
        )
        assert result.success
        versions.append(_data_version(instance, key, DAY))
    assert versions[0] == versions[1]
    assert versions[0] != versions[2]


# ------------------------------------------------------------------ bad batches
def _good(day: str = DAY, rows: int = 600) -> pd.DataFrame:
    return generate_batch(CHURN, date.fromisoformat(day), rows=rows)


def _with(frame: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    frame = frame.copy()
    if frame[column].dtype != object and isinstance(value, str):
        frame[column] = frame[column].astype(str)  # as a CSV/Parquet export with text in that column would
    frame.loc[row, column] = value
    return frame


BAD_BATCHES = {
    "missing_column": (lambda f: f.drop(columns=["monthly_charges"]), "columns_present", "monthly_charges"),
    "wrong_dtype": (lambda f: _with(f, "support_calls", 3, "lots"), "dtypes", "support_calls"),
    "out_of_range": (lambda f: _with(f, "tenure_months", 7, 999), "value_ranges", "tenure_months"),
    "unknown_category": (lambda f: _with(f, "contract", 11, "lifetime"), "categories", "contract"),
    "duplicate_ids": (lambda f: _with(f, "customer_id", 1, f.loc[0, "customer_id"]), "unique_ids", "customer_id"),
    "empty_batch": (lambda f: f.iloc[0:0], "min_rows", None),
}


def _landing_file(directory: Path, day: str = DAY) -> Path:
    return directory / f"churn_{day}.parquet"


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def landing(tmp_path) -> Path:
    d = tmp_path / "landing"
    d.mkdir()
    return d


@pytest.mark.parametrize("case", sorted(BAD_BATCHES))
def test_bad_batch_is_blocked_and_good_downstream_untouched(case, landing, instance, resources, data_dir):
    spec = churn_landing_spec(landing)
    assets = build_data_assets(spec, None)
    validated_key = AssetKey([spec.name, "validated_data"])
    # 1. A good batch goes all the way through.
    _good().to_parquet(_landing_file(landing), index=False)
    assert materialize(assets, partition_key=DAY, instance=instance, resources=resources).success
    stored = asset_path(data_dir, [spec.name, "validated_data"], DAY)
    digest_before = _file_digest(stored)
    version_before = _data_version(instance, validated_key, DAY)

    # 2. The same day's file is replaced by a bad batch.
    corrupt, check_name, column = BAD_BATCHES[case]
    corrupt(_good()).to_parquet(_landing_file(landing), index=False)
    result = materialize(assets, partition_key=DAY, instance=instance, resources=resources, raise_on_error=False)

    assert not result.success
    evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
    failed = evaluations[check_name]
    assert not failed.passed
    if column is not None:
        assert column in failed.metadata["failing_columns"].value
        assert failed.metadata["failure_count"].value >= 1
        assert column in failed.metadata["failure_cases"].value  # markdown sample of failure cases
    assert check_name in failed.metadata["summary"].value
    # Only the check that names this problem fails among the blocking ones.
    blocking_failed = {n for n, e in evaluations.items() if not e.passed and n not in ("null_fraction", "expected_row_count")}
    assert blocking_failed == {check_name}
    # Downstream did not run for that partition, and what it had stays as it was.
    assert not result.asset_materializations_for_node(f"{spec.name}__validated_data")
    assert _file_digest(stored) == digest_before
    assert _data_version(instance, validated_key, DAY) == version_before


def test_unreadable_and_missing_files_fail_clearly(landing, instance, resources, data_dir):
    spec = churn_landing_spec(landing)
    assets = build_data_assets(spec, None)
    _landing_file(landing).write_bytes(b"this is not parquet")
    result = materialize(assets, partition_key=DAY, instance=instance, resources=resources, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "Cannot read landing file" in message and str(_landing_file(landing)) in message
    assert not result.asset_materializations_for_node(f"{spec.name}__validated_data")
    assert not asset_path(data_dir, [spec.name, "validated_data"], DAY).exists()

    missing_day = "2026-01-04"
    result = materialize(assets, partition_key=missing_day, instance=instance, resources=resources, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert f"No landing file for {missing_day}" in failure.step_failure_data.error.message
    assert not asset_path(data_dir, [spec.name, "raw_data"], missing_day).exists()


def test_validated_data_refuses_bad_batch_on_its_own(landing, instance, resources):
    """Materialized alone (no blocking check in the run), validated_data still refuses a bad raw batch."""
    spec = churn_landing_spec(landing)
    assets = build_data_assets(spec, None)
    _with(_good(), "tenure_months", 7, 999).to_parquet(_landing_file(landing), index=False)
    materialize(assets, partition_key=DAY, instance=instance, resources=resources, raise_on_error=False,
                selection=[AssetKey([spec.name, "raw_data"])])
    result = materialize(assets, partition_key=DAY, instance=instance, resources=resources, raise_on_error=False,
                         selection=[AssetKey([spec.name, "validated_data"])])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "value_ranges" in failure.step_failure_data.error.message
