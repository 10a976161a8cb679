"""Joining feedback to predictions and the decay decision."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlops_assets.monitoring.performance import decide_performance, join_feedback, live_metric


def test_join_keeps_live_rows_and_the_latest_label():
    predictions = pd.DataFrame({
        "request_id": ["r1", "r1", "r2", "r3"], "row": [0, 1, 0, 0], "role": ["live", "live", "live", "shadow"],
        "score": [0.9, 0.2, 0.6, 0.1], "prediction": [1, 0, 1, 0], "model_version": ["1"] * 4,
    })
    feedback = pd.DataFrame({
        "request_id": ["r1", "r1", "r2", "r3", "zz"], "row": [1, 1, 0, 0, 0], "label": [0.0, 1.0, 1.0, 1.0, 1.0],
        "time": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 11:00", "2026-01-01 09:00", "2026-01-01 09:00", "2026-01-01 09:00"]),
    })
    joined = join_feedback(predictions, feedback).sort_values(["request_id", "row"])
    assert joined[["request_id", "row", "score", "label"]].values.tolist() == [["r1", 1, 0.2, 1.0], ["r2", 0, 0.6, 1.0]]
    no_row = feedback.drop(columns="row").iloc[[2]]
    assert join_feedback(predictions, no_row)["score"].tolist() == [0.6]  # row defaults to 0


@pytest.mark.parametrize("task, metric, y, s, baseline, decayed", [
    ("classification", "accuracy", [1, 0] * 50, [0.9, 0.1, 0.8, 0.2] * 25, 0.9, False),
    ("classification", "accuracy", [1, 0] * 50, [0.2, 0.9, 0.7, 0.1] * 25, 0.9, True),
    ("regression", "rmse", [1.0, 2.0, 3.0], [1.0, 2.0, 3.1], 0.1, False),
    ("regression", "rmse", [1.0, 2.0, 3.0] * 30, [2.0, 3.0, 4.0] * 30, 0.5, True),
    ("regression", "mae", [1.0, 2.0], [1.0, 2.0], 1.0, False),
])
def test_decision_direction_and_tolerance(task, metric, y, s, baseline, decayed):
    d = decide_performance(task, metric, y, s, baseline, tolerance=0.05)
    assert d.decayed is decayed and d.n == len(y)
    assert d.limit == pytest.approx(baseline * (0.95 if d.higher_is_better else 1.05))


def test_too_few_labels_or_one_class_never_decays():
    few = decide_performance("classification", "roc_auc", [1, 0], [0.1, 0.9], 0.9, 0.05, min_n=10)
    assert not few.decayed and "need 10" in few.reason and few.value == 0.0
    one_class = decide_performance("classification", "roc_auc", [1, 1], [0.1, 0.9], 0.9, 0.05)
    assert not one_class.decayed and math.isnan(one_class.value)
    assert one_class.to_dict()["value"] is None


def test_live_metric_falls_back_to_a_live_computable_one():
    assert live_metric("classification", "roc_auc") == "roc_auc"
    assert live_metric("classification", "ece") == "roc_auc"
    assert live_metric("regression", None) == "rmse"


def test_a_dip_within_the_windows_noise_is_not_decay_but_a_real_fall_is():
    """500 labels: an AUC ~1.5 standard errors below the limit is noise; one far below it is decay."""
    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.3).astype(float)

    def scores(separation: float) -> np.ndarray:
        return 1 / (1 + np.exp(-(separation * (y - 0.5) + rng.normal(size=500))))

    baseline, tolerance = 0.78, 0.05  # limit 0.741
    dip = decide_performance("classification", "roc_auc", y, scores(0.8), baseline, tolerance)
    assert dip.value < dip.limit and not dip.decayed, dip  # below the limit, but its upper bound is not
    assert dip.bound > dip.limit and "noise" in dip.reason
    fallen = scores(0.3)
    fall = decide_performance("classification", "roc_auc", y, fallen, baseline, tolerance)
    assert fall.decayed and fall.bound < fall.limit, fall
    assert decide_performance("classification", "roc_auc", y, fallen, baseline, tolerance) == fall  # seeded
    loss = decide_performance("regression", "rmse", y, y + rng.normal(scale=0.6, size=500), 0.5, 0.05)
    assert loss.decayed and loss.bound > loss.limit  # a loss: the lower bound lies above the limit
