"""The dbt feature assets are declared from the manifest alone: loading the definitions imports neither dagster-dbt
nor dbt-core; dbt (through dagster-dbt) runs in the step, where failing tests become failed checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
from dagster import AssetKey, DagsterEventType, RunConfig, materialize

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.features.dbt_assets import read_dbt_graph
from mlops_assets.project_assets import build_data_assets
from mlops_assets.resources.dbt import cached_manifest
from mlops_assets.resources.storage import asset_path
from mlops_assets.spec import load_spec

from ..helpers import PROJECTS, REPO

DAY = "2026-01-02"
STG, FEATURES = AssetKey(["churn", "stg_churn"]), AssetKey(["churn", "features"])
#: The dbt data tests of dbt_project/models/churn/schema.yml, under the check names dagster-dbt gave them.
STG_CHECKS = {"unique_stg_churn_customer_id", "not_null_stg_churn_customer_id"}
FEATURE_CHECKS = {
    "unique_churn_features_customer_id",
    "not_null_churn_features_customer_id",
    "not_null_churn_features_event_date",
    "accepted_values_churn_features_contract__month_to_month__one_year__two_year",
    "not_null_churn_features_avg_monthly_spend",
    "in_range_churn_features_avg_monthly_spend__0",
    "in_range_churn_features_late_payment_rate__0",
    "accepted_values_churn_features_churned__False__0__1",
}

_BUILD_SHIPPED = """
import json, sys
from mlops_assets.definitions import build_definitions, projects_dir
from mlops_assets.spec import load_specs
defs = build_definitions(load_specs(projects_dir()))
graph = defs.resolve_asset_graph()
dbt_modules = sorted(m for m in sys.modules if m == "dbt" or m.startswith(("dbt.", "dagster_dbt")))
nodes = {k.to_user_string(): graph.get(k) for k in graph.get_all_asset_keys()}
print(json.dumps({
    "dbt_modules": dbt_modules,
    "keys": sorted(nodes),
    "checks": {key: sorted(c.name for c in node.check_keys) for key, node in nodes.items()},
    "parents": {key: sorted(p.to_user_string() for p in node.parent_keys) for key, node in nodes.items()},
    "kinds": {key: sorted(node.kinds) for key, node in nodes.items()},
}))
"""


def test_building_the_shipped_definitions_imports_no_dbt():
    env = {**os.environ, "MLOPS_PROJECTS_DIR": str(PROJECTS)}
    proc = subprocess.run([sys.executable, "-c", _BUILD_SHIPPED], capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["dbt_modules"] == []
    assert {"churn/stg_churn", "churn/features"} <= set(out["keys"])
    assert set(out["checks"]["churn/stg_churn"]) == STG_CHECKS
    assert set(out["checks"]["churn/features"]) == FEATURE_CHECKS
    assert out["parents"]["churn/stg_churn"] == ["churn/validated_data"]
    assert out["parents"]["churn/features"] == ["churn/stg_churn"]
    assert out["kinds"]["churn/features"] == ["dbt", "duckdb"]


def test_read_dbt_graph_selects_the_model_and_its_upstream():
    graph = read_dbt_graph(json.loads(cached_manifest().read_text()), "churn", "churn_features")
    assert [(m.name, m.key, m.deps) for m in graph.models] == [
        ("stg_churn", ("churn", "stg_churn"), (("churn", "validated_data"),)),
        ("churn_features", ("churn", "features"), (("churn", "stg_churn"),)),
    ]
    assert graph.model("churn_features").relation_name == '"warehouse"."main"."churn_features"'
    assert {t.name for t in graph.tests if t.asset == ("churn", "stg_churn")} == STG_CHECKS
    assert {t.name for t in graph.tests if t.asset == ("churn", "features")} == FEATURE_CHECKS
    assert all(t.blocking for t in graph.tests)  # severity: error (dbt's default), as dagster-dbt marks them
    # The staging model alone: nothing downstream of it.
    assert [m.name for m in read_dbt_graph(json.loads(cached_manifest().read_text()), "churn", "stg_churn").models] == [
        "stg_churn"]


# ---------------------------------------------------------------- a dbt build that does not fully pass
def _validated_day(instance, resources, data_dir) -> tuple[list, pd.DataFrame]:
    """The churn data assets, and the validated batch of DAY (raw -> validated materialized, dbt not run)."""
    spec = load_spec(PROJECTS / "churn.yaml")
    assets = build_data_assets(spec, cached_manifest())
    result = materialize(
        assets[:2], partition_key=DAY, instance=instance, resources=resources,
        run_config=RunConfig(ops={"churn__raw_data": RawDataConfig(rows=200)}),
    )
    assert result.success
    return assets, pd.read_parquet(asset_path(data_dir, ["churn", "validated_data"], DAY))


def _run_dbt(assets, instance, resources):
    return materialize(assets[2:], partition_key=DAY, instance=instance, resources=resources, raise_on_error=False)


def _checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _failure_message(result) -> str:
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    data = failure.step_failure_data
    parts = [
        data.error.message if data.error else "",
        data.user_failure_data.description if data.user_failure_data else "",
    ]
    error = data.error
    while error is not None and error.cause is not None:
        error = error.cause
        parts.append(error.message)
    return "\n".join(p or "" for p in parts)


def test_a_failing_test_on_the_features_is_a_failed_check(instance, resources, data_dir):
    assets, validated = _validated_day(instance, resources, data_dir)
    validated.loc[3, "churned"] = 2  # the target outside accepted_values [0, 1]
    validated.to_parquet(asset_path(data_dir, ["churn", "validated_data"], DAY), index=False)

    result = _run_dbt(assets, instance, resources)

    checks = _checks(result)
    assert set(checks) == STG_CHECKS | FEATURE_CHECKS
    assert checks.pop("accepted_values_churn_features_churned__False__0__1") is False
    assert all(checks.values()), checks
    # The features were built (and stored); the failed blocking check then stops the step, as Dagster does.
    assert {e.asset_key for e in result.get_asset_materialization_events()} == {STG, FEATURES}
    assert len(pd.read_parquet(asset_path(data_dir, ["churn", "features"], DAY))) == 200
    assert not result.success
    assert "accepted_values_churn_features_churned__False__0__1" in _failure_message(result)


def test_a_failing_staging_test_reports_the_check_and_builds_no_features(instance, resources, data_dir):
    assets, validated = _validated_day(instance, resources, data_dir)
    validated.loc[1, "customer_id"] = validated.loc[0, "customer_id"]
    validated.to_parquet(asset_path(data_dir, ["churn", "validated_data"], DAY), index=False)

    result = _run_dbt(assets, instance, resources)

    assert not result.success
    assert _checks(result) == {"unique_stg_churn_customer_id": False, "not_null_stg_churn_customer_id": True}
    assert {e.asset_key for e in result.get_asset_materialization_events()} == {STG}
    assert not asset_path(data_dir, ["churn", "features"], DAY).exists()
    message = _failure_message(result)
    assert "churn/features" in message and "unique_stg_churn_customer_id" in message


def test_a_dbt_model_error_fails_the_step_with_dbts_message(instance, resources, data_dir):
    assets, _ = _validated_day(instance, resources, data_dir)
    asset_path(data_dir, ["churn", "validated_data"], DAY).unlink()  # stg_churn reads a file that is not there

    result = _run_dbt(assets, instance, resources)

    assert not result.success
    assert not result.get_asset_materialization_events()
    message = _failure_message(result)
    assert "dbt" in message and "stg_churn" in message, message
    assert "validated_data" in message, message  # dbt's own error (DuckDB cannot read the day's file)


def test_the_graph_read_from_the_manifest_is_the_one_dagster_dbt_builds():
    """dagster-dbt's own `@dbt_assets` over the same manifest and selection, keyed like ours: same assets, deps and
    checks (the UI shows the lineage dagster-dbt would)."""
    from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

    from mlops_assets.features.dbt_assets import build_dbt_features, dbt_node_key
    from mlops_assets.partitions import daily_partitions

    spec = load_spec(PROJECTS / "churn.yaml")

    class Keyed(DagsterDbtTranslator):
        def get_asset_key(self, props):
            return AssetKey(list(dbt_node_key(props, "churn", "churn_features")))

    @dbt_assets(manifest=cached_manifest(), select="+churn_features",
                dagster_dbt_translator=Keyed(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)))
    def reference(context):
        yield from ()

    ours = build_dbt_features(spec, daily_partitions(spec), cached_manifest())

    def layout(assets):
        return ({k.to_user_string(): sorted(d.to_user_string() for d in deps)
                 for k, deps in assets.asset_deps.items()},
                sorted((c.asset_key.to_user_string(), c.name) for c in assets.check_specs))

    assert layout(ours) == layout(reference)


def test_dbt_tags_become_the_tags_dagster_dbt_gives():
    from dagster_dbt import DagsterDbtTranslator

    from mlops_assets.features.dbt_assets import dbt_tags

    tags = ["daily", "pii", "team/ml", "has space", "a/b/c", "x" * 63, "x" * 64, "ok.v-1_2", "", "emoji✓"]
    assert dbt_tags(tags) == DagsterDbtTranslator().get_tags({"tags": tags})
    assert dbt_tags(tags) == {"daily": "", "pii": "", "team/ml": "", "x" * 63: "", "ok.v-1_2": ""}


def test_the_features_asset_describes_itself_in_one_sentence_and_every_column_with_its_type():
    """The UI's description has no code dump; its columns table lists the keys, all 18 features and the target."""
    from mlops_assets.definitions import defs
    from mlops_assets.features.churn import FEATURE_COLUMNS

    node = defs().resolve_asset_graph().get(AssetKey(["churn", "features"]))
    assert "Raw SQL" not in node.description and "def model" not in node.description
    assert node.description.count(". ") == 0 and node.description.endswith(".")
    columns = node.metadata["dagster/column_schema"].columns
    assert [c.name for c in columns] == ["customer_id", "event_time", "event_date", *FEATURE_COLUMNS, "churned"]
    assert all(c.type not in ("?", "", None) and c.description for c in columns), columns
