"""A model project's asset subgraph, built from its spec: every key is prefixed by the project name."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetsDefinition

from mlops_assets.data.assets import build_raw_data, build_validated_data
from mlops_assets.deployment.assets import build_endpoint, build_feedback, build_prediction_log
from mlops_assets.evaluation.assets import build_champion, build_evaluation_report
from mlops_assets.features.dbt_assets import build_dbt_features
from mlops_assets.features.passthrough import build_passthrough_features
from mlops_assets.monitoring.assets import build_monitoring_assets
from mlops_assets.monitoring.freshness import apply_freshness
from mlops_assets.monitoring.labeled_traffic import build_labeled_traffic
from mlops_assets.notices import adopted_dagster_apis
from mlops_assets.partitions import daily_partitions
from mlops_assets.spec import DbtFeatures, ProjectSpec
from mlops_assets.training.assets import build_candidate_model, build_training_set


def build_data_assets(spec: ProjectSpec, dbt_manifest: Path | None) -> list[AssetsDefinition]:
    """raw_data -> validated_data -> features for one project."""
    partitions = daily_partitions(spec)
    if isinstance(spec.features, DbtFeatures) and dbt_manifest is None:
        raise ValueError(f"project '{spec.name}' uses dbt features but no dbt manifest was given")
    with adopted_dagster_apis():  # single-run backfill policies, partitioned checks
        if isinstance(spec.features, DbtFeatures):
            features = build_dbt_features(spec, partitions, dbt_manifest)
        else:
            features = build_passthrough_features(spec, partitions)
        return [build_raw_data(spec, partitions), build_validated_data(spec, partitions), features]


def build_model_assets(spec: ProjectSpec) -> list[AssetsDefinition]:
    """training_set -> candidate_model -> evaluation_report -> champion for one project."""
    return [build_training_set(spec), build_candidate_model(spec), build_evaluation_report(spec), build_champion(spec)]


def build_deployment_assets(spec: ProjectSpec) -> list[AssetsDefinition]:
    """endpoint -> prediction_log, feedback -> labeled_traffic for one project."""
    return [build_endpoint(spec), build_prediction_log(spec), build_feedback(spec), build_labeled_traffic(spec)]


def build_project_assets(spec: ProjectSpec, dbt_manifest: Path | None) -> list[AssetsDefinition]:
    """The project's whole subgraph, with its freshness policies."""
    assets = (
        build_data_assets(spec, dbt_manifest)
        + build_model_assets(spec)
        + build_deployment_assets(spec)
        + build_monitoring_assets(spec)
    )
    return apply_freshness(spec, assets)
