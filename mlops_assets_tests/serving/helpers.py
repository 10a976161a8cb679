"""Helpers for the tests in this package (imported by test modules; fixtures stay in conftest.py)."""

from __future__ import annotations

import contextlib
import datetime
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import requests

from mlops_assets.constants import TRAINING_SET_VERSION_TAG
from mlops_assets.features.transforms import build_features
from mlops_assets.spec import load_spec


PROJECTS = Path(__file__).resolve().parents[2] / "projects"


CATEGORICAL = ["contract", "payment_method", "internet_service", "region"]


def churn_spec():
    return load_spec(PROJECTS / "churn.yaml")


def churn_raw(rows: int, seed: int, day: datetime.date = datetime.date(2026, 1, 5)) -> pd.DataFrame:
    """Seeded raw churn rows: the platform's generator if present, else a small stand-in with the same columns."""
    spec = churn_spec()
    try:
        from mlops_assets.data.generators.registry import generate_batch
    except ImportError:
        generate_batch = None
    if generate_batch is not None:
        frame = generate_batch(spec.source, day, rows=rows, seed=seed, bounds=spec.schema.bounds())
        return frame.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    cols = spec.schema_.columns
    tenure = rng.integers(0, 121, rows)
    monthly = np.round(rng.uniform(10, 150, rows), 2)
    total = np.where(tenure == 0, np.nan, np.round(monthly * tenure, 2))
    frame = pd.DataFrame({
        "customer_id": [f"C{seed}-{i:06d}" for i in range(rows)],
        "tenure_months": tenure,
        **{c: rng.choice(cols[c].categories, rows).astype(object) for c in CATEGORICAL},
        "senior_citizen": rng.random(rows) < 0.2,
        "num_products": rng.integers(1, 9, rows),
        "monthly_charges": monthly,
        "total_charges": total,
        "support_calls": rng.integers(0, 10, rows),
        "usage_minutes": np.round(rng.uniform(0, 3000, rows), 1),
        "late_payments": rng.integers(0, 6, rows),
    })
    frame["churned"] = (rng.random(rows) < 0.3 + 0.3 * (frame["contract"] == "month_to_month")).astype("int64")
    return frame


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready records of the raw frame, as a client would send them (NaN -> null, exact floats)."""
    import json
    import math

    rows = frame.drop(columns=["event_time", "signup_date"], errors="ignore").to_dict(orient="records")
    clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    return json.loads(json.dumps(clean))


def _pipeline(kind: str):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    if kind == "logreg":
        pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
                                remainder=StandardScaler())
        return Pipeline([("pre", pre), ("est", LogisticRegression(max_iter=300))])
    pre = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                              CATEGORICAL)], remainder="passthrough")
    return Pipeline([("pre", pre), ("est", HistGradientBoostingClassifier(max_iter=15, random_state=0))])


def build_registry(root: Path) -> SimpleNamespace:
    """A sqlite MLflow store under ``root`` with versions 1 (logistic regression) and 2 (gradient boosting)
    of registered model 'churn', tagged with training-set versions (the data version); alias champion -> 1.
    Sets the tracking URI."""
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    spec = churn_spec()
    raw = churn_raw(800, seed=7)
    feats = build_features(spec, raw)
    y = raw["churned"].to_numpy()
    exp = mlflow.create_experiment("serving-tests", artifact_location=(root / "artifacts").as_uri())
    pipelines = {}
    for version, kind in (("1", "logreg"), ("2", "hgb")):
        pipe = _pipeline(kind).fit(feats, y)
        with mlflow.start_run(experiment_id=exp):
            # explicit requirements: skips mlflow's slow requirement inference (a subprocess per model)
            mlflow.sklearn.log_model(pipe, name="model", serialization_format="cloudpickle",
                                     registered_model_name="churn", pip_requirements=["scikit-learn"])
        pipelines[version] = pipe
    client = MlflowClient()
    for version in ("1", "2"):
        client.set_model_version_tag("churn", version, TRAINING_SET_VERSION_TAG, f"2026-01-0{version}")
    client.set_registered_model_alias("churn", "champion", "1")
    return SimpleNamespace(uri=uri, pipelines=pipelines, spec=spec, raw=raw)


@contextlib.contextmanager
def tracking_at(uri: str):
    """MLflow's process-wide tracking and registry URIs set to `uri` (where ``models:/`` URIs resolve) until exit,
    then restored: tests elsewhere in the session (any Dagster run, through MlflowTracking.activate) move them."""
    import mlflow

    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app, timeout: float = 60.0):
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yield its base URL; stop gracefully (lifespan shutdown)."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                           timeout_graceful_shutdown=20))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
        assert not thread.is_alive(), "server did not stop"


def wait_ready(base: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = requests.get(f"{base}/ready", timeout=5)
        if r.status_code == 200:
            return r.json()
        if "failed" in r.json().get("detail", ""):
            raise RuntimeError(r.json()["detail"])
        time.sleep(0.05)
    raise TimeoutError(f"{base} not ready within {timeout}s")

