"""Per-project raw and validated data assets: load a day's batch, gate it with pandera, store Parquet."""


import hashlib
from datetime import date

import pandas as pd
import yaml
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    BackfillPolicy,
    Config,
    DataVersion,
    Failure,
    MetadataValue,
    Output,
    PartitionsDefinition,
    TableColumn,
    TableSchema,
    asset,
    multi_asset,
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
        frame = generate_batch(source, day, rows=config.rows, seed=config.seed, drift=drift,
                               bounds=spec.schema.bounds())
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
    path = landing_file(source, directory, day)
    return frame, {"source": str(path), "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def table_schema(frame: pd.DataFrame) -> TableSchema:
    return TableSchema(columns=[TableColumn(str(c), str(t)) for c, t in frame.dtypes.items()])


def preview(frame: pd.DataFrame, rows: int = 5) -> MetadataValue:
    return MetadataValue.md(frame.head(rows).to_markdown(index=False) if len(frame) else "_empty batch_")


def _check_metadata(outcome: CheckOutcome, day: str) -> dict:
    metadata: dict = {"summary": outcome.message, "failure_count": outcome.failure_count, "partition": day}
    if not outcome.passed:
        metadata["failing_columns"] = ", ".join(outcome.failing_columns)
        if outcome.pandera_checks:
            metadata["pandera_checks"] = ", ".join(outcome.pandera_checks)
        if outcome.sample is not None:
            metadata["failure_cases"] = MetadataValue.md(outcome.sample.to_markdown(index=False))
    return metadata


def check_evaluation(key: AssetKey, outcome: CheckOutcome, blocking: bool, day: str) -> AssetCheckEvaluation:
    """One day's check result, recorded against that day's partition (also inside a run over a range of days)."""
    return AssetCheckEvaluation(
        asset_key=key,
        check_name=outcome.name,
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        metadata=_check_metadata(outcome, day),
        description=f"{day}: {outcome.message}",
        blocking=blocking,
        partition=day,
    )


def _frame_metadata(frame: pd.DataFrame, version: str) -> dict:
    return {
        "dagster/row_count": len(frame),
        "dagster/column_schema": table_schema(frame),
        "content_hash": version,
        "preview": preview(frame),
    }


def partition_output(
    context: AssetExecutionContext, frames: dict[str, pd.DataFrame], metadata: dict[str, dict], output_name: str = "result"
) -> Output:
    """The output of a run over one day or a range of days (single-run backfill), with per-day metadata.

    Each day carries its own ``content_hash``. Dagster records one data version per output of a step
    (dagster-io/dagster#21072), so a one-day run's data version is that day's content hash and a range run's is
    the hash of the range's day hashes: deterministic either way.
    """
    if len(frames) == 1:
        (day, frame), = frames.items()
        return Output(frame, output_name, data_version=DataVersion(metadata[day]["content_hash"]), metadata=metadata[day])
    for day, values in metadata.items():
        context.add_asset_metadata(values, partition_key=day)
    version = frame_fingerprint(pd.DataFrame({"day": list(metadata), "hash": [m["content_hash"] for m in metadata.values()]}))
    return Output(frames, output_name, data_version=DataVersion(version), metadata={"partitions": len(frames)})


def build_raw_data(spec: ProjectSpec, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    key = AssetKey([spec.name, C.RAW_DATA])

    def spec_for(name: str, description: str, blocking: bool) -> AssetCheckSpec:
        # Partitioned checks record each day's result against that day, also inside a range run.
        return AssetCheckSpec(name, asset=key, blocking=blocking, description=description, partitions_def=partitions_def)

    check_specs = [spec_for(n, d, True) for n, d in BLOCKING_CHECKS.items()]
    check_specs += [spec_for(n, d, False) for n, d in WARN_CHECKS.items()]

    # A multi-asset that can subset: a range run records each day's check results as that day's evaluations
    # (AssetCheckEvaluation with its partition) instead of one result per check.
    @multi_asset(
        name=f"{spec.name}__{C.RAW_DATA}",
        outs={
            C.RAW_DATA: AssetOut(
                key=key,
                group_name=spec.name,
                tags=C.asset_tags(spec.name, C.INGESTION),
                kinds={"pandas", "parquet"},
                description=(
                    f"One day's raw batch for '{spec.name}' from {spec.source.kind}; gated by pandera checks judged "
                    "day by day (a range runs as one run; a day failing a blocking check blocks that day's downstream)."
                ),
            )
        },
        check_specs=check_specs,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
    )
    def raw_data(context: AssetExecutionContext, config: RawDataConfig, storage: DataDirectory):
        days = list(context.partition_keys)
        frames, metadata, outcomes = {}, {}, {}
        for day in days:
            frame, source_meta = load_batch(spec, date.fromisoformat(day), config, storage)
            frames[day] = frame
            metadata[day] = {**source_meta, **_frame_metadata(frame, frame_fingerprint(frame))}
            outcomes[day] = validate_batch(spec.schema_, frame).outcomes
        yield partition_output(context, frames, metadata, C.RAW_DATA)
        for day in days:
            for name, outcome in outcomes[day].items():
                blocking = name in BLOCKING_CHECKS
                yield check_evaluation(key, outcome, blocking, day)

    return raw_data


def build_validated_data(spec: ProjectSpec, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    @asset(
        key=AssetKey([spec.name, C.VALIDATED_DATA]),
        ins={"raw_data": AssetIn(key=AssetKey([spec.name, C.RAW_DATA]))},
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        group_name=spec.name,
        tags=C.asset_tags(spec.name, C.VALIDATION),
        kinds={"pandas", "pandera", "parquet"},
        description=f"The '{spec.name}' batch after pandera validation and type coercion to the spec's dtypes.",
    )
    def validated_data(context: AssetExecutionContext, raw_data: dict[str, pd.DataFrame]):
        results = {day: validate_batch(spec.schema_, frame) for day, frame in raw_data.items()}
        failed = {day: r for day, r in results.items() if not r.passed or r.validated is None}
        if failed:
            lines = "; ".join(f"{day}: {r.failure_summary()}" for day, r in sorted(failed.items()))
            raise Failure(
                description=f"{spec.name} failed validation on {len(failed)} of {len(results)} day(s): {lines}. "
                f"See the checks on {spec.name}/raw_data for failing cases; fix or re-land those days, then "
                "materialize them again.",
            )
        frames = {day: r.validated for day, r in results.items()}
        metadata = {day: _frame_metadata(f, frame_fingerprint(f)) for day, f in frames.items()}
        return partition_output(context, frames, metadata)

    return validated_data
