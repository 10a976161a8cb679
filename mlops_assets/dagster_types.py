"""Names for what Dagster's public API returns but does not export (imports nothing)."""

from typing import Any, TypeAlias

#: What ``dagster.define_asset_job`` returns: a job over an asset selection, resolved against the assets by
#: ``Definitions``. Dagster does not export its class publicly, so it is typed loosely.
AssetJob: TypeAlias = Any
