"""No empty retrains: confirmed drift with no data new to the champion requests nothing; new data lands, it does.

A landing-fed project on a real instance, a real MLflow store and real ingestion; the drift sensor is ticked with
build_sensor_context and the runs it requests are executed as the daemon would.
"""

from __future__ import annotations

import datetime as dt
import json

import mlflow
from dagster import RunRequest, SensorResult, SkipReason, build_sensor_context, materialize

from mlops_assets.data.generators.registry import generate_batch
from mlops_assets.data.sources import write_landing_file
from mlops_assets.definitions import build_definitions, default_resources, local_tracking_uri
from mlops_assets.monitoring.alerts import AlertSink
from mlops_assets.monitoring.assets import build_reference_profile
from mlops_assets.monitoring.retrain import newest_available_day
from mlops_assets.monitoring.sensors import build_drift_sensor
from mlops_assets.project_assets import build_data_assets, build_model_assets
from mlops_assets.resources.tracking import CHAMPION
from mlops_assets.spec import GeneratorSource

from ..helpers import churn_landing_spec
from .helpers import COVARIATE, LIVE_DAY, LogWriter, retrain_targets

DAYS = [dt.date(2026, 1, d) for d in range(1, 7)]  # 4 train + 2 holdout days
GENERATOR = GeneratorSource(kind="generator", generator="churn", seed=5, rows_per_day=600)


def _spec(landing):
    spec = churn_landing_spec(landing)
    return spec.model_copy(update={
        "training": spec.training.model_copy(update={"window_days": 4, "holdout_days": 2, "segment_columns": []}),
        "evaluation": spec.evaluation.model_copy(update={"tolerance": 1.0, "max_slice_gap": None}),
        "monitoring": spec.monitoring.model_copy(update={"window_rows": 1000, "cooldown_hours": 0}),
    })


def _land(spec, landing, day):
    write_landing_file(spec.source, landing, day, generate_batch(GENERATOR, day))


def test_no_new_data_skips_with_a_reason_and_one_alert_then_new_data_retrains(tmp_path, instance, webhook):
    url, received = webhook
    landing, data_dir = tmp_path / "landing", tmp_path / "data"
    spec = _spec(landing)
    resources = default_resources(str(data_dir), tracking_uri=local_tracking_uri(str(tmp_path / "ml")))
    resources["alerts"] = AlertSink(webhook_url=url)
    for day in DAYS:
        _land(spec, landing, day)
        assert materialize(build_data_assets(spec, None), partition_key=day.isoformat(), instance=instance,
                           resources=resources).success
    chain = build_model_assets(spec) + [build_reference_profile(spec)]
    assert materialize(chain, instance=instance, resources=resources).success  # champion v1 and its reference
    tracking = resources["tracking"]
    assert tracking.alias_version(spec.name, CHAMPION) == "1"
    champion_set = tracking.client().get_model_version(spec.name, "1").tags["training_set_version"]
    assert newest_available_day(spec, data_dir, dt.date.today()) == DAYS[-1]

    tracking.activate()
    model = mlflow.sklearn.load_model(f"models:/{spec.name}/1")
    log = LogWriter(data_dir, spec, model)
    log.predictions(generate_batch(GENERATOR, LIVE_DAY, rows=2000, drift=COVARIATE,
                                   bounds=spec.schema.bounds()), dt.datetime.now(dt.timezone.utc))
    sensor = build_drift_sensor(spec, retrain_targets(spec))
    cursor = None

    def tick():
        nonlocal cursor
        context = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        result = sensor(context)
        cursor = context.cursor
        return result

    skipped = tick()  # drift confirmed (two drifted windows), but the window holds only what v1 saw
    assert isinstance(skipped, SkipReason), skipped
    message = skipped.skip_message
    assert "drift confirmed in monthly_charges" in message and "no new labelled data since champion v1" in message
    assert f"{DAYS[0]}..{DAYS[-1]}" in message and champion_set in message
    assert [a["kind"] for a in received] == ["retrain_skipped"] and "no new labelled data" in received[0]["text"]
    state = json.loads(cursor)
    assert state["requests"] == [] and state["pending"] is not None  # cooldown and cap untouched; still waiting
    assert isinstance(tick(), SkipReason) and len(received) == 1  # the same wait is not alerted again
    assert instance.get_runs_count() == len(DAYS) + 1  # nothing was launched

    new_day = DAYS[-1] + dt.timedelta(days=1)
    _land(spec, landing, new_day)  # a new day lands: the sensor has it ingested first
    prepare = tick()
    assert isinstance(prepare, SensorResult)
    [ingest] = prepare.run_requests
    assert ingest.job_name == f"{spec.name}__ingest" and ingest.partition_key == new_day.isoformat()
    defs = build_definitions([spec], resources)
    assert defs.resolve_job_def(ingest.job_name).execute_in_process(
        instance=instance, partition_key=ingest.partition_key, tags=ingest.tags).success

    retrain = tick()
    assert isinstance(retrain, RunRequest), retrain
    assert retrain.job_name == f"{spec.name}__train"
    assert retrain.run_config["ops"][f"{spec.name}__training_set"]["config"]["as_of"] == new_day.isoformat()
    assert retrain.tags["mlops/trigger"] == "drift" and retrain.tags["mlops/retrain"] == spec.name
    assert retrain.tags["mlops/training_set_version"] != champion_set
    assert retrain.tags["mlops/training_window"] == f"{DAYS[1]}..{new_day}"
    assert [a["kind"] for a in received] == ["retrain_skipped", "drift"]
    assert len(json.loads(cursor)["requests"]) == 1
