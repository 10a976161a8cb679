"""/invocations speaks MLflow's scoring protocol: side by side with ``mlflow models serve`` on the same registered
model (housing, same sqlite store), every payload kind gets the same predictions, status codes and error shape;
MLflow's own ScoringServerClient works against our server. A few inputs MLflow scores and our contract refuses
(out of range, unknown category, null in a required field, 3.5 bedrooms) are listed and checked as such."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from mlops_assets.serving.app import create_app
from mlops_assets.spec import load_spec
from mlops_assets_tests.serving.helpers import PROJECTS, free_port, running, wait_ready

HOUSING_URI = "models:/housing@champion"


def housing_spec():
    return load_spec(PROJECTS / "housing.yaml")


def housing_raw(rows: int, seed: int) -> pd.DataFrame:
    from mlops_assets.data.generators.common import BatchRequest
    from mlops_assets.data.generators.housing import generate_housing

    return generate_housing(BatchRequest(datetime.date(2026, 1, 5), rows=rows, seed=seed)).reset_index(drop=True)


@pytest.fixture(scope="module")
def housing(registry):
    """Registered model 'housing' v1 (alias champion) in the serving tests' store, logged as training logs it:
    the spec's pipeline, a signature and an input example over the feature columns."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from mlops_assets.training.training_set import fit_candidate

    spec = housing_spec()
    raw = housing_raw(600, seed=3)
    pipe = fit_candidate(spec, raw, "hist_gradient_boosting", {"max_iter": 20}, 0)
    example = raw[list(spec.features.columns)].head(5)
    exp = mlflow.create_experiment("serving-housing", artifact_location=(Path(registry.uri[10:]).parent
                                                                         / "housing-artifacts").as_uri())
    with mlflow.start_run(experiment_id=exp):
        mlflow.sklearn.log_model(pipe, name="model", signature=infer_signature(example, pipe.predict(example)),
                                 input_example=example, serialization_format="cloudpickle",
                                 registered_model_name="housing", pip_requirements=["scikit-learn"])
    MlflowClient().set_registered_model_alias("housing", "champion", "1")
    return pipe


@contextlib.contextmanager
def mlflow_serve(tracking_uri: str, model_uri: str, timeout: float = 180.0):
    """``mlflow models serve --env-manager local`` on a free port of 127.0.0.1; stopped (its process group) after."""
    port = free_port()
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"}
    cmd = [str(Path(venv_bin) / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
           "-p", str(port), "-h", "127.0.0.1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited {proc.returncode}: {proc.stdout.read().decode()[-3000:]}")
            try:
                if requests.get(f"{base}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"mlflow models serve not up on {base} within {timeout}s")
            time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def servers(registry, housing, tmp_path_factory):
    """(ours, mlflow's): both serving models:/housing@champion from the same store."""
    previous = os.environ.pop("MLOPS_SERVING_TOKEN", None)
    app = create_app(housing_spec(), tmp_path_factory.mktemp("predlog"), token_env=None, initial_model_uri=HOUSING_URI,
                     flush_interval_s=0.2)
    try:
        with mlflow_serve(registry.uri, HOUSING_URI) as theirs, running(app) as ours:
            wait_ready(ours)
            yield ours, theirs
    finally:
        if previous is not None:
            os.environ["MLOPS_SERVING_TOKEN"] = previous


def post(base: str, body: object, content_type: str | None = "application/json") -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers = {"Content-Type": content_type} if content_type else {}
    return requests.post(f"{base}/invocations", data=data.encode() if isinstance(data, str) else data,
                         headers=headers, timeout=60)


def rows_of(raw: pd.DataFrame, spec) -> list[dict]:
    frame = raw[list(spec.features.columns)]
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in json.loads(frame.to_json(orient="records"))]


def payloads() -> dict[str, tuple[object, str | None]]:
    """Every payload kind MLflow scores: name -> (body, content type)."""
    spec = housing_spec()
    raw = housing_raw(12, seed=11)
    raw.loc[3, "lot_size"] = np.nan  # nullable: null in JSON, NaN literal, empty CSV cell
    recs = rows_of(raw, spec)
    cols = list(spec.features.columns)
    split = {"columns": cols, "data": [[r[c] for c in cols] for r in recs]}
    columnar = {c: [r[c] for r in recs] for c in cols}
    csv = raw[cols].to_csv(index=False)
    nan_literal = json.dumps({"dataframe_records": recs}).replace('"lot_size": null', '"lot_size": NaN')
    assert "NaN" in nan_literal
    reordered = {"columns": cols[::-1], "data": [[r[c] for c in cols[::-1]] for r in recs]}
    return {
        "dataframe_records": ({"dataframe_records": recs}, "application/json"),
        "dataframe_split": ({"dataframe_split": split}, "application/json"),
        "dataframe_split with index": ({"dataframe_split": {**split, "index": list(range(100, 112))}},
                                       "application/json"),
        "dataframe_split, columns reordered": ({"dataframe_split": reordered}, "application/json"),
        "instances as records": ({"instances": recs}, "application/json"),
        "instances as columns": ({"instances": columnar}, "application/json"),
        "inputs as records": ({"inputs": recs}, "application/json"),
        "inputs as columns": ({"inputs": columnar}, "application/json"),
        "inputs as one record": ({"inputs": recs[0]}, "application/json"),
        "params": ({"dataframe_records": recs, "params": {"threshold": 0.5}}, "application/json"),
        "NaN literal": (nan_literal, "application/json"),
        "unknown extra field": ({"dataframe_records": [{**r, "colour": "red"} for r in recs]}, "application/json"),
        "integers for floats": ({"dataframe_records": [{**r, "sqft": int(r["sqft"])} for r in recs]},
                                "application/json"),
        "charset=utf-8": ({"dataframe_records": recs}, "application/json; charset=utf-8"),
        "csv": (csv, "text/csv"),
        "csv, charset=utf-8": (csv, "text/csv; charset=utf-8"),
    }


def test_every_payload_kind_gets_mlflows_predictions(servers, housing):
    ours, theirs = servers
    for name, (body, ctype) in payloads().items():
        a, b = post(ours, body, ctype), post(theirs, body, ctype)
        assert (a.status_code, b.status_code) == (200, 200), (name, a.text[:500], b.text[:500])
        assert a.headers["content-type"].startswith("application/json")
        assert list(a.json()) == ["predictions"], name
        assert a.json() == b.json(), name  # exact: same model, same features
        assert a.headers["x-input-kind"] == "raw" and a.headers["x-model-version"] == "1"
        n = 1 if name == "inputs as one record" else 12
        assert len(a.json()["predictions"]) == n


REC = {"sqft": 1500.0, "bedrooms": 3, "bathrooms": 2.0, "year_built": 1990, "lot_size": 4000.0,
       "neighborhood": "downtown", "condition": "good", "garage": True, "distance_to_center_km": 5.0}
ROW = list(REC.values())

#: Refused by both: name -> (body, content type, status, MLflow's error_code (None: a text/plain 415)).
REFUSED = {
    "malformed JSON": ("{nope", "application/json", 400, "BAD_REQUEST"),
    "empty body": ("", "application/json", 400, "BAD_REQUEST"),
    "not UTF-8": (b'{"dataframe_records": "\xff\xfe"}', "application/json", 400, "BAD_REQUEST"),
    "top-level list": ([REC], "application/json", 400, "BAD_REQUEST"),
    "top-level scalar": (3, "application/json", 400, "BAD_REQUEST"),
    "no format key": ({"records": [REC]}, "application/json", 400, "BAD_REQUEST"),
    "two format keys": ({"dataframe_records": [REC], "instances": [REC]}, "application/json", 400, "BAD_REQUEST"),
    "records as an object": ({"dataframe_records": REC}, "application/json", 400, "BAD_REQUEST"),
    "split as a list": ({"dataframe_split": [REC]}, "application/json", 400, "BAD_REQUEST"),
    "split with an extra key": ({"dataframe_split": {"columns": list(REC), "data": [ROW], "x": 1}},
                                "application/json", 400, "BAD_REQUEST"),
    "split, ragged rows": ({"dataframe_split": {"columns": list(REC), "data": [[1]]}}, "application/json", 400,
                           "BAD_REQUEST"),
    "split without columns": ({"dataframe_split": {"data": [ROW]}}, "application/json", 400,
                              "INVALID_PARAMETER_VALUE"),
    "missing column": ({"dataframe_records": [{k: v for k, v in REC.items() if k != "sqft"}]}, "application/json",
                       400, "INVALID_PARAMETER_VALUE"),
    "no records": ({"dataframe_records": []}, "application/json", 400, "INVALID_PARAMETER_VALUE"),
    "no instances": ({"instances": []}, "application/json", 400, "INVALID_PARAMETER_VALUE"),
    "records that are not objects": ({"dataframe_records": [1, 2]}, "application/json", 400,
                                     "INVALID_PARAMETER_VALUE"),
    "inputs, unequal columns": ({"inputs": {"sqft": [1.0, 2.0], "bedrooms": [1]}}, "application/json", 400,
                                "INVALID_PARAMETER_VALUE"),
    "inputs, a scalar": ({"instances": 5}, "application/json", 400, "INVALID_PARAMETER_VALUE"),
    "bad CSV": ('a,b\n1,2,3,4\n"x', "text/csv", 400, "BAD_REQUEST"),
    "unsupported content type": ("<a/>", "application/xml", 415, None),
    "charset other than UTF-8": ({"dataframe_records": [REC]}, "application/json; charset=latin-1", 415, None),
    "unknown content-type parameter": ({"dataframe_records": [REC]}, "application/json; foo=bar", 415, None),
}

#: MLflow scores these (its schema enforcement only casts types); the contract refuses them, naming the field.
STRICTER = {
    "out of range": ({**REC, "sqft": -5.0}, "sqft"),
    "unknown category": ({**REC, "neighborhood": "mars"}, "neighborhood"),
    "null in a required field": ({**REC, "sqft": None}, "sqft"),
    "fractional integer": ({**REC, "bedrooms": 3.5}, "bedrooms"),
    "boolean for an integer": ({**REC, "bedrooms": True}, "bedrooms"),
}


def _shape(r: requests.Response) -> tuple:
    if r.status_code == 415:
        return 415, r.headers["content-type"].split(";")[0], None
    body = r.json()
    assert isinstance(body["error_code"], str) and isinstance(body["message"], str) and body["message"], r.text
    return r.status_code, r.headers["content-type"].split(";")[0], body["error_code"]


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_inputs_get_mlflows_status_and_error_shape(servers, name):
    ours, theirs = servers
    body, ctype, status, code = REFUSED[name]
    a, b = post(ours, body, ctype), post(theirs, body, ctype)
    expected = (status, "text/plain" if status == 415 else "application/json", code)
    assert _shape(b) == expected, b.text  # what mlflow models serve answers (guards the table above)
    assert _shape(a) == expected, a.text


def test_a_wrongly_typed_value_is_400_on_both(servers):
    ours, theirs = servers
    body = {"dataframe_records": [{**REC, "sqft": "big"}]}
    a, b = post(ours, body), post(theirs, body)
    assert (a.status_code, b.status_code) == (400, 400)
    assert b.json()["error_code"] == "BAD_REQUEST"  # MLflow: a failed cast; ours: a contract problem
    assert a.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert a.json()["problems"] == [{"record": 0, "field": "sqft", "error": "must be a number, got 'big'"}]


@pytest.mark.parametrize("name", list(STRICTER))
def test_the_contract_is_stricter_than_mlflows_schema_enforcement(servers, name):
    ours, theirs = servers
    record, field = STRICTER[name]
    body = {"dataframe_records": [REC, record]}
    assert post(theirs, body).status_code == 200
    a = post(ours, body)
    assert _shape(a) == (400, "application/json", "INVALID_PARAMETER_VALUE"), a.text
    assert [(p["record"], p["field"]) for p in a.json()["problems"]] == [(1, field)]


def test_methods_ping_and_health_like_mlflow(servers):
    ours, theirs = servers
    for base in (ours, theirs):
        r = requests.get(f"{base}/invocations", timeout=10)
        assert r.status_code == 405 and r.headers["allow"] == "POST", (base, r.headers)
        assert requests.get(f"{base}/ping", timeout=10).status_code == 200
        assert requests.get(f"{base}/health", timeout=10).status_code == 200


def test_mlflows_scoring_server_client_works_against_ours(servers):
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    ours, theirs = servers
    spec = housing_spec()
    frame = housing_raw(20, seed=17)[list(spec.features.columns)]
    frame.loc[2, "lot_size"] = np.nan  # the client sends it as a NaN literal
    results = []
    for base in (ours, theirs):
        host, port = base.removeprefix("http://").split(":")
        client = ScoringServerClient(host, int(port))
        client.ping()
        client.wait_server_ready(timeout=10)
        results.append(client.invoke(frame).get_predictions())
        results.append(client.invoke(frame, params={"a": 1}).get_predictions())
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0], other)
    assert len(results[0]) == 20


def test_dbt_feature_project_takes_raw_fields_or_the_signatures_feature_columns(serve, registry):
    """churn's features are computed (dbt): /invocations takes the raw fields or, as `mlflow models serve` does,
    the feature columns the model was trained on, decided by the payload's columns."""
    from mlops_assets.features.transforms import build_features
    from mlops_assets_tests.serving.helpers import churn_raw, records

    raw = churn_raw(15, seed=21)
    feats = build_features(registry.spec, raw)
    expected = registry.pipelines["1"].predict(feats).tolist()
    feature_rows = json.loads(feats.to_json(orient="records"))
    cols = list(feats.columns)
    with serve() as (base, _):
        r = post(base, {"dataframe_records": records(raw)})
        assert r.status_code == 200 and r.headers["x-input-kind"] == "raw"
        assert r.json() == {"predictions": expected}
        for body, ctype in (({"dataframe_records": feature_rows}, "application/json"),
                            ({"dataframe_split": {"columns": cols, "data": feats.values.tolist()}}, "application/json"),
                            ({"inputs": {c: feats[c].tolist() for c in cols}}, "application/json"),
                            (feats.to_csv(index=False), "text/csv")):
            r = post(base, body, ctype)
            assert r.status_code == 200, r.text
            assert r.headers["x-input-kind"] == "features"
            assert r.json() == {"predictions": expected}
        bad = [dict(row) for row in feature_rows]
        bad[4]["contract"], bad[2]["charges_ratio"] = "weekly", "high"
        r = post(base, {"dataframe_records": bad})
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert [(p["record"], p["field"]) for p in r.json()["problems"]] == [(2, "charges_ratio"), (4, "contract")]
        # neither complete: the raw field it lacks is named (total_charges is raw only)
        partial = [{k: v for k, v in row.items() if k in records(raw)[0] and k != "total_charges"} for row in feature_rows]
        r = post(base, {"dataframe_records": partial})
        assert r.status_code == 400 and "total_charges" in r.json()["message"]


def test_openapi_document_is_generated_from_the_spec(serve, registry):
    with serve() as (base, _):
        doc = requests.get(f"{base}/openapi.json", timeout=10).json()
    schemas = doc["components"]["schemas"]
    record, features = schemas["Record"], schemas["FeatureRecord"]
    cols = registry.spec.schema_.columns
    assert record["required"] == ["tenure_months", "contract", "payment_method", "internet_service", "region",
                                  "senior_citizen", "num_products", "monthly_charges", "total_charges",
                                  "support_calls", "usage_minutes", "late_payments"]
    assert record["properties"]["tenure_months"] == {"maximum": 120, "minimum": 0, "title": "Tenure Months",
                                                     "type": "integer"}
    assert record["properties"]["contract"]["enum"] == cols["contract"].categories
    assert {"type": "null"} in record["properties"]["total_charges"]["anyOf"]  # nullable in the spec
    assert features["required"] == list(registry.spec.features.columns)
    assert features["properties"]["is_month_to_month"]["type"] == "boolean"
    inv = doc["paths"]["/invocations"]["post"]
    assert set(inv["requestBody"]["content"]) == {"application/json", "text/csv"}
    assert set(inv["responses"]) == {"200", "400", "413", "415", "503"}  # no token: no 401
    assert "text/plain" in inv["responses"]["415"]["content"]
    assert inv["responses"]["200"]["headers"]["x-input-kind"]["schema"]["enum"] == ["raw", "features"]
    assert doc["paths"]["/feedback"]["post"]["responses"]["202"]
    assert "/ping" in doc["paths"] and "securitySchemes" not in doc["components"]
