"""Pass-through features: the declared columns of the validated batch, plus keys and target."""


import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetKey, AssetsDefinition, BackfillPolicy, PartitionsDefinition, asset

from mlops_assets import constants as C
from mlops_assets.data.assets import partition_output
from mlops_assets.data.fingerprint import frame_fingerprint
from mlops_assets.features.transforms import build_features
from mlops_assets.spec import ProjectSpec


def feature_frame(spec: ProjectSpec, validated: pd.DataFrame) -> pd.DataFrame:
    """Keys (id, event time, event date), the spec's feature columns and the target, in that order."""
    schema = spec.schema_
    keys = pd.DataFrame(
        {
            schema.id_column: validated[schema.id_column].to_numpy(),
            schema.event_time_column: validated[schema.event_time_column].to_numpy(),
            "event_date": validated[schema.event_time_column].dt.date.to_numpy(),
        }
    )
    features = build_features(spec, validated).reset_index(drop=True)
    return pd.concat([keys, features, validated[[spec.target.column]].reset_index(drop=True)], axis=1)


def build_passthrough_features(spec: ProjectSpec, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    @asset(
        key=AssetKey([spec.name, C.FEATURES_ASSET]),
        ins={"validated_data": AssetIn(key=AssetKey([spec.name, C.VALIDATED_DATA]))},
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        group_name=spec.name,
        tags=C.asset_tags(spec.name, C.FEATURES),
        kinds={"pandas", "parquet"},
        description=f"'{spec.name}' model features: the declared columns, passed through.",
    )
    def features(context: AssetExecutionContext, validated_data: dict[str, pd.DataFrame]):
        frames = {day: feature_frame(spec, frame) for day, frame in validated_data.items()}
        columns = ", ".join(spec.features.columns)
        metadata = {
            day: {"dagster/row_count": len(f), "content_hash": frame_fingerprint(f), "feature_columns": columns}
            for day, f in frames.items()
        }
        return partition_output(context, frames, metadata)

    return features
