"""Where the platform keeps its state: the environment when set, else the embedded defaults the Makefile uses.

With nothing set, everything lives under ``./.mlops_data`` of the working directory (a clone's root when run from
there): assets, the DuckDB warehouse, the MLflow sqlite store (``mlflow/mlflow.db``) and, through the shipped
``dagster.yaml``, the Dagster instance (``dagster_home``).
"""

from __future__ import annotations

import os
from pathlib import Path

from mlops_assets import constants as C


def data_dir() -> Path:
    """``MLOPS_DATA_DIR``, else ``./.mlops_data``, as an absolute path."""
    return Path(os.environ.get(C.DATA_DIR_ENV) or C.DEFAULT_DATA_DIR).resolve()


def local_tracking_uri(data_dir: str | Path) -> str:
    """The embedded MLflow store: sqlite in the data directory (artifacts beside it)."""
    return f"sqlite:///{Path(data_dir).resolve()}/mlflow/mlflow.db"


def is_set(name: str) -> bool:
    """Whether the environment variable `name` is set (an empty value counts: the Makefile exports empty ones)."""
    return name in os.environ


def serving_base_port() -> int:
    """``MLOPS_SERVING_BASE_PORT``, else 8081: the first port of the local model servers."""
    raw = os.environ.get(C.SERVING_BASE_PORT_ENV, "").strip()
    if not raw:
        return C.DEFAULT_SERVING_BASE_PORT
    if not raw.isdigit() or not 1024 <= int(raw) <= 65000:
        raise ValueError(f"{C.SERVING_BASE_PORT_ENV}={raw!r} is not a port: set a whole number from 1024 to 65000 "
                         f"(projects take consecutive ports from it) or unset it for {C.DEFAULT_SERVING_BASE_PORT}")
    return int(raw)
