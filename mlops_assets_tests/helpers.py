"""Helpers for the tests in this package (imported by test modules; fixtures stay in conftest.py)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mlops_assets.spec import ProjectSpec, parse_spec


REPO = Path(__file__).resolve().parents[1]


PROJECTS = REPO / "projects"


def spec_dict(name: str) -> dict:
    """A shipped spec as a plain mapping, to derive variants from."""
    return yaml.safe_load((PROJECTS / f"{name}.yaml").read_text())


def churn_landing_spec(directory: Path, features: str = "passthrough") -> ProjectSpec:
    """The churn schema fed from a landing directory of daily Parquet files (to inject bad batches)."""
    data = copy.deepcopy(spec_dict("churn"))
    data["name"] = "churnland"
    data["source"] = {"kind": "landing", "directory": str(directory), "filename_template": "churn_{date:%Y-%m-%d}.parquet"}
    if features == "passthrough":
        cols = ["tenure_months", "monthly_charges", "contract", "region", "support_calls"]
        data["features"] = {"kind": "passthrough", "columns": cols}
    return parse_spec(data, "churnland.yaml")


#: churn_like_csv's size: days of rows, rows per day.
CSV_DAYS, CSV_ROWS_PER_DAY = 5, 300


def churn_like_csv(path) -> None:
    """A seeded CSV with an id, an event time, numeric/categorical/nullable/free-text columns and a 0/1 target
    that depends on the features."""
    rng = np.random.default_rng(11)
    n = CSV_DAYS * CSV_ROWS_PER_DAY
    day = np.repeat(np.arange(CSV_DAYS), CSV_ROWS_PER_DAY)
    times = pd.Timestamp("2026-03-01") + pd.to_timedelta(day, "D") + pd.to_timedelta(rng.integers(0, 86400, n), "s")
    plan = rng.choice(["basic", "plus", "pro"], n)
    calls = rng.poisson(2, n)
    tenure = rng.integers(1, 60, n)
    usage = rng.gamma(2.0, 10.0, n)
    score = rng.normal(0, 1, n)
    score[rng.random(n) < 0.03] = np.nan
    logit = -0.5 + 0.6 * calls - 0.06 * tenure + 1.2 * (plan == "basic") + 0.8 * np.nan_to_num(score)
    frame = pd.DataFrame({
        "account_id": [f"a{i:05d}" for i in range(n)],
        "event_ts": times.strftime("%Y-%m-%d %H:%M:%S"),
        "usage_gb": usage.round(2), "plan": plan, "support_calls": calls, "tenure_months": tenure,
        "score": score.round(3), "email": [f"u{i}@example.com" for i in range(n)],
        "churned": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
    })
    frame.to_csv(path, index=False)
