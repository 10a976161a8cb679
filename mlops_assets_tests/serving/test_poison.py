"""No poison input is accepted: bad records and feedback get a 4xx naming record and field; what is accepted is
written; an empty token refuses to start."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import requests

from mlops_assets_tests.serving.helpers import churn_raw, records
from mlops_assets_tests.serving.process import ROOT

HUGE = 10**310  # 311 digits: no float64 holds it


@pytest.mark.parametrize("body, field", [
    ({"request_id": "poison", "label": 1, "row": 100000000000000000000000}, "row"),
    ({"request_id": "abc", "label": 1, "row": 10_000}, "row"),  # over the server's max records per request
    ({"request_id": "abc", "label": 1, "row": True}, "row"),
    ({"request_id": "abc", "label": [None, 1]}, "label"),
    ({"request_id": "abc", "label": {"a": 1}}, "label"),
    ({"request_id": "abc", "label": True}, "label"),
    ({"request_id": "abc", "label": HUGE}, "label"),
    ({"request_id": "abc", "label": 1e308}, "label"),
    ({"request_id": ["abc"], "label": 1}, "request_id"),
    ({"request_id": "x" * 257, "label": 1}, "request_id"),
    ({"request_id": "\ud800", "label": 1}, "request_id"),  # a lone surrogate: valid JSON, not storable
])
def test_poison_feedback_is_422_naming_the_field_and_the_log_keeps_working(serve, tmp_path, body, field):
    log_dir = tmp_path / "log"
    with serve(log_dir=log_dir, max_records=10_000) as (base, app):
        r = requests.post(f"{base}/feedback", data=json.dumps(body), headers={"content-type": "application/json"},
                          timeout=10)
        assert r.status_code == 422, r.text
        assert field in [p["field"] for p in r.json()["detail"]]
        ok = requests.post(f"{base}/feedback", json={"request_id": "good", "label": 0, "row": 9_999}, timeout=10)
        assert ok.status_code == 202
    fb = pd.read_parquet(log_dir / "feedback")
    assert fb[["request_id", "row", "label"]].values.tolist() == [["good", 9_999, 0.0]]


@pytest.mark.parametrize("change, field", [
    ({"monthly_charges": HUGE}, "monthly_charges"),
    ({"tenure_months": -HUGE}, "tenure_months"),
    ({"tenure_months": True}, "tenure_months"),
    ({"monthly_charges": False}, "monthly_charges"),
    ({"region": {"nested": "object"}}, "region"),
    ({"num_products": [1, 2]}, "num_products"),
    ({"usage_minutes": 1e308}, "usage_minutes"),
    ({"contract": "x" * 100_000}, "contract"),
])
@pytest.mark.parametrize("route", ["/predict", "/invocations"])
def test_poison_records_are_4xx_naming_record_and_field(serve, change, field, route):
    rows = records(churn_raw(3, seed=41))
    rows[2].update(change)
    body = {"records": rows} if route == "/predict" else {"dataframe_records": rows}
    with serve() as (base, app):
        r = requests.post(f"{base}{route}", data=json.dumps(body), headers={"content-type": "application/json"},
                          timeout=10)
    assert 400 <= r.status_code < 500, r.text
    if route == "/predict":
        assert [(p["record"], p["field"]) for p in r.json()["detail"]] == [(2, field)]
    else:  # MLflow's error shape: the message names them
        assert field in r.text and "2" in r.text


def test_every_accepted_record_is_written(serve, tmp_path):
    """Edge values the contract accepts (int-valued floats in int fields, ints in float fields, bounds, nulls
    where allowed) all reach the Parquet log."""
    log_dir = tmp_path / "log"
    rows = records(churn_raw(4, seed=42))
    rows[0].update(tenure_months=12.0, monthly_charges=300, total_charges=None)
    rows[1].update(tenure_months=0, usage_minutes=0.0, total_charges=40000)
    rows[2].update(extra_field={"nested": [1, 2]})
    with serve(log_dir=log_dir) as (base, app):
        r = requests.post(f"{base}/predict", json={"records": rows}, timeout=10)
        assert r.status_code == 200, r.text
        metrics = requests.get(f"{base}/metrics", timeout=10).text
    logged = pd.read_parquet(log_dir / "predictions").sort_values("row")
    assert logged["request_id"].unique().tolist() == [r.json()["request_id"]] and len(logged) == 4
    assert logged["tenure_months"].tolist()[:2] == [12, 0] and pd.isna(logged["total_charges"].iloc[0])
    assert 'mlops_log_dead_letter_rows_total{kind="predictions"} 0.0' in metrics
    assert 'mlops_log_dropped_rows_total{kind="feedback"} 0.0' in metrics


def test_an_unwritable_log_day_is_quarantined_and_counted_in_metrics(serve, tmp_path):
    """A real fault (a regular file where today's feedback directory must be, which stops root too): the feedback
    is still acknowledged (it is in its segment), quarantined at compaction, and /metrics counts it."""
    from datetime import datetime, timezone

    from mlops_assets.serving.segments import dead_letter_rows

    log_dir = tmp_path / "log"
    day_dir = log_dir / "feedback" / f"date={datetime.now(timezone.utc).date().isoformat()}"
    day_dir.parent.mkdir(parents=True)
    day_dir.write_text("in the way")
    with serve(log_dir=log_dir, flush_interval_s=600) as (base, app):
        assert requests.post(f"{base}/feedback", json={"request_id": "q", "label": 1}, timeout=10).status_code == 202
        app.state.server.predlog.flush()
        metrics = requests.get(f"{base}/metrics", timeout=10).text
        assert 'mlops_log_dead_letter_rows_total{kind="feedback"} 1.0' in metrics
        day_dir.unlink()  # fixed: later feedback is written
        assert requests.post(f"{base}/feedback", json={"request_id": "w", "label": 0}, timeout=10).status_code == 202
    assert [d["row"]["request_id"] for d in dead_letter_rows(log_dir / "_dead_letter" / "feedback")] == ["q"]
    assert pd.read_parquet(log_dir / "feedback")["request_id"].tolist() == ["w"]


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_an_empty_or_whitespace_token_refuses_to_start(registry, tmp_path, monkeypatch, value):
    from mlops_assets.serving.app import create_app

    monkeypatch.setenv("MLOPS_SERVING_TOKEN", value)
    with pytest.raises(ValueError, match="MLOPS_SERVING_TOKEN is set but empty"):
        create_app(registry.spec, tmp_path / "log")
    out = subprocess.run([sys.executable, "-m", "mlops_assets.serving", "--project", str(ROOT / "projects" / "churn.yaml"),
                          "--log-dir", str(tmp_path / "log")], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MLOPS_SERVING_TOKEN": value})
    assert out.returncode == 2 and "MLOPS_SERVING_TOKEN is set but empty or whitespace" in out.stderr


def test_unset_token_means_no_auth(serve):
    with serve() as (base, app):
        assert app.state.server.token is None
        r = requests.post(f"{base}/feedback", json={"request_id": "a", "label": 1}, timeout=10)
        assert r.status_code == 202
