"""Per-project raw and validated data assets: load a day's batch, gate it with pandera, store Parquet."""


from datetime import date

import pandas as pd
import yaml
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    Config,
    DataVersion,
    Failure,
    MetadataValue,
    Output,
    PartitionsDefinition,
    TableColumn,
    TableSchema,
    asset,
)
from pydantic import Field, TypeAdapter, ValidationError

from mlops_assets import constants as C
from mlops_assets.data.fingerprint import frame_fingerprint
from mlops_assets.data.generators.registry import generate_batch
from mlops_assets.data.schema import BLOCKING_CHECKS, WARN_CHECKS, CheckOutcome, validate_batch
from mlops_assets.data.sources import LandingFileError, landing_file, read_landing_file
from mlops_assets.resources.storage import DataDirectory
from mlops_assets.spec import DriftWindow, GeneratorSource, ProjectSpec


class RawDataConfig(Config):
    """Run-time knobs for generator sources (settable from the UI launchpad)."""

    rows: int | None = Field(None, description="rows in the day's batch (default: source.rows_per_day)")
    seed: int | None = Field(None, description="generator seed (default: source.seed)")
    drift: str | None = Field(
        None, description="YAML list of drift windows, same shape as the spec's source.drift; replaces it"
    )


def _drift_windows(text: str) -> list[DriftWindow]:
    try:
        return TypeAdapter(list[DriftWindow]).validate_python(yaml.safe_load(text) or [])
    except (yaml.YAMLError, ValidationError) as err:
        raise Failure(f"run config 'drift' is not a valid list of drift windows: {err}") from None


def load_batch(spec: ProjectSpec, day: date, config: RawDataConfig, storage: DataDirectory) -> tuple[pd.DataFrame, dict]:
    """The raw batch for `day` from the project's source, with metadata describing where it came from."""
    source = spec.source
    if isinstance(source, GeneratorSource):
        drift = _drift_windows(config.drift) if config.drift is not None else None
        frame = generate_batch(source, day, rows=config.rows, seed=config.seed, drift=drift)
        seed = source.seed if config.seed is None else config.seed
        active = [w for w in (drift if drift is not None else source.drift) if w.active_on(day)]
        return frame, {"source": f"generator:{source.generator}", "seed": seed, "active_drift_windows": len(active)}
    if config.rows is not None or config.seed is not None or config.drift is not None:
        raise Failure(f"project '{spec.name}' reads a landing directory: rows/seed/drift run config do not apply")
    directory = storage.resolve(source.directory)
    try:
        frame = read_landing_file(source, directory, day)
    except LandingFileError as err:
        raise Failure(description=str(err)) from err
    return frame, {"source": str(landing_file(source, directory, day))}


def table_schema(frame: pd.DataFrame) -> TableSchema:
    return TableSchema(columns=[TableColumn(str(c), str(t)) for c, t in frame.dtypes.items()])


def preview(frame: pd.DataFrame, rows: int = 5) -> MetadataValue:
    return MetadataValue.md(frame.head(rows).to_markdown(index=False) if len(frame) else "_empty batch_")


def check_result(outcome: CheckOutcome, blocking: bool) -> AssetCheckResult:
    metadata: dict = {"summary": outcome.message, "failure_count": outcome.failure_count}
    if not outcome.passed:
        metadata["failing_columns"] = ", ".join(outcome.failing_columns)
        if outcome.pandera_checks:
            metadata["pandera_checks"] = ", ".join(outcome.pandera_checks)
        if outcome.sample is not None:
            metadata["failure_cases"] = MetadataValue.md(outcome.sample.to_markdown(index=False))
    return AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        metadata=metadata,
        description=outcome.message,
    )


def build_raw_data(spec: ProjectSpec, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    key = AssetKey([spec.name, C.RAW_DATA])
    check_specs = [AssetCheckSpec(n, asset=key, blocking=True, description=d) for n, d in BLOCKING_CHECKS.items()]
    check_specs += [AssetCheckSpec(n, asset=key, description=d) for n, d in WARN_CHECKS.items()]

    @asset(
        key=key,
        partitions_def=partitions_def,
        group_name=C.INGESTION,
        check_specs=check_specs,
        tags={"project": spec.name},
        kinds={"pandas", "parquet"},
        description=f"One day's raw batch for '{spec.name}' from {spec.source.kind}; gated by pandera checks.",
    )
    def raw_data(context: AssetExecutionContext, config: RawDataConfig, storage: DataDirectory):
        day = context.partition_time_window.start.date()
        frame, source_meta = load_batch(spec, day, config, storage)
        version = frame_fingerprint(frame)
        yield Output(
            frame,
            data_version=DataVersion(version),
            metadata={
                **source_meta,
                "dagster/row_count": len(frame),
                "dagster/column_schema": table_schema(frame),
                "content_hash": version,
                "preview": preview(frame),
            },
        )
        result = validate_batch(spec.schema_, frame)
        for name, outcome in result.outcomes.items():
            yield check_result(outcome, blocking=name in BLOCKING_CHECKS)

    return raw_data


def build_validated_data(spec: ProjectSpec, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    @asset(
        key=AssetKey([spec.name, C.VALIDATED_DATA]),
        ins={"raw_data": AssetIn(key=AssetKey([spec.name, C.RAW_DATA]))},
        partitions_def=partitions_def,
        group_name=C.VALIDATION,
        tags={"project": spec.name},
        kinds={"pandas", "pandera", "parquet"},
        description=f"The '{spec.name}' batch after pandera validation and type coercion to the spec's dtypes.",
    )
    def validated_data(context: AssetExecutionContext, raw_data: pd.DataFrame):
        result = validate_batch(spec.schema_, raw_data)
        if not result.passed or result.validated is None:
            raise Failure(
                description=f"{spec.name} partition {context.partition_key} failed validation: "
                f"{result.failure_summary()}. See the checks on {spec.name}/raw_data for failing cases.",
            )
        frame = result.validated
        version = frame_fingerprint(frame)
        return Output(
            frame,
            data_version=DataVersion(version),
            metadata={
                "dagster/row_count": len(frame),
                "dagster/column_schema": table_schema(frame),
                "content_hash": version,
                "preview": preview(frame),
            },
        )

    return validated_data
