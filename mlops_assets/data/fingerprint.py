"""Content hashes of DataFrames, used as Dagster data versions."""

from __future__ import annotations

import hashlib

import pandas as pd


def frame_fingerprint(df: pd.DataFrame) -> str:
    """A stable hash of a frame's column names, dtypes and values (row order matters, index does not).

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> frame_fingerprint(a) == frame_fingerprint(a.copy())
    True
    >>> frame_fingerprint(a) == frame_fingerprint(a.astype("float64"))
    False
    """
    h = hashlib.sha256()
    for name, dtype in df.dtypes.items():
        h.update(f"{name}:{dtype};".encode())
    if len(df):
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()[:24]
