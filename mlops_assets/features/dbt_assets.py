"""A project's dbt feature models as Dagster assets: one dbt build per range of daily partitions."""


import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, BackfillPolicy, PartitionsDefinition
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from mlops_assets import constants as C
from mlops_assets.resources.storage import DataDirectory, asset_path
from mlops_assets.spec import DbtFeatures, ProjectSpec

#: DuckDB allows one writer per warehouse file: dbt steps share this concurrency pool (limit in dagster.yaml).
DUCKDB_POOL = "duckdb_warehouse"


class ProjectDbtTranslator(DagsterDbtTranslator):
    """Keys dbt nodes under the project: the features model is `<project>/features`, sources map to our assets."""

    def __init__(self, spec: ProjectSpec):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self._spec = spec

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        name = dbt_resource_props["name"]
        if isinstance(self._spec.features, DbtFeatures) and name == self._spec.features.model:
            return AssetKey([self._spec.name, C.FEATURES_ASSET])
        return AssetKey([self._spec.name, name])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return C.FEATURES

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        return {**super().get_tags(dbt_resource_props), "project": self._spec.name}


def build_dbt_features(spec: ProjectSpec, partitions_def: PartitionsDefinition, manifest: Path) -> AssetsDefinition:
    assert isinstance(spec.features, DbtFeatures)
    nodes = json.loads(manifest.read_text())["nodes"]
    if not any(n.get("resource_type") == "model" and n.get("name") == spec.features.model for n in nodes.values()):
        raise ValueError(
            f"project '{spec.name}': features.model '{spec.features.model}' is not a model of the dbt project; "
            "add it under dbt_project/models/ or fix the spec"
        )

    relation = next(
        n["relation_name"] for n in nodes.values()
        if n.get("resource_type") == "model" and n.get("name") == spec.features.model
    )
    features_key = AssetKey([spec.name, C.FEATURES_ASSET])

    @dbt_assets(
        manifest=manifest,
        select=f"+{spec.features.model}",
        name=f"{spec.name}__dbt_features",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        dagster_dbt_translator=ProjectDbtTranslator(spec),
        pool=DUCKDB_POOL,
    )
    def _features(context: AssetExecutionContext, dbt: DbtCliResource, storage: DataDirectory):
        days = list(context.partition_keys)
        dbt_vars = {"data_dir": str(storage.root), "partition_days": days}
        # One dbt start-up for the whole range; its events are held until the day files below exist.
        events = list(dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream())
        for day, metadata in write_day_files(storage, relation, features_key, days, spec.schema_.id_column).items():
            context.add_asset_metadata(metadata, asset_key=features_key, partition_key=day)
        yield from events

    return _features


def write_day_files(storage: DataDirectory, relation: str, key: AssetKey, days: list[str], order_by: str) -> dict[str, dict]:
    """Write each day's rows of the features table dbt built as that partition's Parquet file (atomically).

    Returns each day's metadata (rows, content hash of the file's rows).
    """
    import duckdb

    from mlops_assets.data.fingerprint import frame_fingerprint

    out = {}
    with duckdb.connect(str(storage.warehouse_path), read_only=True) as con:
        for day in days:
            path = asset_path(storage.root, list(key.path), day)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
            try:
                con.execute(
                    f"COPY (SELECT * FROM {relation} WHERE event_date = CAST(? AS DATE) ORDER BY \"{order_by}\") "
                    f"TO '{tmp}' (FORMAT parquet)", [day]
                )
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            frame = con.execute(f"SELECT * FROM read_parquet('{path}')").df()
            out[day] = {"dagster/row_count": len(frame), "content_hash": frame_fingerprint(frame), "path": str(path)}
    return out
