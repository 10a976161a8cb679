"""The HTTP surface on a real server: every bad input is a 4xx naming the problem; auth; MLflow protocol; probes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import requests

from mlops_assets.features.transforms import build_features
from mlops_assets.serving.app import create_app
from mlops_assets_tests.serving.helpers import churn_raw, records, running, tracking_at, wait_ready

LIMIT_BYTES = 200_000
LIMIT_RECORDS = 300


@pytest.fixture(scope="module", autouse=True)
def registry_store(registry):
    """Every test here resolves ``models:/churn/...`` in the registry fixture's store, whichever test of another
    module (a Dagster run activating its own store) ran before."""
    with tracking_at(registry.uri):
        yield registry


@pytest.fixture(scope="module")
def base(registry_store, tmp_path_factory):
    registry = registry_store
    app = create_app(registry.spec, tmp_path_factory.mktemp("predlog"), token_env=None,
                     initial_model_uri="models:/churn@champion", max_body_bytes=LIMIT_BYTES,
                     max_records=LIMIT_RECORDS, flush_interval_s=0.2)
    with running(app) as url:
        wait_ready(url)
        yield url


@pytest.fixture(scope="module")
def good():
    return records(churn_raw(4, seed=5))


def raw_post(base: str, path: str, body: bytes, headers: dict | None = None) -> requests.Response:
    return requests.post(f"{base}{path}", data=body, headers={"content-type": "application/json", **(headers or {})},
                         timeout=30)


def with_(good, i, **changes):
    rows = [dict(r) for r in good]
    rows[i].update(changes)
    return rows


def without(good, i, field):
    rows = [dict(r) for r in good]
    del rows[i][field]
    return rows


BAD_PREDICT = {
    "malformed json": (b'{"records": [', 400, "malformed JSON"),
    "empty body": (b"", 400, "empty request body"),
    "not utf-8": (b'{"records": "\xff\xfe"}', 400, "not valid UTF-8"),
    "NaN constant": (b'{"records": [{"tenure_months": NaN}]}', 400, "non-standard JSON constant NaN"),
    "deeply nested": (b"[" * 50_000 + b"]" * 50_000, 400, "nested too deeply"),
    "top-level list": (b"[1, 2]", 422, "body must be a JSON object"),
    "no records field": (b'{"rows": []}', 422, "missing the 'records' field"),
    "records not a list": (b'{"records": {"a": 1}}', 422, "'records' must be a list"),
    "empty list": (b'{"records": []}', 422, "'records' is empty"),
    "record not an object": (b'{"records": [1]}', 422, "must be a JSON object"),
}


@pytest.mark.parametrize("case", list(BAD_PREDICT))
def test_malformed_bodies_are_4xx_naming_the_problem(base, case):
    body, status, message = BAD_PREDICT[case]
    r = raw_post(base, "/predict", body)
    assert r.status_code == status, r.text
    assert message in json.dumps(r.json()["detail"])


@pytest.mark.parametrize(
    "change, record, field, message",
    [
        (lambda g: with_(g, 3, tenure_months=500), 3, "tenure_months", "must be <= 120, got 500"),
        (lambda g: with_(g, 1, monthly_charges=-5), 1, "monthly_charges", "must be >= 0, got -5"),
        (lambda g: with_(g, 2, tenure_months="12"), 2, "tenure_months", "must be an integer, got '12'"),
        (lambda g: with_(g, 0, senior_citizen="no"), 0, "senior_citizen", "must be true or false"),
        (lambda g: with_(g, 0, num_products=2.5), 0, "num_products", "must be an integer, got 2.5"),
        (lambda g: with_(g, 2, contract="weekly"), 2, "contract", "unknown category 'weekly'"),
        (lambda g: with_(g, 1, region=None), 1, "region", "missing or null"),
        (lambda g: without(g, 3, "usage_minutes"), 3, "usage_minutes", "missing or null"),
        (lambda g: [{k: v for k, v in r.items() if k != "late_payments"} for r in g], None, "late_payments",
         "missing required field"),
        (lambda g: with_(g, 0, support_calls=2**80), 0, "support_calls", "must be an integer"),
    ],
)
def test_contract_violations_are_422_with_record_and_field(base, good, change, record, field, message):
    r = requests.post(f"{base}/predict", json={"records": change(good)}, timeout=30)
    assert r.status_code == 422, r.text
    problem = r.json()["detail"][0]
    assert (problem["record"], problem["field"]) == (record, field)
    assert message in problem["error"]
    # /invocations answers as MLflow does: 400 INVALID_PARAMETER_VALUE, the same problems listed
    r = requests.post(f"{base}/invocations", json={"dataframe_records": change(good)}, timeout=30)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE" and message in body["message"]
    assert (body["problems"][0]["record"], body["problems"][0]["field"]) == (record, field)


def test_hostile_field_names_and_huge_numbers_are_not_5xx(base, good):
    rows = [dict(r, **{"caf\u00e9\n\U0001F600": 1}) for r in good]
    r = requests.post(f"{base}/invocations", json={"dataframe_records": rows}, timeout=30)
    assert r.status_code == 200 and "ignored unknown fields" in r.headers["x-warnings"]
    body = json.dumps({"records": good}).replace('"usage_minutes": ', '"usage_minutes": 1e400, "x": ', 1)
    r = raw_post(base, "/predict", body.encode())
    assert r.status_code == 422 and "must be a finite number, got inf" in r.json()["detail"][0]["error"]


def test_size_limits_are_413(base, good):
    r = raw_post(base, "/predict", json.dumps({"records": good * 2000}).encode()[: LIMIT_BYTES + 5000])
    assert r.status_code == 413 and "over the limit" in r.json()["detail"]
    r = requests.post(f"{base}/predict", json={"records": [good[0]] * (LIMIT_RECORDS + 1)}, timeout=30)
    assert r.status_code == 413 and f"over the limit of {LIMIT_RECORDS}" in r.json()["detail"]
    # a chunked body (no Content-Length) is counted as it streams
    chunks = (b" " * 10_000 for _ in range(LIMIT_BYTES // 10_000 + 2))
    r = requests.post(f"{base}/predict", data=chunks, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413


def test_wrong_content_type_method_and_path(base, good):
    r = raw_post(base, "/predict", b"a,b\n1,2", headers={"content-type": "text/csv"})
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    assert requests.get(f"{base}/predict", timeout=10).status_code == 405
    assert requests.post(f"{base}/nope", json={}, timeout=10).status_code == 404


BAD_INVOCATIONS = [  # MLflow's error codes: BAD_REQUEST for a malformed body, INVALID_PARAMETER_VALUE for data
    ({"records": []}, "BAD_REQUEST", "exactly one of"),
    ({"dataframe_split": {"columns": ["a"], "data": [[1]]}, "dataframe_records": []}, "BAD_REQUEST", "exactly one of"),
    ({"dataframe_split": {"columns": ["tenure_months"], "data": [[1, 2]]}}, "BAD_REQUEST",
     "1 columns passed, passed data had 2 columns"),
    ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, "BAD_REQUEST", "must be distinct"),
    ({"dataframe_split": [1]}, "BAD_REQUEST", "must be a dictionary"),
    ({"inputs": {"tenure_months": [1, 2], "region": ["north"]}}, "INVALID_PARAMETER_VALUE", "are not the same"),
    ({"inputs": {"tenure_months": 1, "region": []}}, "BAD_REQUEST", "must all be lists"),
    ({"inputs": "x"}, "INVALID_PARAMETER_VALUE", "'inputs' must be"),
    ({"dataframe_records": []}, "INVALID_PARAMETER_VALUE", "no rows"),
    ({"dataframe_records": {"a": 1}}, "BAD_REQUEST", "must be a list of records"),
]


@pytest.mark.parametrize("body, code, message", BAD_INVOCATIONS)
def test_bad_invocations_are_mlflow_400s(base, body, code, message):
    r = requests.post(f"{base}/invocations", json=body, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == code and message in r.json()["message"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"label": 1}, "missing ['request_id']"),
        ({"request_id": "abc"}, "missing ['label']"),
        ({"request_id": "abc", "label": 2}, "must be <= 1, got 2"),
        ({"request_id": "abc", "label": "yes"}, "must be an integer"),
        ({"request_id": "abc", "label": None}, "null"),
        ({"request_id": 7, "label": 1}, "non-empty string"),
        ({"request_id": "abc", "label": 1, "row": -1}, "non-negative integer"),
    ],
)
def test_bad_feedback_is_422(base, body, message):
    r = requests.post(f"{base}/feedback", json=body, timeout=30)
    assert r.status_code == 422, r.text
    assert message in json.dumps(r.json()["detail"])


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({}, 422, "model_uri"),
        ({"model_uri": "models:/churn/2", "mode": "sideways"}, 422, "'mode' must be one of"),
        ({"model_uri": "models:/churn/2", "mode": "canary", "weight": 1.5}, 422, "'weight' must be"),
        ({"model_uri": "models:/churn/99"}, 422, "cannot load model 'models:/churn/99'"),
        ({"model_uri": "/no/such/model"}, 422, "cannot load model"),
    ],
)
def test_bad_admin_load_is_4xx_and_keeps_serving(base, good, body, status, message):
    r = requests.post(f"{base}/admin/load", json=body, timeout=60)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]
    assert requests.get(f"{base}/version", timeout=10).json()["model_version"] == "1"


def test_none_of_the_bad_inputs_produced_a_5xx(base, good):
    """Sends every bad /predict body itself (passes alone); with the other tests, it also covers theirs."""
    for body, status, _ in BAD_PREDICT.values():
        assert raw_post(base, "/predict", body).status_code == status
    assert requests.post(f"{base}/predict", json={"records": with_(good, 0, contract="weekly")},
                         timeout=30).status_code == 422
    text = requests.get(f"{base}/metrics", timeout=10).text
    server_errors = [line for line in text.splitlines()
                     if line.startswith("mlops_serving_requests_total") and 'status="5' in line
                     and 'route="/ready"' not in line]  # /ready is 503 by design while the model loads
    assert server_errors == []
    assert 'mlops_serving_requests_total{route="/predict",status="422"}' in text


def test_predict_response_and_unknown_field_warning(base, good, registry):
    rows = [dict(r, favourite_colour="red") for r in good]
    r = requests.post(f"{base}/predict", json={"records": rows}, timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["model_version"] == "1" and body["role"] == "live" and len(body["request_id"]) == 32
    assert body["warnings"] == ["ignored unknown fields: ['favourite_colour']"]
    raw = pd.DataFrame(good)
    proba = registry.pipelines["1"].predict_proba(build_features(registry.spec, raw))[:, 1]
    assert [p["probability"] for p in body["predictions"]] == proba.tolist()  # exact: same features, same model
    assert [p["prediction"] for p in body["predictions"]] == registry.pipelines["1"].predict(
        build_features(registry.spec, raw)).tolist()
    fb = requests.post(f"{base}/feedback", json={"request_id": body["request_id"], "label": 1, "row": 2}, timeout=10)
    assert fb.status_code == 202


def test_invocations_match_mlflow_pyfunc_for_every_input_format(base, registry):
    import mlflow.pyfunc

    raw = churn_raw(25, seed=9)
    rows = records(raw)
    expected = mlflow.pyfunc.load_model("models:/churn/1").predict(build_features(registry.spec, raw))
    expected_body = json.loads(json.dumps({"predictions": np.asarray(expected).tolist()}))
    cols = list(rows[0])
    bodies = [
        {"dataframe_records": rows},
        {"dataframe_split": {"columns": cols, "data": [[r[c] for c in cols] for r in rows]}},
        {"inputs": rows},
        {"inputs": {c: [r[c] for r in rows] for c in cols}},
    ]
    for body in bodies:
        r = requests.post(f"{base}/invocations", json=body, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json() == expected_body
        assert r.headers["x-model-version"] == "1"


def test_probes_version_metrics_and_openapi(base, good):
    assert requests.post(f"{base}/predict", json={"records": good}, timeout=30).status_code == 200  # counted below
    assert requests.get(f"{base}/health", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{base}/ready", timeout=10).json() == {"ready": True, "model_version": "1"}
    v = requests.get(f"{base}/version", timeout=10).json()
    assert v == {"project": "churn", "model_uri": "models:/churn@champion", "model_version": "1",
                 "alias": "champion", "data_version": "2026-01-01", "strategy": "blue_green", "weight": 0.0,
                 "candidate": None}
    m = requests.get(f"{base}/metrics", timeout=10)
    assert m.headers["content-type"].startswith("text/plain")
    for name in ("mlops_serving_requests_total", "mlops_serving_errors_total", "mlops_serving_request_seconds_bucket",
                 'mlops_serving_predictions_total{model_version="1",role="live"}', "mlops_serving_score_bucket"):
        assert name in m.text
    assert "mlops_serving_batch_rows_bucket" in m.text
    doc = requests.get(f"{base}/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.") and "/predict" in doc["paths"] and "/admin/load" in doc["paths"]
    assert set(doc["components"]["schemas"]["Record"]["required"]) >= {"tenure_months", "contract"}


def test_bearer_token_guards_scoring_feedback_and_admin(registry, tmp_path, monkeypatch, good):
    monkeypatch.setenv("MLOPS_SERVING_TEST_TOKEN", "s3cret")
    app = create_app(registry.spec, tmp_path, token_env="MLOPS_SERVING_TEST_TOKEN",
                     initial_model_uri="models:/churn/1")
    with running(app) as url:
        wait_ready(url)
        ok = {"Authorization": "Bearer s3cret"}
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "s3cret"}):
            for method, path, body in (("post", "/predict", {"records": good}), ("post", "/invocations", {}),
                                       ("post", "/feedback", {}), ("post", "/admin/load", {}),
                                       ("post", "/admin/rollback", {}), ("get", "/admin/status", None)):
                r = requests.request(method, f"{url}{path}", json=body, headers=headers, timeout=10)
                assert r.status_code == 401, (path, headers, r.text)
                error = r.json()
                assert "bearer token" in (error["message"] if path == "/invocations" else error["detail"])
                if path == "/invocations":
                    assert error["error_code"] == "UNAUTHENTICATED"
        for path in ("/health", "/ready", "/metrics", "/version", "/openapi.json"):
            assert requests.get(f"{url}{path}", timeout=10).status_code == 200
        assert requests.post(f"{url}/predict", json={"records": good}, headers=ok, timeout=10).status_code == 200
        assert requests.get(f"{url}/admin/status", headers=ok, timeout=10).status_code == 200


def test_not_ready_until_a_model_is_loaded(registry, tmp_path, good):
    app = create_app(registry.spec, tmp_path, token_env=None)
    with running(app) as url:
        r = requests.get(f"{url}/ready", timeout=10)
        assert r.status_code == 503 and r.json()["detail"] == "no model loaded yet"
        assert requests.post(f"{url}/predict", json={"records": good}, timeout=10).status_code == 503
        r = requests.post(f"{url}/admin/load", json={"model_uri": "models:/churn/2", "mode": "canary"}, timeout=60)
        assert r.status_code == 409
        r = requests.post(f"{url}/admin/load", json={"model_uri": "models:/churn/2"}, timeout=60)
        assert r.status_code == 200 and r.json()["live"]["model_version"] == "2"
        assert requests.get(f"{url}/ready", timeout=10).status_code == 200
