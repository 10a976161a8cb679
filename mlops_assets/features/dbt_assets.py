"""A project's dbt feature models as Dagster assets (one daily partition per dbt build)."""


import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, PartitionsDefinition
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from mlops_assets import constants as C
from mlops_assets.resources.storage import DataDirectory
from mlops_assets.spec import DbtFeatures, ProjectSpec

@contextlib.contextmanager
def dbt_environment(values: dict[str, str]) -> Iterator[None]:
    """Set env vars for the dbt subprocess started inside the block, then restore them.

    DbtCliResource hands the subprocess a copy of os.environ; dbt steps never run concurrently in one process
    (in-process executor, and the duckdb pool limit of 1), so the window in which they are set is safe.
    """
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


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

    @dbt_assets(
        manifest=manifest,
        select=f"+{spec.features.model}",
        name=f"{spec.name}__dbt_features",
        partitions_def=partitions_def,
        dagster_dbt_translator=ProjectDbtTranslator(spec),
        pool=DUCKDB_POOL,
    )
    def _features(context: AssetExecutionContext, dbt: DbtCliResource, storage: DataDirectory):
        # DuckDB's COPY does not create folders: make the one the features Parquet lands in.
        (storage.assets_dir / spec.name / C.FEATURES_ASSET).mkdir(parents=True, exist_ok=True)
        env = {"MLOPS_DATA_DIR": str(storage.root), "MLOPS_PARTITION_DATE": context.partition_key}
        with dbt_environment(env):  # read by the dbt subprocess, which starts inside dbt.cli()
            invocation = dbt.cli(["build"], context=context)
        yield from invocation.stream()

    return _features
