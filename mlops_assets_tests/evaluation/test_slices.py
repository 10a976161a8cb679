"""Slice metrics and the largest slice gap on small hand-made frames."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlops_assets.evaluation.slices import SLICE_COLUMNS, max_slice_gap, slice_metrics


@pytest.fixture
def housing():
    # absolute errors: north 0,0,0,0 ; south 2,2,2,2 ; east (2 rows) 10,10 ; overall mae 28/10 = 2.8
    return pd.DataFrame(
        {
            "region": ["north"] * 4 + ["south"] * 4 + ["east"] * 2,
            "size": ["s", "l"] * 5,
            "y": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0],
            "pred": [1.0, 2.0, 3.0, 4.0, 3.0, 0.0, 5.0, 2.0, 15.0, -5.0],
        }
    )


def test_slice_values_counts_and_gaps(housing):
    table = slice_metrics(housing, ["region"], "y", "pred", "mae", min_count=3)
    assert list(table.columns) == SLICE_COLUMNS
    by_segment = table.set_index("segment")
    assert by_segment["count"].to_dict() == {"east": 2, "north": 4, "south": 4}
    assert by_segment["value"].to_dict() == pytest.approx({"east": 10.0, "north": 0.0, "south": 2.0})
    assert table["overall"].tolist() == pytest.approx([2.8] * 3)
    assert by_segment["gap"].to_dict() == pytest.approx({"east": 7.2, "north": -2.8, "south": -0.8})
    assert by_segment["eligible"].to_dict() == {"east": False, "north": True, "south": True}
    assert (table["column"] == "region").all() and (table["metric"] == "mae").all()


def test_max_slice_gap_ignores_small_slices(housing):
    table = slice_metrics(housing, ["region", "size"], "y", "pred", "mae", min_count=3)
    row, gap = max_slice_gap(table)
    assert (row["column"], row["segment"], row["gap"]) == ("region", "north", pytest.approx(-2.8))
    assert gap == pytest.approx(2.8)  # east's 7.2 has only 2 rows

    row, gap = max_slice_gap(slice_metrics(housing, ["region"], "y", "pred", "mae", min_count=2))
    assert row["segment"] == "east" and gap == pytest.approx(7.2)


def test_several_columns_and_a_single_string(housing):
    table = slice_metrics(housing, ["region", "size"], "y", "pred", "rmse", min_count=1)
    assert table[["column", "segment"]].values.tolist() == [
        ["region", "east"], ["region", "north"], ["region", "south"], ["size", "l"], ["size", "s"],
    ]  # fmt: skip
    single = slice_metrics(housing, "size", "y", "pred", "rmse", min_count=1)
    pd.testing.assert_frame_equal(single, table[table["column"] == "size"].reset_index(drop=True))


def test_missing_segment_value_is_its_own_slice(housing):
    housing.loc[[0, 1], "region"] = None
    table = slice_metrics(housing, ["region"], "y", "pred", "mae", min_count=1)
    assert len(table) == 4
    missing = table[table["segment"].isna()]
    assert missing["count"].tolist() == [2] and missing["value"].tolist() == [0.0]


def test_classification_slice_matches_sklearn_and_single_class_slice_is_skipped():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"plan": ["basic"] * 60 + ["pro"] * 40, "y": rng.integers(0, 2, 100)})
    frame.loc[frame["plan"] == "pro", "y"] = 1  # one class only: AUC undefined
    frame["p"] = np.clip(0.5 + 0.3 * (frame["y"] - 0.5) + rng.normal(0, 0.3, 100), 0, 1)
    table = slice_metrics(frame, ["plan"], "y", "p", "roc_auc", min_count=30).set_index("segment")
    basic = frame[frame["plan"] == "basic"]
    assert table.loc["basic", "value"] == pytest.approx(roc_auc_score(basic["y"], basic["p"]))
    assert table.loc["basic", "overall"] == pytest.approx(roc_auc_score(frame["y"], frame["p"]))
    assert math.isnan(table.loc["pro", "value"]) and math.isnan(table.loc["pro", "gap"])
    row, gap = max_slice_gap(table.reset_index())
    assert row["segment"] == "basic" and gap == pytest.approx(abs(table.loc["basic", "gap"]))


def test_no_eligible_slice_means_no_gap(housing):
    assert max_slice_gap(slice_metrics(housing, ["region"], "y", "pred", "mae", min_count=100)) == (None, 0.0)
    empty = slice_metrics(housing, [], "y", "pred", "mae")
    assert list(empty.columns) == SLICE_COLUMNS and empty.empty
    assert max_slice_gap(empty) == (None, 0.0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"segment_columns": ["regoin"]}, r"\['regoin'\] are not in the frame"),
        ({"y_col": "target"}, "target"),
        ({"metric": "auc"}, "unknown metric"),
        ({"min_count": 0}, "min_count"),
        ({"metric": "roc_auc"}, "0/1"),  # regression target with a classification metric
    ],
)
def test_bad_arguments_raise(housing, kwargs, match):
    args = {"segment_columns": ["region"], "y_col": "y", "score_col": "pred", "metric": "mae"} | kwargs
    with pytest.raises(ValueError, match=match):
        slice_metrics(housing, **args)
