"""Where each asset's stored value lives under the data directory (standard library only).

The IO managers (:mod:`mlops_assets.resources.storage`) and dbt's external models write there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlops_assets import constants as C


def asset_path(data_dir: str | os.PathLike, key_path: list[str], partition: str | None) -> Path:
    """Layout shared by the IO manager and dbt's external models: assets/<key...>/<partition>.parquet."""
    base = Path(data_dir).resolve() / "assets"
    if partition is None:
        return base.joinpath(*key_path[:-1], f"{key_path[-1]}.parquet")
    return base.joinpath(*key_path, f"{partition}.parquet")


def json_path(data_dir: str | os.PathLike, key_path: list[str]) -> Path:
    """Where the JSON IO manager keeps an unpartitioned record asset (a model reference, a profile)."""
    return asset_path(data_dir, key_path, None).with_suffix(".json")


def reference_path(data_dir: str | os.PathLike, project: str) -> Path:
    """``<project>/reference_profile``'s stored record."""
    return json_path(data_dir, [project, C.REFERENCE_PROFILE])


def champion_path(data_dir: str | os.PathLike, project: str) -> Path:
    """``<project>/champion``'s stored record."""
    return json_path(data_dir, [project, C.CHAMPION])


def load_json(path: Path) -> dict | None:
    """A stored record, or None when it was never written."""
    return json.loads(path.read_text()) if path.exists() else None
