"""Per-project endpoint (deploy / roll back the champion), prediction_log and feedback assets, and the rollback job."""

from typing import Optional

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetSelection,
    AssetsDefinition,
    Config,
    Failure,
    MetadataValue,
    Output,
    PartitionsDefinition,
    RunConfig,
    asset,
    define_asset_job,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from mlflow.exceptions import MlflowException
from pydantic import Field

from mlops_assets import constants as C
from mlops_assets.deployment.deployers import STRATEGIES, DeploymentError, ModelDeployer
from mlops_assets.deployment.logs import FEEDBACK, PREDICTIONS, compact
from mlops_assets.partitions import daily_partitions
from mlops_assets.resources.tracking import MlflowTracking
from mlops_assets.spec import ProjectSpec

ENDPOINT, PREDICTION_LOG, FEEDBACK_ASSET = C.ENDPOINT, C.PREDICTION_LOG, C.FEEDBACK
#: Model-version tag holding the training-set fingerprint (set by candidate_model); served as the data version.
DATA_VERSION_TAG = "training_set_version"


class EndpointConfig(Config):
    strategy: Optional[str] = Field(
        None, description="blue_green, canary or shadow (default: the spec's deployment.strategy)")
    weight: Optional[float] = Field(None, ge=0, le=1, description="canary share (default: deployment.canary_weight)")
    rollback: bool = Field(False, description="serve the champion's previous version (recorded at promotion) again")


def endpoint_key(spec: ProjectSpec) -> AssetKey:
    return AssetKey([spec.name, ENDPOINT])


def _target(spec: ProjectSpec, config: EndpointConfig, champion: dict) -> tuple[str, str, str, float]:
    """(model URI, version, strategy, weight) the endpoint should serve."""
    if config.rollback:
        previous = champion.get("previous_version")
        if not previous or previous == "none":
            raise Failure(f"{spec.name}: cannot roll back: champion version {champion['version']} was promoted with "
                          "no previous champion recorded")
        return f"models:/{champion['registered_model']}/{previous}", str(previous), "blue_green", 0.0
    strategy = config.strategy or spec.deployment.strategy
    if strategy not in STRATEGIES:
        raise Failure(f"{spec.name}: unknown strategy {strategy!r} in the endpoint config; use one of {list(STRATEGIES)}")
    default_weight = spec.deployment.canary_weight if strategy == "canary" else 0.0
    return champion["model_uri"], str(champion["version"]), strategy, config.weight if config.weight is not None \
        else default_weight


def _data_version(tracking: MlflowTracking, name: str, version: str) -> str | None:
    try:
        return tracking.client().get_model_version(name, version).tags.get(DATA_VERSION_TAG)
    except MlflowException:
        return None


def build_endpoint(spec: ProjectSpec) -> AssetsDefinition:
    @asset(
        key=endpoint_key(spec),
        ins={"champion": AssetIn(key=AssetKey([spec.name, C.CHAMPION]))},
        group_name=C.DEPLOYMENT,
        io_manager_key="json_io_manager",
        tags={"project": spec.name},
        kinds={"python"},
        description=(f"The '{spec.name}' model endpoint serving the champion ({spec.deployment.strategy} by default); "
                     "with rollback=True it serves the previous champion again."),
    )
    def endpoint(context: AssetExecutionContext, config: EndpointConfig, champion: dict, deployer: ModelDeployer,
                 tracking: MlflowTracking):
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
                "rollback": config.rollback,
                "model_uri": model_uri,
            },
        )

    return endpoint


def _log_asset(spec: ProjectSpec, name: str, kind: str, description: str,
               partitions_def: Optional[PartitionsDefinition]) -> AssetsDefinition:
    @asset(
        key=AssetKey([spec.name, name]),
        deps=[endpoint_key(spec)],
        partitions_def=partitions_def or daily_partitions(spec),
        group_name=C.MONITORING,
        tags={"project": spec.name},
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
        return Output(frame, metadata=metadata)

    return _compacted


def build_prediction_log(spec: ProjectSpec, partitions_def: Optional[PartitionsDefinition] = None) -> AssetsDefinition:
    """One day (UTC) of the server's scored rows; partitions default to the project's days (a day once it has ended)."""
    return _log_asset(spec, PREDICTION_LOG, PREDICTIONS,
                      f"One day of '{spec.name}' scored rows (all model versions and roles), compacted from the server's log.",
                      partitions_def)


def build_feedback(spec: ProjectSpec, partitions_def: Optional[PartitionsDefinition] = None) -> AssetsDefinition:
    """One day (UTC) of the labels sent to the server's ``/feedback``; partitions as :func:`build_prediction_log`."""
    return _log_asset(spec, FEEDBACK_ASSET, FEEDBACK,
                      f"One day of '{spec.name}' ground-truth labels sent to /feedback, compacted from the server's log.",
                      partitions_def)


def build_rollback_job(spec: ProjectSpec) -> UnresolvedAssetJobDefinition:
    """``<project>__rollback``: the endpoint materialized with ``rollback=True`` (serves the previous champion)."""
    op_name = "__".join(endpoint_key(spec).path)
    return define_asset_job(
        name=f"{spec.name}__rollback",
        selection=AssetSelection.assets(endpoint_key(spec)),
        config=RunConfig(ops={op_name: EndpointConfig(rollback=True)}),
        description=f"Serve the previous '{spec.name}' champion again (blue-green swap back).",
        tags={"project": spec.name},
    )
