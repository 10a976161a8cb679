"""One metric per segment (slice) of the evaluation data, and the largest gap between a slice and overall."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlops_assets.evaluation.metrics import get_metric, validate_inputs

SLICE_COLUMNS = ["column", "segment", "count", "metric", "value", "overall", "gap", "eligible"]


def slice_metrics(
    frame: pd.DataFrame,
    segment_columns: Sequence[str] | str,
    y_col: str,
    score_col: str,
    metric: str,
    min_count: int = 30,
) -> pd.DataFrame:
    """Compute ``metric`` on every value of every segment column and compare it with the overall value.

    Each distinct value of a segment column (missing values included, as one segment) is a slice;
    numeric columns should be binned by the caller first.

    Parameters
    ----------
    frame : DataFrame
        One row per evaluated example.
    segment_columns : sequence of str, or str
    y_col, score_col : str
        Columns holding the target and the model's score (probability or prediction).
    metric : str
        A name in ``METRICS``.
    min_count : int, default 30
        Slices with fewer rows are reported but marked ``eligible=False``; ``max_slice_gap`` skips them.

    Returns
    -------
    DataFrame
        One row per slice with ``column, segment, count, metric, value, overall, gap, eligible`` where
        ``gap = value - overall`` (metric units; NaN when the metric is undefined on the slice).

    Examples
    --------
    >>> df = pd.DataFrame({"region": ["n", "n", "s", "s"], "y": [1.0, 2.0, 3.0, 4.0], "p": [1.0, 2.0, 3.0, 6.0]})
    >>> slice_metrics(df, ["region"], "y", "p", "mae", min_count=1)[["segment", "value", "gap"]]
      segment  value  gap
    0       n    0.0 -0.5
    1       s    1.0  0.5
    """
    info = get_metric(metric)
    columns = [segment_columns] if isinstance(segment_columns, str) else list(segment_columns)
    missing = [c for c in [*columns, y_col, score_col] if c not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the frame (columns: {', '.join(map(str, frame.columns))})")
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    y, score = validate_inputs(info.task, frame[y_col].to_numpy(), frame[score_col].to_numpy())
    overall = info.fn(y, score)

    rows = []
    for column in columns:
        codes, segments = pd.factorize(frame[column], sort=True, use_na_sentinel=False)
        for code, segment in enumerate(segments):
            mask = codes == code
            value = info.fn(y[mask], score[mask])
            count = int(mask.sum())
            rows.append((column, segment, count, metric, value, overall, value - overall, count >= min_count))
    return pd.DataFrame(rows, columns=SLICE_COLUMNS)


def max_slice_gap(table: pd.DataFrame) -> tuple[dict | None, float]:
    """The eligible slice whose metric is furthest from the overall value.

    Parameters
    ----------
    table : DataFrame
        The output of ``slice_metrics``.

    Returns
    -------
    row : dict or None
        The slice's row (with its signed ``gap``), or None when no eligible slice has a defined metric.
    gap : float
        Its absolute gap; 0.0 when ``row`` is None (no slice is large enough to show a gap).
    """
    candidates = table[table["eligible"].astype(bool) & table["gap"].notna()]
    if candidates.empty:
        return None, 0.0
    position = int(np.argmax(candidates["gap"].abs().to_numpy()))
    row = {k: v.item() if isinstance(v, np.generic) else v for k, v in candidates.iloc[position].items()}
    return row, float(abs(row["gap"]))
