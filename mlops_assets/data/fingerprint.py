"""Content hashes of DataFrames, used as Dagster data versions."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
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


def row_hashes(df: pd.DataFrame | Mapping[str, np.ndarray]) -> list[str]:
    """A short hash (16 hex digits) of each row's column names and values, cheap enough for every served row.

    Values are hashed as their text (``str``: shortest round-trip for floats; missing values as one marker), so
    the same values in the same dtypes give the same hash. The serving log keeps the hash of each computed
    feature row: a prediction's features can be recomputed from its logged inputs and checked against it.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1.5, 2.0], "c": ["a", None]})
    >>> row_hashes(a) == row_hashes(a.copy())
    True
    >>> row_hashes(a) == row_hashes(a.assign(x=[1.5, 2.5]))
    False
    >>> row_hashes(a) == row_hashes({c: a[c].to_numpy() for c in a.columns})  # numpy columns: the frame's hashes
    True
    """
    frame = isinstance(df, pd.DataFrame)
    head = hashlib.blake2b(digest_size=8)
    head.update("\x1f".join(map(str, df.columns if frame else df)).encode() + b"\x1e")
    # One conversion: per-column access of a frame costs ~0.1 ms a column. Numpy columns give the same Python
    # values (``tolist``) as the frame's object rows.
    rows = df.to_numpy(dtype=object) if frame else zip(*(np.asarray(c).tolist() for c in df.values()))
    out = []
    for row in rows:
        h = head.copy()
        h.update("\x1f".join("\x00" if v is None or v is pd.NA or v != v else str(v) for v in row).encode())
        out.append(h.hexdigest())
    return out
