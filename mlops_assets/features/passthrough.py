"""Pass-through features: the declared columns of the validated batch, plus keys and target."""


import pandas as pd
from dagster import AssetIn, AssetKey, AssetsDefinition, DataVersion, Output, PartitionsDefinition, asset

from mlops_assets import constants as C
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
        group_name=C.FEATURES,
        tags={"project": spec.name},
        kinds={"pandas", "parquet"},
        description=f"'{spec.name}' model features: the declared columns, passed through.",
    )
    def features(validated_data: pd.DataFrame):
        frame = feature_frame(spec, validated_data)
        return Output(
            frame,
            data_version=DataVersion(frame_fingerprint(frame)),
            metadata={"dagster/row_count": len(frame), "feature_columns": ", ".join(spec.features.columns)},
        )

    return features
