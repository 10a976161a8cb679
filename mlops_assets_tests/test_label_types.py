"""Targets spelled "yes"/"no" (and true/false): from a CSV through ingestion, champion, a live endpoint and the
performance report, with the feed's labels at the edges and 0/1 codes inside (mlops_assets.labels)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from dagster import AssetKey, instance_for_test, materialize

from mlops_assets.definitions import build_definitions, default_resources, local_tracking_uri
from mlops_assets.ingestion import ingest_range
from mlops_assets.monitoring.assets import build_monitoring_assets
from mlops_assets.monitoring.logs import FEEDBACK, PREDICTIONS, project_log_dir, read_day
from mlops_assets.monitoring.performance import live_metric
from mlops_assets.project_assets import build_model_assets
from mlops_assets.resources.tracking import CHAMPION
from mlops_assets.serving.app import create_app
from mlops_assets.spec import load_spec
from mlops_assets.spec_init import infer_spec, read_csv_text, split_landing, write_spec
from mlops_assets_tests.serving.helpers import running, wait_ready

DAYS, ROWS_PER_DAY = 4, 250
LIVE_ROWS = 120  # rows of the last day sent to /predict, each labelled through /feedback

# target kind -> (negative, positive) as the CSV spells them, as JSON gives them back, and labels that are wrong
KINDS = {
    "yes_no": {"csv": ("no", "yes"), "json": ("no", "yes"), "wrong": ["maybe", 1, True, "Yes", None]},
    "bool": {"csv": ("False", "True"), "json": (False, True), "wrong": [1, 0, "true", "yes", None]},
}


def subscriptions_csv(path: Path, classes: tuple[str, str]) -> pd.DataFrame:
    """A seeded CSV (id, event time, numeric/categorical/nullable columns) whose two-class target, spelled
    `classes` (negative, positive), depends on the features. Returns the frame written."""
    rng = np.random.default_rng(23)
    n = DAYS * ROWS_PER_DAY
    day = np.repeat(np.arange(DAYS), ROWS_PER_DAY)
    times = pd.Timestamp("2026-03-01") + pd.to_timedelta(day, "D") + pd.to_timedelta(rng.integers(0, 86400, n), "s")
    plan = rng.choice(["basic", "plus", "pro"], n)
    calls = rng.poisson(2, n)
    tenure = rng.integers(1, 60, n)
    risk = rng.normal(0, 1, n)
    risk[rng.random(n) < 0.03] = np.nan
    logit = -0.5 + 0.6 * calls - 0.06 * tenure + 1.2 * (plan == "basic") + 0.8 * np.nan_to_num(risk)
    positive = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame({
        "account_id": [f"a{i:05d}" for i in range(n)],
        "event_ts": times.strftime("%Y-%m-%d %H:%M:%S"),
        "usage_gb": rng.gamma(2.0, 10.0, n).round(2), "plan": plan, "support_calls": calls,
        "tenure_months": tenure, "risk": risk.round(3),
        "subscribed": np.where(positive, classes[1], classes[0]),
    })
    frame.to_csv(path, index=False)
    return frame


def live_records(frame: pd.DataFrame, features: list[str]) -> list[dict]:
    """The features of `frame` as a client sends them (NaN -> null)."""
    rows = frame[features].to_dict(orient="records")
    return json.loads(json.dumps([{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                                  for r in rows]))


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_two_class_target_runs_from_ingestion_to_champion_endpoint_and_performance_report(
        kind, tmp_path, data_dir, monkeypatch):
    case = KINDS[kind]
    negative, positive = case["json"]
    csv = tmp_path / "subs.csv"
    written = subscriptions_csv(csv, case["csv"])

    # ---- a spec as `mlops-assets init` infers it, and the CSV split into landing files
    frame = read_csv_text(csv)
    spec_dict, notes = infer_spec(frame, "subs", "subscribed")
    spec = load_spec(write_spec(spec_dict, notes, tmp_path / "projects"))
    assert spec.target.task == "classification"
    if kind == "yes_no":
        assert spec.schema_.columns["subscribed"].dtype in ("str", "category")
        assert spec.target.positive_class == "yes"
    else:
        assert spec.schema_.columns["subscribed"].dtype == "bool"
        assert spec.target.positive_class in (None, True)
    split_landing(frame, spec, data_dir / spec.source.directory)
    features = list(spec.features.columns)
    assert "subscribed" not in features

    # ---- ingestion -> champion with a real Dagster instance
    resources = default_resources(str(data_dir), tracking_uri=local_tracking_uri(str(tmp_path / "ml")))
    defs = build_definitions([spec], resources)
    keys = [f"2026-03-0{d}" for d in range(1, DAYS + 1)]
    previous_uri = mlflow.get_tracking_uri()
    with instance_for_test() as instance:
        ingested = ingest_range(defs, spec, keys, instance)
        assert ingested.success and ingested.ingested == keys and not ingested.blocked
        assert ingested.rows == DAYS * ROWS_PER_DAY
        models = build_model_assets(spec)
        assert materialize(models, instance=instance, resources=resources, selection=[a.key for a in models]).success
        tracking = resources["tracking"]
        assert tracking.alias_version("subs", CHAMPION) == "1"

        # ---- a live endpoint serving the champion on 127.0.0.1
        tracking.activate()
        log_dir = project_log_dir(data_dir, spec.name)
        monkeypatch.delenv("MLOPS_SERVING_TOKEN", raising=False)
        live = written[written["event_ts"].str.startswith(keys[-1])].head(LIVE_ROWS).reset_index(drop=True)
        truth = [case["json"][case["csv"].index(v)] for v in live["subscribed"]]
        try:
            app = create_app(spec, log_dir, token_env=None, initial_model_uri=f"models:/subs@{CHAMPION}",
                             flush_interval_s=0.2)
            with running(app) as base:
                wait_ready(base)
                r = requests.post(f"{base}/predict", json={"records": live_records(live, features)}, timeout=60)
                assert r.status_code == 200, r.text
                body = r.json()
                answers = body["predictions"]
                assert len(answers) == LIVE_ROWS and body["model_version"] == "1"
                for a in answers:  # the feed's labels, of the feed's JSON kind, not codes
                    assert type(a["prediction"]) is type(positive) and a["prediction"] in (negative, positive), a
                    assert isinstance(a["probability"], float) and 0.0 <= a["probability"] <= 1.0, a
                    # the probability is of the positive class: the answer follows it at 0.5
                    assert a["prediction"] == (positive if a["probability"] >= 0.5 else negative), a
                assert {a["prediction"] for a in answers} == {negative, positive}  # both classes come back
                request_id = body["request_id"]

                for wrong in case["wrong"]:
                    bad = requests.post(f"{base}/feedback", json={"request_id": request_id, "row": 0, "label": wrong},
                                        timeout=10)
                    assert bad.status_code == 422, (wrong, bad.text)
                    [problem] = bad.json()["detail"]
                    assert problem["field"] == "label", (wrong, bad.text)
                    assert json.dumps(list(case["json"])) in problem["error"], (wrong, bad.text)  # names the classes

                for row, label in enumerate(truth):
                    ok = requests.post(f"{base}/feedback", json={"request_id": request_id, "row": row, "label": label},
                                       timeout=10)
                    assert ok.status_code == 202, (row, label, ok.text)
        finally:
            mlflow.set_tracking_uri(previous_uri)
            mlflow.set_registry_uri(previous_uri)
        # the server has stopped: its shutdown compacted the log into day files

        # ---- the logs keep codes (1 = the positive class)
        [day_dir] = sorted((log_dir / FEEDBACK).glob("date=*"))  # the UTC day the labels were received
        day = day_dir.name.removeprefix("date=")
        codes = np.array([1.0 if t == positive else 0.0 for t in truth])
        feedback = read_day(log_dir, FEEDBACK, day).sort_values("row")
        assert len(feedback) == LIVE_ROWS  # the wrong labels were not logged
        assert feedback["request_id"].eq(request_id).all()
        np.testing.assert_array_equal(feedback["label"].to_numpy(dtype=float), codes)
        logged = read_day(log_dir, PREDICTIONS, day).sort_values("row")
        assert len(logged) == LIVE_ROWS
        answered = np.array([1.0 if a["prediction"] == positive else 0.0 for a in answers])
        np.testing.assert_array_equal(logged["prediction"].to_numpy(dtype=float), answered)
        probabilities = np.array([a["probability"] for a in answers])
        np.testing.assert_allclose(logged["score"].to_numpy(dtype=float), probabilities, rtol=1e-6)

        # ---- the performance report scores those labels
        everything = build_monitoring_assets(spec) + build_model_assets(spec)
        perf_key = AssetKey(["subs", "performance_report"])
        perf = materialize(everything, instance=instance, resources=resources, selection=[perf_key],
                           partition_key=day)
        assert perf.success
        meta = perf.asset_materializations_for_node("subs__performance_report")[0].metadata
    metric = live_metric("classification", spec.evaluation.primary_metric)
    assert meta["metric"].value == metric
    assert meta["labels"].value == LIVE_ROWS and meta["joined"].value == LIVE_ROWS
    value = meta["value"].value
    assert math.isfinite(value)
    from mlops_assets.evaluation.metrics import get_metric

    assert value == pytest.approx(get_metric(metric).fn(codes, probabilities), rel=1e-6)  # from the sent labels
    if metric == "roc_auc":
        assert value > 0.6  # the model learnt the signal and the labels were matched to the right rows
