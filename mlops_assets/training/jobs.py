"""The reproduce job: retrain a registered version from its recorded inputs (launchable from the UI)."""

from dagster import (
    Config,
    Failure,
    JobDefinition,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    ResourceParam,
    job,
    op,
)
from pydantic import Field

from mlops_assets import constants as C
from mlops_assets.resources.storage import ParquetIOManager
from mlops_assets.resources.tracking import MlflowTracking
from mlops_assets.spec import ProjectSpec
from mlops_assets.training.reproduce import reproduce


class ReproduceConfig(Config):
    version: str = Field(description="the registered model version to reproduce")


def build_reproduce_job(spec: ProjectSpec) -> JobDefinition:
    # Out(Nothing): the verdict is the step's metadata; no I/O manager stores it (the project's io_manager stores
    # assets by key, and this op output is no asset).
    @op(name=f"{spec.name}__reproduce_version", out=Out(Nothing))
    def reproduce_version(
        context: OpExecutionContext, config: ReproduceConfig, tracking: MlflowTracking,
        io_manager: ResourceParam[ParquetIOManager],
    ):
        result = reproduce(spec, tracking, config.version, io_manager)
        context.log.info(result.summary())
        if not result.identical_predictions:
            raise Failure(result.summary(), metadata={"max_abs_diff": result.max_abs_diff})
        return Output(None, metadata={"summary": result.summary(),
                                      **{k: MetadataValue.text(str(v)) for k, v in vars(result).items()}})

    @job(name=f"{spec.name}__reproduce", description=f"Retrain a '{spec.name}' version from its recorded inputs.",
         tags={"project": spec.name, C.TRAINING_RUN_TAG: spec.name})
    def reproduce_job():
        reproduce_version()

    return reproduce_job
