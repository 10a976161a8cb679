"""Where the platform writes: the data directory and a partition-aware Parquet IO manager."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd
from dagster import ConfigurableIOManager, ConfigurableResource, InputContext, OutputContext

from mlops_assets.resources.layout import asset_path, json_path


class DataDirectory(ConfigurableResource):
    """The one directory everything the platform writes lives under (`MLOPS_DATA_DIR`)."""

    data_dir: str

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    def resolve(self, path: str | os.PathLike) -> Path:
        """An absolute path as is; a relative one against the data directory."""
        p = Path(path)
        return p if p.is_absolute() else self.root / p

    @property
    def assets_dir(self) -> Path:
        return self.root / "assets"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write to a temp file beside `path`, then rename: a failed write never leaves a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class ParquetIOManager(ConfigurableIOManager):
    """Stores DataFrames as one Parquet file per asset partition; loads one or many partitions."""

    data_dir: str

    def _path(self, context: InputContext | OutputContext, partition: str | None) -> Path:
        return asset_path(self.data_dir, list(context.asset_key.path), partition)

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | dict[str, pd.DataFrame]) -> None:
        """One DataFrame for an unpartitioned or single-partition output; for a range of partitions (a single-run
        backfill), a dict with one DataFrame per partition key of the range."""
        keys = context.asset_partition_keys if context.has_asset_partitions else [None]
        frames = obj if isinstance(obj, dict) else {keys[0]: obj} if len(keys) == 1 else None
        name = context.asset_key.to_user_string()
        if frames is None:
            raise TypeError(f"{name}: a run over {len(keys)} partitions must output a dict of DataFrames by partition key")
        if sorted(frames) != sorted(keys):
            raise ValueError(f"{name}: output partitions {sorted(frames)} differ from the run's partitions {sorted(keys)}")
        for partition, frame in frames.items():
            if not isinstance(frame, pd.DataFrame):
                raise TypeError(f"{name}: ParquetIOManager stores DataFrames, got {type(frame)} for {partition}")
            write_parquet_atomic(frame, self._path(context, partition))
        if len(frames) == 1:
            context.add_output_metadata({"path": str(self._path(context, keys[0]))})

    def load_input(self, context: InputContext) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """The partitions the input covers: one DataFrame (partitions concatenated), or a dict by partition key when
        the input is annotated as a dict."""
        partitions = context.asset_partition_keys if context.has_asset_partitions else [None]
        frames = {}
        for partition in partitions:
            path = self._path(context, partition)
            if not path.exists():
                raise FileNotFoundError(
                    f"{context.asset_key.to_user_string()} partition {partition} has no stored output at {path}; "
                    "materialize that partition first."
                )
            frames[partition] = pd.read_parquet(path)
        if getattr(context.dagster_type.typing_type, "__origin__", context.dagster_type.typing_type) is dict:
            return frames
        values = list(frames.values())
        return values[0] if len(values) == 1 else pd.concat(values, ignore_index=True)


class JsonIOManager(ConfigurableIOManager):
    """Stores small records (model references, reports) as JSON beside the Parquet outputs."""

    data_dir: str

    def _path(self, context: InputContext | OutputContext) -> Path:
        return json_path(self.data_dir, list(context.asset_key.path))

    def handle_output(self, context: OutputContext, obj: dict) -> None:
        path = self._path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps(obj, indent=2, sort_keys=True, default=str))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def load_input(self, context: InputContext) -> dict:
        path = self._path(context)
        if not path.exists():
            raise FileNotFoundError(f"{context.asset_key.to_user_string()} has no stored output at {path}; materialize it first.")
        return json.loads(path.read_text())
