"""Per-project endpoint (serves the champion), prediction_log and feedback assets; the rollback and sync jobs."""

from typing import Optional

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetSelection,
    AssetsDefinition,
    Config,
    ConfigMapping,
    Failure,
    MetadataValue,
    Output,
    PartitionsDefinition,
    asset,
    define_asset_job,
)
from dagster import Field as ConfigField
from pydantic import Field

from mlops_assets import constants as C
from mlops_assets.dagster_types import AssetJob
from mlops_assets.deployment.deployers import STRATEGIES, DeploymentError, ModelDeployer
from mlops_assets.deployment.logs import FEEDBACK, PREDICTIONS, compact
from mlops_assets.monitoring.assets import REFERENCE_PROFILE
from mlops_assets.partitions import day_status, monitoring_partitions
from mlops_assets.resources.tracking import CHAMPION, MlflowTracking
from mlops_assets.spec import ProjectSpec

# mlflow is imported inside the functions that use it, not at module import (start-up time).

ENDPOINT, PREDICTION_LOG, FEEDBACK_ASSET = C.ENDPOINT, C.PREDICTION_LOG, C.FEEDBACK
#: Model-version tag holding the training-set fingerprint (set by candidate_model); served as the data version.
DATA_VERSION_TAG = C.TRAINING_SET_VERSION_TAG


class EndpointConfig(Config):
    strategy: Optional[str] = Field(
        None, description="blue_green, canary or shadow (default: the spec's deployment.strategy)")
    weight: Optional[float] = Field(None, ge=0, le=1, description="canary share (default: deployment.canary_weight)")


def endpoint_key(spec: ProjectSpec) -> AssetKey:
    return AssetKey([spec.name, ENDPOINT])


def _target(spec: ProjectSpec, config: EndpointConfig, champion: dict) -> tuple[str, str, str, float]:
    """(model URI, version, strategy, weight) the endpoint should serve: always the champion record's version."""
    strategy = config.strategy or spec.deployment.strategy
    if strategy not in STRATEGIES:
        raise Failure(f"{spec.name}: unknown strategy {strategy!r} in the endpoint config; use one of {list(STRATEGIES)}")
    default_weight = spec.deployment.canary_weight if strategy == "canary" else 0.0
    return champion["model_uri"], str(champion["version"]), strategy, config.weight if config.weight is not None \
        else default_weight


def _data_version(tracking: MlflowTracking, name: str, version: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return tracking.client().get_model_version(name, version).tags.get(DATA_VERSION_TAG)
    except MlflowException:
        return None


def check_alias(spec: ProjectSpec, alias: str | None, champion: dict) -> None:
    """Fail when the registry's champion alias is not the version the champion record names.

    The alias was moved outside Dagster (by hand in MLflow). The endpoint does not serve the alias by itself: the
    champion record carries the metrics the performance sensor compares with and the reference profile is built
    for it, so serving another version would leave monitoring judging the wrong model. Syncing the champion first
    (record, reference, then this endpoint) keeps the three in step; the alias sensor requests it within a tick.
    """
    recorded = str(champion["version"])
    if alias == recorded:
        return
    if alias is None:
        raise Failure(
            f"{spec.name}: the registry has no '{CHAMPION}' alias but {spec.name}/champion records v{recorded}; the "
            f"endpoint was not changed. Set the alias in MLflow (then run {spec.name}__sync_champion, or let the "
            f"{spec.name}__champion_alias sensor do it) or promote a model with {spec.name}__train."
        )
    raise Failure(
        f"{spec.name}: the registry's '{CHAMPION}' alias points at v{alias} but {spec.name}/champion records "
        f"v{recorded} (the alias was moved outside Dagster); the endpoint was not changed. Run "
        f"{spec.name}__sync_champion to adopt v{alias} (champion record, reference profile, then this endpoint) — "
        f"the {spec.name}__champion_alias sensor requests it on its next tick — or move the alias back to v{recorded}."
    )


def build_endpoint(spec: ProjectSpec) -> AssetsDefinition:
    @asset(
        key=endpoint_key(spec),
        ins={"champion": AssetIn(key=AssetKey([spec.name, C.CHAMPION]))},
        group_name=spec.name,
        io_manager_key="json_io_manager",
        tags=C.asset_tags(spec.name, C.DEPLOYMENT),
        kinds={"python"},
        description=(f"The '{spec.name}' model endpoint serving the champion record's version "
                     f"({spec.deployment.strategy} by default); refuses while the registry alias disagrees with it."),
    )
    def endpoint(context: AssetExecutionContext, config: EndpointConfig, champion: dict, deployer: ModelDeployer,
                 tracking: MlflowTracking):
        check_alias(spec, tracking.alias_version(champion["registered_model"], CHAMPION), champion)
        model_uri, version, strategy, weight = _target(spec, config, champion)
        data_version = _data_version(tracking, champion["registered_model"], version)
        context.log.info(f"deploying {model_uri} (version {version}) as {strategy} to {deployer.endpoint_url(spec)}")
        try:
            state = deployer.deploy(spec, model_uri, version, strategy, weight, data_version)
        except DeploymentError as err:
            raise Failure(f"{spec.name}: deployment of version {version} failed: {err}",
                          metadata={"url": MetadataValue.url(deployer.endpoint_url(spec))}) from err
        return Output(
            state.to_dict(),
            metadata={
                "url": MetadataValue.url(state.url),
                "live_version": state.live_version or "none",
                "candidate_version": state.candidate_version or "none",
                "strategy": state.strategy,
                "weight": state.weight,
                "action": state.action,
                "champion_action": str(champion.get("action") or "promote"),
                "model_uri": model_uri,
            },
        )

    return endpoint


def _log_asset(spec: ProjectSpec, name: str, kind: str, description: str,
               partitions_def: Optional[PartitionsDefinition]) -> AssetsDefinition:
    @asset(
        key=AssetKey([spec.name, name]),
        deps=[endpoint_key(spec)],
        partitions_def=partitions_def or monitoring_partitions(spec),
        group_name=spec.name,
        tags=C.asset_tags(spec.name, C.MONITORING),
        description=description,
    )
    def _compacted(context: AssetExecutionContext, deployer: ModelDeployer) -> Output[pd.DataFrame]:
        day = context.partition_key
        log_dir = deployer.log_dir(spec)
        frame, files = compact(spec, log_dir, kind, day)
        metadata = {"row_count": len(frame), "part_files": files, "source": str(log_dir / kind / f"date={day}")}
        if files == 0:
            metadata["note"] = f"no {kind} logged on {day}: an empty frame with the log's columns"
        if kind == PREDICTIONS:
            metadata["versions_seen"] = sorted(frame["model_version"].dropna().unique().tolist())
            metadata["roles"] = MetadataValue.json({str(k): int(v) for k, v in frame["role"].value_counts().items()})
        metadata["requests"] = int(frame["request_id"].nunique())
        return Output(frame, metadata=day_status(day, metadata))

    return _compacted


def build_prediction_log(spec: ProjectSpec, partitions_def: Optional[PartitionsDefinition] = None) -> AssetsDefinition:
    """One day (UTC) of the server's scored rows; partitions default to the project's monitoring days (up to today).

    Today's partition holds the rows logged so far (metadata ``day_complete: false``); re-materialize it to refresh.
    """
    return _log_asset(spec, PREDICTION_LOG, PREDICTIONS,
                      f"One day (UTC) of '{spec.name}' scored rows (all model versions and roles), compacted from the "
                      "server's log. Today's partition is the day in progress: the rows logged so far.",
                      partitions_def)


def build_feedback(spec: ProjectSpec, partitions_def: Optional[PartitionsDefinition] = None) -> AssetsDefinition:
    """One day (UTC) of the labels sent to the server's ``/feedback``; partitions as :func:`build_prediction_log`."""
    return _log_asset(spec, FEEDBACK_ASSET, FEEDBACK,
                      f"One day (UTC) of '{spec.name}' ground-truth labels sent to /feedback, compacted from the "
                      "server's log. Today's partition is the day in progress: the labels received so far.",
                      partitions_def)


def _champion_job(spec: ProjectSpec, name: str, action: str, default_reason: str, description: str,
                  strategy: Optional[str]) -> AssetJob:
    """champion (with `action`) -> reference_profile -> endpoint; the launchpad asks only for a reason."""
    champion_op = "__".join([spec.name, C.CHAMPION])
    endpoint_op = "__".join(endpoint_key(spec).path)

    def to_run_config(config: dict) -> dict:
        ops = {champion_op: {"config": {"action": action, "reason": config["reason"]}}}
        if strategy is not None:
            ops[endpoint_op] = {"config": {"strategy": strategy}}
        return {"ops": ops}

    return define_asset_job(
        name=name,
        selection=AssetSelection.assets([spec.name, C.CHAMPION], [spec.name, REFERENCE_PROFILE], endpoint_key(spec)),
        config=ConfigMapping(
            config_schema={"reason": ConfigField(str, default_value=default_reason, description="recorded on the move")},
            config_fn=to_run_config,
        ),
        description=description,
        tags={"project": spec.name},
    )


def build_rollback_job(spec: ProjectSpec) -> AssetJob:
    """``<project>__rollback``: move the champion alias back to the previous champion, its reference, then serve it.

    Each run steps one promotion back (v3 -> v2 -> v1); the endpoint swaps blue-green (all traffic at once).
    """
    return _champion_job(
        spec, f"{spec.name}__rollback", "rollback", "rollback requested",
        f"Move the '{spec.name}' champion alias back to the champion it replaced (recorded at promotion), rebuild "
        "the reference profile for it and serve it (blue-green). Each run steps one promotion further back.",
        strategy="blue_green",
    )


def build_sync_champion_job(spec: ProjectSpec) -> AssetJob:
    """``<project>__sync_champion``: adopt the version the registry's alias points at (moved by hand in MLflow)."""
    return _champion_job(
        spec, f"{spec.name}__sync_champion", "sync", "champion alias moved in the registry",
        f"Adopt the version the '{spec.name}' champion alias points at in MLflow (moved by hand): record it, "
        "rebuild its reference profile and serve it with the spec's strategy.",
        strategy=None,
    )
