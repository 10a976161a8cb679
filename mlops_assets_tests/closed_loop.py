"""The closed loop's fixture and helpers (test_closed_loop, test_model_history): a real instance, MLflow sqlite
store and model server; traffic, ticks and waits."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import requests
import yaml
from dagster import RunConfig, RunRequest, SkipReason, build_sensor_context, instance_for_test, materialize

from mlops_assets.data.assets import RawDataConfig
from mlops_assets.data.generators.registry import generate_batch
from mlops_assets.definitions import build_definitions, default_resources, local_tracking_uri
from mlops_assets.monitoring.logs import project_log_dir
from mlops_assets.project_assets import build_data_assets
from mlops_assets.spec import DriftWindow, NumericShift
from mlops_assets_tests.deployment.helpers import TOKEN, TOKEN_ENV, make_deployer, small_churn

BASE_DAYS = [dt.date(2026, 1, d) for d in range(1, 7)]
LIVE_DAYS = [dt.date(2026, 1, d) for d in range(7, 10)]
DRIFT = [DriftWindow(start=LIVE_DAYS[0], covariate={"monthly_charges": NumericShift(mean_shift=1.0)})]
ROWS_PER_DAY = 1000
FIELDS = ["customer_id", "tenure_months", "contract", "monthly_charges", "support_calls", "late_payments",
          "payment_method", "region"]


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 1, 10, 0, 30, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


def _loop_spec(**evaluation):
    spec = small_churn()
    monitoring = spec.monitoring.model_copy(update={"window_rows": ROWS_PER_DAY, "persistence": (2, 3),
                                                    "cooldown_hours": 6, "max_retrains_per_day": 2})
    # The project's days end with the live days: the retrain window is theirs (newest day = LIVE_DAYS[-1]).
    return spec.model_copy(update={"monitoring": monitoring, "end_date": LIVE_DAYS[-1],
                                   "evaluation": spec.evaluation.model_copy(update=evaluation)})


def _ingest(spec, instance, resources, days, drift):
    drift_yaml = yaml.safe_dump([w.model_dump(mode="json") for w in drift])
    for day in days:
        result = materialize(build_data_assets(spec, None), partition_key=day.isoformat(), instance=instance,
                             resources=resources,
                             run_config=RunConfig(ops={"churn__raw_data": RawDataConfig(rows=600, drift=drift_yaml)}))
        assert result.success


def _send_traffic(spec, url: str, days, drift) -> int:
    """Each live day's customers scored through the endpoint, 100 records a request; returns rows sent."""
    sent = 0
    for day in days:
        rows = generate_batch(spec.source, day, rows=ROWS_PER_DAY, seed=99, drift=drift,
                              bounds=spec.schema.bounds())[FIELDS]
        records = json.loads(rows.to_json(orient="records"))
        for i in range(0, len(records), 100):
            r = requests.post(f"{url}/predict", json={"records": records[i:i + 100]},
                              headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
            assert r.status_code == 200, r.text
            sent += len(records[i:i + 100])
    return sent


def _wait_logged(data_dir, expected: int, timeout_s: float = 30.0) -> None:
    import pandas as pd

    deadline = time.monotonic() + timeout_s
    logged = 0
    while time.monotonic() < deadline:
        files = list((project_log_dir(data_dir, "churn") / "predictions").rglob("*.parquet"))
        logged = sum(len(pd.read_parquet(f, columns=["request_id"])) for f in files)
        if logged >= expected:
            return
        time.sleep(0.5)
    raise AssertionError(f"prediction log holds {logged} rows after {timeout_s}s, expected {expected}")


def _tick_until_quiet(sensor, instance, resources, cursor=None, max_ticks=6):
    """Evaluate the sensor tick after tick (cursor carried over) until it skips for lack of new data."""
    requests_seen = []
    for _ in range(max_ticks):
        context = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        result = sensor(context)
        cursor = context.cursor
        if isinstance(result, RunRequest):
            requests_seen.append(result)
        elif isinstance(result, SkipReason) and "no new prediction-log files" in result.skip_message:
            break
    return requests_seen, cursor


def _live_version(url: str) -> str:
    return str(requests.get(f"{url}/version", timeout=10).json()["model_version"])


@pytest.fixture
def loop(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    data_dir = tmp_path / "data"
    tracking_uri = local_tracking_uri(str(tmp_path / "ml"))
    with instance_for_test() as instance:
        resources = {**default_resources(str(data_dir), tracking_uri=tracking_uri),
                     "deployer": make_deployer(data_dir, tracking_uri)}
        yield instance, data_dir, resources


def _bootstrap(spec, instance, data_dir, resources):
    """Six clean days, a first champion, deployed: what a project looks like before the data moves."""
    _ingest(spec, instance, resources, BASE_DAYS, [])
    defs = build_definitions([spec], resources)
    first = defs.resolve_job_def("churn__train").execute_in_process(instance=instance)
    assert first.success
    url = resources["deployer"].endpoint_url(spec)
    assert _live_version(url) == "1"
    return defs, url
