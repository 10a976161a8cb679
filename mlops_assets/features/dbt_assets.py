"""A project's dbt feature models as Dagster assets: one dbt build per range of daily partitions.

The asset graph (one asset per model selected by `+<features.model>`, one asset check per dbt data test) is read
from dbt's manifest with `json` alone, laid out as dagster-dbt's `@dbt_assets` lays it out (a test holds them
equal), so loading the definitions imports neither dagster-dbt nor dbt-core (~1-3 s). The step runs dbt in-process
(`dbt_runner`, which says why not through dagster-dbt) and records each model as an output, each test as a check.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Failure,
    Output,
    PartitionsDefinition,
    ResourceParam,
    TableColumn,
    TableSchema,
    multi_asset,
)

from mlops_assets import constants as C
from mlops_assets.resources.dbt import DbtProjectResource
from mlops_assets.resources.storage import DataDirectory, ParquetIOManager
from mlops_assets.spec import DbtFeatures, ProjectSpec

#: DuckDB allows one writer per warehouse file: dbt steps share this concurrency pool (limit in dagster.yaml).
DUCKDB_POOL = "duckdb_warehouse"

#: dbt node types that are Dagster assets (dagster-dbt's ASSET_RESOURCE_TYPES); sources are only upstream deps.
ASSET_RESOURCE_TYPES = ("model", "seed", "snapshot")

#: Metadata keys dagster-dbt puts on its specs (kept so the UI and tooling see the same entries as before).
UNIQUE_ID_KEY = "dagster_dbt/unique_id"
MATERIALIZATION_TYPE_KEY = "dagster-dbt/materialization_type"


# ------------------------------------------------------------------ the manifest, as plain data (no Dagster)
@dataclass(frozen=True)
class DbtModelNode:
    """A dbt model (seed, snapshot) Dagster shows as an asset."""

    unique_id: str
    name: str
    key: tuple[str, ...]
    description: str
    deps: tuple[tuple[str, ...], ...]
    code_version: str | None
    materialized: str | None
    table_name: str | None
    relation_name: str | None
    #: (name, data type or "?", description, dbt tags) per documented column
    columns: tuple[tuple[str, str, str | None, tuple[str, ...]], ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class DbtTestNode:
    """A dbt data test attached to one selected model: an asset check named after the test."""

    unique_id: str
    name: str
    asset: tuple[str, ...]
    additional_deps: tuple[tuple[str, ...], ...]
    blocking: bool
    description: str | None


@dataclass(frozen=True)
class DbtGraph:
    """What `+<model>` selects in a manifest: its models (upstream first) and their tests."""

    models: tuple[DbtModelNode, ...]
    tests: tuple[DbtTestNode, ...]
    adapter_type: str | None
    project_id: str | None

    def model(self, name: str) -> DbtModelNode:
        return next(m for m in self.models if m.name == name)


def dbt_node_key(props: Mapping[str, Any], project: str, features_model: str) -> tuple[str, ...]:
    """A dbt node's asset key: sources are our assets `<source>/<table>`; the features model is
    `<project>/features`; other models `<project>/<name>`."""
    if props["resource_type"] == "source":
        return (props["source_name"], props["name"])
    if props["name"] == features_model:
        return (project, C.FEATURES_ASSET)
    return (project, props["name"])


def _description(props: Mapping[str, Any]) -> str:
    """The dbt description (or a stand-in), without the model's code: the UI shows it as the asset's one sentence
    (dagster-dbt appends the raw code under "Raw SQL:", which for a Python model is Python source)."""
    return (props.get("description") or f"dbt {props['resource_type']} {props['name']}").strip()


def _code_version(props: Mapping[str, Any]) -> str | None:
    code = props.get("raw_sql") or props.get("raw_code")
    if code:
        return hashlib.sha1(code.encode("utf-8")).hexdigest()
    return props.get("checksum", {}).get("checksum")


def read_dbt_graph(manifest: Mapping[str, Any], project: str, features_model: str) -> DbtGraph:
    """The models `+features_model` selects (the model and its upstream models) and the data tests on them.

    Mirrors what `@dbt_assets(select="+<model>")` with a ProjectDbtTranslator built: keys by `dbt_node_key`,
    deps through ephemeral models to the nearest models/sources, check names = test names, blocking for
    `severity: error` tests. Raises ValueError when the model is not in the manifest.
    """
    nodes: Mapping[str, Mapping[str, Any]] = manifest["nodes"]
    sources: Mapping[str, Mapping[str, Any]] = manifest.get("sources", {})
    target = next(
        (uid for uid, n in nodes.items() if n.get("resource_type") == "model" and n.get("name") == features_model),
        None,
    )
    if target is None:
        raise ValueError(
            f"project '{project}': features.model '{features_model}' is not a model of the dbt project; "
            "add it under dbt_project/models/ or fix the spec"
        )

    def props(uid: str) -> Mapping[str, Any] | None:
        return nodes.get(uid) or sources.get(uid)

    def is_asset(p: Mapping[str, Any]) -> bool:
        return p["resource_type"] in ASSET_RESOURCE_TYPES and p.get("config", {}).get("materialized") != "ephemeral"

    def upstream(uid: str) -> list[str]:
        """Nearest asset/source parents, looking through ephemeral models (and skipping macros etc.)."""
        out, queue, seen = [], list(props(uid).get("depends_on", {}).get("nodes", [])), set()
        while queue:
            parent = queue.pop(0)
            p = props(parent)
            if parent in seen or p is None:
                continue
            seen.add(parent)
            if p["resource_type"] == "source" or is_asset(p):
                out.append(parent)
            elif p["resource_type"] == "model":  # ephemeral: its parents stand in for it
                queue.extend(p.get("depends_on", {}).get("nodes", []))
        return out

    # The selection `+model`: the model and everything upstream of it (sources are deps, not assets).
    selected, order, stack = set(), [], [target]
    while stack:
        uid = stack.pop()
        if uid in selected:
            continue
        selected.add(uid)
        order.append(uid)
        stack.extend(p for p in props(uid).get("depends_on", {}).get("nodes", []) if p in nodes)
    key = {uid: dbt_node_key(props(uid), project, features_model) for uid in [*nodes, *sources] if props(uid)}

    models = []
    for uid in reversed(order):  # upstream first
        p = nodes[uid]
        if not is_asset(p):
            continue
        relation_parts = [p.get("database"), p.get("schema"), p.get("alias")]
        models.append(DbtModelNode(
            unique_id=uid,
            name=p["name"],
            key=key[uid],
            description=_description(p),
            deps=tuple(dict.fromkeys(key[u] for u in upstream(uid))),
            code_version=_code_version(p),
            materialized=p.get("config", {}).get("materialized"),
            table_name=".".join(part for part in relation_parts if part) or None,
            relation_name=p.get("relation_name"),
            columns=tuple(
                (name, c.get("data_type") or "?", c.get("description"), tuple(c.get("tags", [])))
                for name, c in p.get("columns", {}).items()
            ),
            tags=tuple(p.get("tags", [])),
        ))
    model_ids = {m.unique_id for m in models}

    tests = {}
    for uid, p in nodes.items():
        if p.get("resource_type") != "test":
            continue
        parents = [n for n in p.get("depends_on", {}).get("nodes", []) if props(n)]
        attached = p.get("attached_node") or (parents[0] if len(set(parents)) == 1 else None)
        if attached not in model_ids:
            continue
        severity = (p.get("config", {}).get("severity") or "error").lower()
        tests.setdefault((key[attached], p["name"]), DbtTestNode(
            unique_id=uid,
            name=p["name"],
            asset=key[attached],
            additional_deps=tuple(sorted({key[n] for n in manifest.get("parent_map", {}).get(uid, parents)
                                          if n in key} - {key[attached]})),
            blocking=severity == "error",
            description=p.get("meta", {}).get("description"),
        ))
    metadata = manifest.get("metadata", {})
    return DbtGraph(
        models=tuple(models),
        tests=tuple(sorted(tests.values(), key=lambda t: (t.asset, t.name))),
        adapter_type=metadata.get("adapter_type"),
        project_id=metadata.get("project_id"),
    )


# ------------------------------------------------------------------ Dagster definitions
#: Dagster's documented tag-key format (an optional ``namespace/`` prefix, then a name; each up to 63 of
#: ``A-Za-z0-9_.-``). dbt tags that do not fit are left out, as ``DagsterDbtTranslator.get_tags`` does (a test
#: holds the two equal).
_TAG_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,63}/)?[A-Za-z0-9_.-]{1,63}$")


def dbt_tags(tags) -> dict[str, str]:
    """dbt tags as Dagster tags (key: the tag, value ""), those that are not valid Dagster tag keys left out."""
    return {t: "" for t in tags if _TAG_KEY.match(t)}


def _asset_spec(model: DbtModelNode, graph: DbtGraph, spec: ProjectSpec) -> AssetSpec:
    schema = None
    if model.columns:
        schema = TableSchema(columns=[
            TableColumn(name=name, type=type_, description=description, tags={t: "" for t in tags})
            for name, type_, description, tags in model.columns
        ])
    metadata = {
        MATERIALIZATION_TYPE_KEY: model.materialized,
        "dagster/column_schema": schema,
        "dagster/table_name": model.table_name,
        "dagster/storage_kind": graph.adapter_type,
        UNIQUE_ID_KEY: model.unique_id,
        **({"dagster_dbt/project_id": graph.project_id} if graph.project_id else {}),
    }
    return AssetSpec(
        key=AssetKey(list(model.key)),
        deps=[AssetDep(AssetKey(list(d))) for d in model.deps],
        description=model.description,
        metadata={k: v for k, v in metadata.items() if v is not None},
        skippable=True,
        group_name=spec.name,
        code_version=model.code_version,
        tags={**dbt_tags(model.tags), **C.asset_tags(spec.name, C.FEATURES)},
        kinds={"dbt", graph.adapter_type or "dbt"},
    )


def _check_spec(test: DbtTestNode) -> AssetCheckSpec:
    return AssetCheckSpec(
        name=test.name,
        asset=AssetKey(list(test.asset)),
        description=test.description,
        additional_deps=[AssetKey(list(d)) for d in test.additional_deps],
        metadata={UNIQUE_ID_KEY: test.unique_id},
        blocking=test.blocking,
    )


def build_dbt_features(spec: ProjectSpec, partitions_def: PartitionsDefinition, manifest: Path) -> AssetsDefinition:
    assert isinstance(spec.features, DbtFeatures)
    model_name = spec.features.model
    graph = read_dbt_graph(json.loads(manifest.read_text()), spec.name, model_name)
    features = graph.model(model_name)
    features_key = AssetKey(list(features.key))
    specs = [_asset_spec(m, graph, spec) for m in graph.models]
    check_specs = [_check_spec(t) for t in graph.tests]
    # As dagster-dbt lays them out: outputs named after the key, optional (skippable specs) and typed Nothing (specs
    # without an IO manager; the data lives in DuckDB and the Parquet files written below).
    output_names = {s.key: s.key.to_python_identifier() for s in specs}
    check_keys = {c.key for c in check_specs}

    @multi_asset(
        name=f"{spec.name}__dbt_features",
        specs=specs,
        check_specs=check_specs,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        pool=DUCKDB_POOL,
        # dbt rebuilds the staging views for the range's days: a model alone would read another range's views.
        can_subset=False,
    )
    def _features(context: AssetExecutionContext, dbt: DbtProjectResource, storage: DataDirectory,
                  io_manager: ResourceParam[ParquetIOManager]):
        from mlops_assets.features import dbt_runner

        days = list(context.partition_keys)
        # The upstream partitions' files, from the storage module (the one home of the layout): dbt reads them.
        stored = {name: [io_manager.location(AssetKey([spec.name, name]), day) for day in days]
                  for name in (C.RAW_DATA, C.VALIDATED_DATA)}
        dbt_vars = {"data_dir": str(storage.root), "project": spec.name, "partition_days": days,
                    "partition_files": stored}
        log = {"info": context.log.info, "warn": context.log.warning, "error": context.log.error}
        # One dbt build for the whole range; failing tests come back as failed checks, not as an exception.
        context.log.info(f"Running dbt build --select +{model_name} for {len(days)} day(s) {days[0]}..{days[-1]}")
        try:
            result = dbt_runner.build(
                Path(dbt.project_dir), Path(dbt.profiles_dir), storage.root / "dbt", f"+{model_name}", dbt_vars,
                on_log=lambda level, message: log[level](message),
                run_name=f"{context.op_execution_context.op.name}-{context.run.run_id[:8]}",
            )
        except dbt_runner.DbtRunError as err:
            raise Failure(f"{spec.name}: {err}") from err
        outputs = {m.unique_id: output_names[AssetKey(list(m.key))] for m in graph.models}
        tests = {t.unique_id: t for t in graph.tests}
        built = {r.unique_id for r in result.by_type("model", "seed", "snapshot") if r.status == "success"}
        if features.unique_id in built:  # the day files exist before the features are reported built
            written = write_day_files(storage, io_manager, features.relation_name, features_key, days,
                                      spec.schema_.id_column, spec.schema_.event_time_column)
            for day, metadata in written.items():
                context.add_asset_metadata(metadata, asset_key=features_key, partition_key=day)
        for r in result.results:
            if r.unique_id in built and r.unique_id in outputs:
                yield Output(None, output_name=outputs[r.unique_id], metadata=_node_metadata(r, result))
            elif r.unique_id in tests and r.status != "skipped":
                yield _check_result(tests[r.unique_id], r, result)

        errors = [r for r in result.by_type("model", "seed", "snapshot") if r.status == "error"]
        if errors:  # a model in error: the step fails with dbt's errors
            lines = "; ".join(f"{r.name}: {r.message}" for r in errors)
            raise Failure(f"dbt build of '+{model_name}' failed: {lines}")
        not_built = [AssetKey(list(m.key)).to_user_string() for m in graph.models if m.unique_id not in built]
        if not_built:  # dbt skips the models downstream of a failing test: their day files cannot be written
            failed = sorted(tests[r.unique_id].name for r in result.results
                            if r.unique_id in tests and r.status in ("fail", "error"))
            models = ", ".join(not_built)
            raise Failure(
                f"dbt skipped {models} after failing tests: {', '.join(failed)}" if failed
                else f"dbt did not build {models}; see the dbt output in the step's logs",
                metadata={"failed_tests": ", ".join(failed)},
            )

    return _features


def _node_metadata(r, result) -> dict:
    """What dagster-dbt records on a model's materialization, from dbt's own run result."""
    return {UNIQUE_ID_KEY: r.unique_id, "Execution Duration": round(r.seconds, 3),
            **({"invocation_id": result.invocation_id} if result.invocation_id else {})}


def _check_result(test: DbtTestNode, r, result) -> AssetCheckResult:
    """A dbt test's result as the asset check of the same name (warn: failed, severity WARN)."""
    failures = r.failures or 0
    return AssetCheckResult(
        asset_key=AssetKey(list(test.asset)),
        check_name=test.name,
        passed=r.status == "pass",
        severity=AssetCheckSeverity.ERROR if test.blocking and r.status != "warn" else AssetCheckSeverity.WARN,
        metadata={**_node_metadata(r, result), "status": r.status, "dagster_dbt/failed_row_count": failures},
        description=r.message if r.status != "pass" else None,
    )


def write_day_files(storage: DataDirectory, store: ParquetIOManager, relation: str, key: AssetKey, days: list[str],
                    order_by: str, event_time: str) -> dict[str, dict]:
    """Store each day's rows of the features table dbt built as that partition (through the IO manager `store`,
    atomically), the day being the date of the spec's ``event_time`` column, which the features model must keep.

    Returns each day's metadata (rows, content hash of the file's rows).
    """
    import duckdb

    from mlops_assets.data.fingerprint import frame_fingerprint

    out = {}
    with duckdb.connect(str(storage.warehouse_path), read_only=True) as con:
        columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        missing = [c for c in (event_time, order_by) if c not in columns]
        if missing:
            raise Failure(f"the dbt model {relation} has no column(s) {missing}: keep the spec's event_time_column "
                          f"and id_column in the features model (its columns: {', '.join(columns)})")
        for day in days:
            written = {}

            def copy(tmp: Path) -> None:
                con.execute(
                    f"COPY (SELECT * FROM {relation} WHERE CAST(\"{event_time}\" AS DATE) = CAST(? AS DATE) "
                    f"ORDER BY \"{order_by}\") TO '{tmp}' (FORMAT parquet)", [day]
                )
                written["frame"] = con.execute("SELECT * FROM read_parquet(?)", [str(tmp)]).df()

            path = store.write_partition_file(key, day, copy)
            frame = written["frame"]
            out[day] = {"dagster/row_count": len(frame), "content_hash": frame_fingerprint(frame), "path": str(path)}
    return out
