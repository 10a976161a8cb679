"""Drift and performance sensors on a real instance, fed by the real prediction log, with simulated hourly ticks."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from dagster import RunRequest, SensorResult, SkipReason, build_sensor_context

from mlops_assets.definitions import local_tracking_uri
from mlops_assets.monitoring.alerts import AlertSink
from mlops_assets.monitoring.sensors import build_drift_sensor, build_performance_sensor
from mlops_assets.resources.storage import DataDirectory, JsonIOManager, ParquetIOManager
from mlops_assets.resources.tracking import MlflowTracking

from .helpers import (
    BASE_DAYS, CONCEPT, COVARIATE, LIVE_DAY, LogWriter, land_features, monitored_spec, raw_rows, retrain_targets,
    write_champion, write_reference,
)

START = dt.datetime(2026, 2, 1, 0, 30, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self, start: dt.datetime = START):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, hours: float = 1.0) -> None:
        self.now += dt.timedelta(hours=hours)


class Ticker:
    """Evaluates a sensor the way the daemon does: the cursor of one tick is the input of the next."""

    def __init__(self, sensor, instance, data_dir):
        self.sensor, self.instance, self.cursor = sensor, instance, None
        self.resources = {"storage": DataDirectory(data_dir=str(data_dir)), "alerts": AlertSink(),
                          "tracking": MlflowTracking(tracking_uri=local_tracking_uri(str(data_dir / "ml"))),
                          "io_manager": ParquetIOManager(data_dir=str(data_dir)),
                          "json_io_manager": JsonIOManager(data_dir=str(data_dir))}

    def tick(self, cursor: str | None = ...):
        context = build_sensor_context(instance=self.instance, cursor=self.cursor if cursor is ... else cursor,
                                       resources=self.resources)
        result = self.sensor(context)
        self.cursor = context.cursor
        return result


def ended_spec(**monitoring):
    """The monitored churn spec, its days ending the day before LIVE_DAY: the training window is fixed."""
    return monitored_spec(**monitoring).model_copy(update={"end_date": LIVE_DAY - dt.timedelta(days=1)})


def window_days(spec):
    n = spec.training.window_days + spec.training.holdout_days
    return [spec.end_date - dt.timedelta(days=i) for i in range(n)][::-1]


def world(instance, data_dir, fitted, **monitoring):
    """A champion's reference and record, the whole training window ingested (no registered champion: any
    window's data is new to it), and both sensors."""
    spec = ended_spec(**monitoring)
    clock = Clock()
    write_reference(instance, data_dir, spec, fitted)
    write_champion(instance, data_dir, spec, fitted[2])
    land_features(instance, data_dir, spec, window_days(spec), rows=100)
    drift = Ticker(build_drift_sensor(spec, retrain_targets(spec), clock=clock), instance, data_dir)
    perf = Ticker(build_performance_sensor(spec, retrain_targets(spec), clock=clock), instance, data_dir)
    return spec, clock, drift, perf, LogWriter(data_dir, spec, fitted[0])


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.timezone.utc)


def test_without_a_reference_profile_the_sensor_says_what_to_do(instance, data_dir):
    spec = monitored_spec()
    sensor = build_drift_sensor(spec, retrain_targets(spec))
    result = Ticker(sensor, instance, data_dir).tick()
    assert isinstance(result, SkipReason) and "no reference profile: promote a champion first" in result.skip_message
    perf = Ticker(build_performance_sensor(spec, retrain_targets(spec)), instance, data_dir).tick()
    assert "no champion" in perf.skip_message


def test_nothing_new_then_too_few_rows_then_a_window(instance, data_dir, fitted):
    spec, clock, drift, _, log = world(instance, data_dir, fitted)
    assert "no new prediction-log files" in drift.tick().skip_message
    log.predictions(raw_rows(spec, LIVE_DAY, 600), at(LIVE_DAY, 1))
    log.predictions(raw_rows(spec, LIVE_DAY, 500, seed=7), at(LIVE_DAY, 1), role="shadow")  # not counted
    first = drift.tick()
    assert "600 new live predictions, need 1000" in first.skip_message
    assert "600 new live predictions" in drift.tick().skip_message  # rows wait for a full window, not lost
    log.predictions(raw_rows(spec, LIVE_DAY, 500, seed=8), at(LIVE_DAY, 2))
    full = drift.tick()
    assert isinstance(full, SkipReason) and "1 window(s)" in full.skip_message and "no confirmed drift" in full.skip_message
    assert "no new prediction-log files" in drift.tick().skip_message  # consumed: never read again


def test_no_drift_over_many_windows_requests_nothing(instance, data_dir, fitted):
    spec, clock, drift, _, log = world(instance, data_dir, fitted)
    drifted_windows = 0
    for i in range(10):
        day = LIVE_DAY + dt.timedelta(days=i)
        log.predictions(raw_rows(spec, day, 1000), at(day))
        result = drift.tick()
        clock.advance()
        assert isinstance(result, SkipReason), result
        drifted_windows += "1 drifted" in result.skip_message
    assert drifted_windows <= 1


def test_covariate_drift_requests_one_retrain_with_evidence_then_cools_down(instance, data_dir, fitted):
    spec, clock, drift, _, log = world(instance, data_dir, fitted)
    day = LIVE_DAY
    log.predictions(raw_rows(spec, day, 1000, COVARIATE), at(day, 1))
    first = drift.tick()
    assert isinstance(first, SkipReason) and "1 drifted" in first.skip_message  # one window is not yet persistence
    clock.advance()
    log.predictions(raw_rows(spec, day, 1000, COVARIATE, seed=3), at(day, 2))
    before = drift.cursor
    request = drift.tick()
    assert isinstance(request, RunRequest)
    assert request.run_key == drift.tick(cursor=before).run_key  # same tick re-evaluated: same key, no duplicate
    assert request.tags["mlops/trigger"] == "drift" and request.tags["mlops/retrain"] == "churn"
    assert "monthly_charges" in request.tags["mlops/drifted_features"].split(",")
    evidence = json.loads(request.tags["mlops/evidence"])
    assert any(e["feature"] == "monthly_charges" and e["effect_size"] > 0.5 for e in evidence)
    for hour in range(3):
        clock.advance()
        log.predictions(raw_rows(spec, day, 1000, COVARIATE, seed=10 + hour), at(day, 3 + hour))
        blocked = drift.tick()
        assert isinstance(blocked, SkipReason) and "in cooldown until" in blocked.skip_message


def test_48_hourly_ticks_of_strong_drift_stay_within_the_daily_cap(instance, data_dir, fitted):
    spec, clock, drift, _, log = world(instance, data_dir, fitted, window_rows=500, cooldown_hours=2,
                                       max_retrains_per_day=3)
    requested = []
    for hour in range(48):
        now = clock()
        log.predictions(raw_rows(spec, now.date(), 500, COVARIATE, seed=100 + hour), now)
        result = drift.tick()
        if isinstance(result, RunRequest):
            requested.append(now)
        clock.advance()
    keys = Counter(r.date() for r in requested)
    assert len(requested) >= 2
    assert all(n <= 3 for n in keys.values())
    for t in requested:  # rolling 24 hours, not just calendar days
        assert sum(t - dt.timedelta(hours=24) < u <= t for u in requested) <= 3
    assert all(b - a >= dt.timedelta(hours=2) for a, b in zip(requested, requested[1:]))


def test_concept_drift_fires_the_performance_sensor_not_the_drift_sensor(instance, data_dir, fitted):
    spec, clock, drift, perf, log = world(instance, data_dir, fitted)
    assert "no new feedback files" in perf.tick().skip_message
    requests = []
    for i in range(3):
        day = LIVE_DAY + dt.timedelta(days=i)
        raw = raw_rows(spec, day, 1000, CONCEPT)
        ids = log.predictions(raw, at(day))
        log.feedback(ids, raw[spec.target.column].to_numpy(), at(day, 18))
        assert not isinstance(drift.tick(), RunRequest)
        result = perf.tick()
        clock.advance()
        if isinstance(result, RunRequest):
            requests.append(result)
    assert len(requests) == 1
    tags = requests[0].tags
    assert tags["mlops/trigger"] == "performance" and tags["mlops/metric"] == "roc_auc"
    assert float(tags["mlops/value"]) < float(tags["mlops/baseline"]) * 0.95


def test_performance_without_concept_drift_stays_quiet(instance, data_dir, fitted):
    spec, clock, _, perf, log = world(instance, data_dir, fitted)
    for i in range(3):
        day = LIVE_DAY + dt.timedelta(days=i)
        raw = raw_rows(spec, day, 1000)
        log.feedback(log.predictions(raw, at(day)), raw[spec.target.column].to_numpy(), at(day, 18))
        result = perf.tick()
        assert isinstance(result, SkipReason) and "no confirmed decay" in result.skip_message


def test_a_new_reference_resets_persistence(instance, data_dir, fitted):
    spec, clock, drift, _, log = world(instance, data_dir, fitted)
    log.predictions(raw_rows(spec, LIVE_DAY, 1000, COVARIATE), at(LIVE_DAY, 1))
    assert "1 drifted" in drift.tick().skip_message
    write_reference(instance, data_dir, spec, fitted, version="2")  # a retrain promoted a new champion
    log.predictions(raw_rows(spec, LIVE_DAY, 1000, COVARIATE, seed=5), at(LIVE_DAY, 2))
    result = drift.tick()
    assert isinstance(result, SkipReason) and "[True]" in result.skip_message  # history restarted
