"""An asset's latest materialization on the instance, and its metadata: what sensors and reports decide from.

Public Dagster APIs only (``DagsterInstance.fetch_materializations``). The asset's value is loaded through its IO
manager (:mod:`mlops_assets.resources.storage`), never by path.
"""

from __future__ import annotations

from typing import Any

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, EventLogRecord


def latest(instance: DagsterInstance, asset_key: AssetKey, partition: str | None = None,
           before: float | None = None) -> EventLogRecord | None:
    """The newest materialization record of `asset_key` (of its `partition`; written before `before`, a POSIX
    timestamp, when given), or None when it was never materialized."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition] if partition is not None else None,
                           before_timestamp=before), limit=1).records
    return records[0] if records else None


def metadata_value(record: EventLogRecord | None, name: str, default: Any = None) -> Any:
    """The value of a materialization's metadata entry `name` (`default` when absent or with no record)."""
    materialization = record.asset_materialization if record is not None else None
    entry = materialization.metadata.get(name) if materialization is not None else None
    return default if entry is None else entry.value
