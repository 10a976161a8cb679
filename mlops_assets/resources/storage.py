"""The one storage module: the data directory, and the IO managers that own where each asset's value lives.

Layout (dbt's ``partition_files`` macro reads the files this module names, passed as dbt vars): an asset's
partition is ``<data_dir>/assets/<key...>/<partition>.parquet``, an unpartitioned DataFrame ``assets/<key...>.parquet`` and a
record (JSON IO manager) ``assets/<key...>.json``. Nothing else opens these files: other code loads an asset's value
through :meth:`ParquetIOManager.load_partition` / :meth:`JsonIOManager.load_record` (or Dagster's asset value
loader) and writes a partition through :meth:`ParquetIOManager.write_partition` / ``write_partition_file``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from dagster import AssetKey, ConfigurableIOManager, ConfigurableResource, InputContext, OutputContext

KeyLike = AssetKey | Sequence[str]


def _key(key: KeyLike) -> AssetKey:
    return key if isinstance(key, AssetKey) else AssetKey(list(key))


def asset_path(data_dir: str | os.PathLike, key_path: Sequence[str], partition: str | None) -> Path:
    """Where an asset's partition (or unpartitioned value) is stored: assets/<key...>/<partition>.parquet.

    For this module and tests that check the files themselves; code loads values through the IO managers.
    """
    base = Path(data_dir).resolve() / "assets"
    if partition is None:
        return base.joinpath(*key_path[:-1], f"{key_path[-1]}.parquet")
    return base.joinpath(*key_path, f"{partition}.parquet")


def json_path(data_dir: str | os.PathLike, key_path: Sequence[str]) -> Path:
    """Where the JSON IO manager keeps an unpartitioned record asset (a model reference, a profile)."""
    return asset_path(data_dir, key_path, None).with_suffix(".json")


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
        """Where the IO managers store the assets' values (for people to look at: code loads them by asset key)."""
        return self.root / "assets"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temp file beside `path` to write; renamed onto `path` when the block ends without error, else removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class ParquetIOManager(ConfigurableIOManager):
    """Stores DataFrames as one Parquet file per asset partition; loads one or many partitions."""

    data_dir: str

    def _file(self, key: KeyLike, partition: str | None) -> Path:
        return asset_path(self.data_dir, list(_key(key).path), partition)

    def location(self, key: KeyLike, partition: str | None = None) -> str:
        """Where the asset's partition is stored, for reports (the lineage of a prediction)."""
        return str(self._file(key, partition))

    def load_partition(self, key: KeyLike, partition: str | None = None) -> pd.DataFrame:
        """The stored DataFrame of the asset's partition (None: the unpartitioned asset)."""
        path = self._file(key, partition)
        if not path.exists():
            raise FileNotFoundError(f"{_key(key).to_user_string()} partition {partition} has no stored output at "
                                    f"{path}; materialize that partition first.")
        return pd.read_parquet(path)

    def write_partition_file(self, key: KeyLike, partition: str | None, write: Callable[[Path], None]) -> Path:
        """Store a partition that `write` writes as Parquet to the path it is given (e.g. a DuckDB ``COPY``);
        it replaces the stored one only once written whole. Returns where it is stored."""
        path = self._file(key, partition)
        with _atomic(path) as tmp:
            write(tmp)
        return path

    def write_partition(self, key: KeyLike, partition: str | None, frame: pd.DataFrame) -> Path:
        """Store `frame` as the asset's partition (atomically: a failed write never leaves a half file)."""
        return self.write_partition_file(key, partition, lambda tmp: frame.to_parquet(tmp, index=False))

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
        paths = []
        for partition, frame in frames.items():
            if not isinstance(frame, pd.DataFrame):
                raise TypeError(f"{name}: ParquetIOManager stores DataFrames, got {type(frame)} for {partition}")
            paths.append(self.write_partition(context.asset_key, partition, frame))
        if len(paths) == 1:
            context.add_output_metadata({"path": str(paths[0])})

    def load_input(self, context: InputContext) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """The partitions the input covers: one DataFrame (partitions concatenated), or a dict by partition key when
        the input is annotated as a dict."""
        partitions = context.asset_partition_keys if context.has_asset_partitions else [None]
        frames = {partition: self.load_partition(context.asset_key, partition) for partition in partitions}
        if getattr(context.dagster_type.typing_type, "__origin__", context.dagster_type.typing_type) is dict:
            return frames
        values = list(frames.values())
        return values[0] if len(values) == 1 else pd.concat(values, ignore_index=True)


class JsonIOManager(ConfigurableIOManager):
    """Stores small records (model references, reports) as JSON beside the Parquet outputs."""

    data_dir: str

    def _file(self, key: KeyLike) -> Path:
        return json_path(self.data_dir, list(_key(key).path))

    def load_record(self, key: KeyLike) -> dict:
        """The stored record of the asset."""
        path = self._file(key)
        if not path.exists():
            raise FileNotFoundError(f"{_key(key).to_user_string()} has no stored output at {path}; materialize it first.")
        return json.loads(path.read_text())

    def write_record(self, key: KeyLike, record: dict) -> None:
        """Store `record` as the asset's value (atomically)."""
        with _atomic(self._file(key)) as tmp:
            tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))

    def handle_output(self, context: OutputContext, obj: dict) -> None:
        self.write_record(context.asset_key, obj)

    def load_input(self, context: InputContext) -> dict:
        return self.load_record(context.asset_key)
