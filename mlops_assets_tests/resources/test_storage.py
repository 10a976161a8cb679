"""The storage module's public methods and the instance's latest record: what code loads values with, not paths."""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import AssetKey, DailyPartitionsDefinition, Output, ResourceParam, asset, materialize

from mlops_assets.records import latest, metadata_value
from mlops_assets.resources.storage import JsonIOManager, ParquetIOManager

DAYS = DailyPartitionsDefinition(start_date="2026-01-01")
KEY = AssetKey(["toy", "features"])


def _features(value: int):
    @asset(key=KEY, partitions_def=DAYS)
    def features(context):
        return Output(pd.DataFrame({"day": [context.partition_key], "value": [value]}), metadata={"value": value})

    return features


def test_a_materialized_partition_is_loaded_through_the_io_manager(tmp_path, instance):
    store = ParquetIOManager(data_dir=str(tmp_path))
    result = materialize([_features(1)], partition_key="2026-01-02", instance=instance, resources={"io_manager": store})
    frame = store.load_partition(KEY, "2026-01-02")
    assert frame.to_dict("records") == [{"day": "2026-01-02", "value": 1}]
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["path"].value == store.location(KEY, "2026-01-02")
    with pytest.raises(FileNotFoundError, match="materialize that partition first"):
        store.load_partition(KEY, "2026-01-03")


def test_a_written_partition_is_what_an_asset_loads_through_its_io_manager_resource(tmp_path, instance):
    store = ParquetIOManager(data_dir=str(tmp_path))
    store.write_partition(["toy", "features"], "2026-01-05", pd.DataFrame({"day": ["2026-01-05"], "value": [7]}))

    @asset(deps=[KEY])
    def total(io_manager: ResourceParam[ParquetIOManager]) -> pd.DataFrame:  # as training_set loads its window
        return pd.DataFrame({"total": [int(io_manager.load_partition(KEY, "2026-01-05")["value"].sum())]})

    assert materialize([total], instance=instance, resources={"io_manager": store}).success
    assert store.load_partition(["total"])["total"].tolist() == [7]


def test_a_failed_write_keeps_the_stored_partition_and_leaves_no_file(tmp_path):
    store = ParquetIOManager(data_dir=str(tmp_path))
    store.write_partition(KEY, "2026-01-02", pd.DataFrame({"value": [1]}))

    def half_written(tmp):
        tmp.write_bytes(b"PAR1 not a whole file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write_partition_file(KEY, "2026-01-02", half_written)
    assert store.load_partition(KEY, "2026-01-02")["value"].tolist() == [1]
    assert sorted(p.name for p in (tmp_path / "assets" / "toy" / "features").iterdir()) == ["2026-01-02.parquet"]


def test_a_record_round_trips_through_the_json_io_manager(tmp_path, instance):
    store = JsonIOManager(data_dir=str(tmp_path))

    @asset(key=["toy", "champion"], io_manager_key="json_io_manager")
    def champion():
        return {"version": "3", "metrics": {"roc_auc": 0.8}}

    materialize([champion], instance=instance, resources={"json_io_manager": store})
    assert store.load_record(["toy", "champion"]) == {"version": "3", "metrics": {"roc_auc": 0.8}}
    store.write_record(AssetKey(["toy", "champion"]), {"version": "4"})
    assert store.load_record(AssetKey(["toy", "champion"])) == {"version": "4"}
    with pytest.raises(FileNotFoundError, match="materialize it first"):
        store.load_record(["toy", "reference_profile"])


def test_latest_is_the_newest_materialization_of_the_asset_or_its_partition(tmp_path, instance):
    resources = {"io_manager": ParquetIOManager(data_dir=str(tmp_path))}
    assert latest(instance, KEY) is None and metadata_value(None, "value", "none") == "none"
    for value, day in [(1, "2026-01-02"), (2, "2026-01-03"), (3, "2026-01-02"), (4, "2026-01-04")]:
        assert materialize([_features(value)], partition_key=day, instance=instance, resources=resources).success
    assert metadata_value(latest(instance, KEY), "value") == 4
    assert metadata_value(latest(instance, KEY, "2026-01-02"), "value") == 3
    assert metadata_value(latest(instance, KEY, "2026-01-03"), "value") == 2
    first = latest(instance, KEY, "2026-01-02", before=latest(instance, KEY, "2026-01-03").timestamp)
    assert metadata_value(first, "value") == 1
    assert latest(instance, KEY, "2026-01-09") is None and metadata_value(first, "missing") is None
