"""The closed loop end to end: live endpoint -> prediction log -> drift sensor -> retrain -> gate -> promote -> deploy.

Real Dagster instance, real MLflow sqlite store, a real model server process on 127.0.0.1; the drift sensor is
evaluated with build_sensor_context and its RunRequests are executed as the daemon would (the sensor's job).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from dagster import RunRequest, build_sensor_context

from mlops_assets.definitions import build_definitions
from mlops_assets.monitoring.sensors import build_drift_sensor
from mlops_assets.resources.tracking import CHAMPION
from .closed_loop import (BASE_DAYS, DRIFT, LIVE_DAYS, Clock, _bootstrap, _ingest, _live_version, _loop_spec,  # noqa: F401
                          _send_traffic, _tick_until_quiet, _wait_logged, loop)  # (loop: the fixture)
from .deployment.helpers import stopping
from .monitoring.helpers import retrain_targets


@pytest.mark.parametrize("drift", [True, False], ids=["covariate_drift", "no_drift"])
def test_drift_retrains_promotes_and_redeploys_once_and_only_with_drift(loop, drift):
    instance, data_dir, resources = loop
    spec = _loop_spec()
    windows = DRIFT if drift else []
    with stopping(resources["deployer"], spec):
        defs, url = _bootstrap(spec, instance, data_dir, resources)
        sent = _send_traffic(spec, url, LIVE_DAYS, windows)
        _ingest(spec, instance, resources, LIVE_DAYS, windows)  # the same days land in the warehouse too
        _wait_logged(data_dir, sent)

        sensor = build_drift_sensor(spec, retrain_targets(spec), clock=Clock())
        fired, cursor = _tick_until_quiet(sensor, instance, resources)
        if not drift:
            assert fired == []
            assert _live_version(url) == "1"
            return
        assert len(fired) == 1
        request = fired[0]
        assert "monthly_charges" in request.tags["mlops/drifted_features"]
        assert "effect_size" in request.tags["mlops/evidence"]
        again, _ = _tick_until_quiet(sensor, instance, resources, cursor=cursor)
        assert again == []  # no duplicate request for data already judged

        assert request.job_name == "churn__train"
        retrain = defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, run_config=request.run_config, tags={**request.tags, "dagster/run_key": request.run_key})
        assert retrain.success
        assert resources["tracking"].alias_version("churn", CHAMPION) == "2"
        assert _live_version(url) == "2"
        profile = json.loads((data_dir / "assets" / "churn" / "reference_profile.json").read_text())
        assert str(profile["model_version"]) == "2"  # the reference follows the new champion


def test_continuous_drift_is_capped_and_never_promotes_a_gated_model(loop):
    """48 hourly ticks of strong drift: retrains stay within the cap, and a challenger that fails its gate
    (an unreachable threshold) is never promoted or deployed."""
    instance, data_dir, resources = loop
    spec = _loop_spec(thresholds={"roc_auc": 0.999})
    with stopping(resources["deployer"], spec):
        _ingest(spec, instance, resources, BASE_DAYS, [])
        _ingest(spec, instance, resources, LIVE_DAYS, DRIFT)  # the drifted days are in: the retrain has new data
        promoted = _loop_spec()  # v1 is promoted under reachable thresholds
        as_of = {"ops": {"churn__training_set": {"config": {"as_of": BASE_DAYS[-1].isoformat()}}}}
        assert build_definitions([promoted], resources).resolve_job_def("churn__train").execute_in_process(
            instance=instance, run_config=as_of).success  # v1 has not seen the drifted days
        url = resources["deployer"].endpoint_url(spec)
        defs = build_definitions([spec], resources)
        clock = Clock()
        sensor = build_drift_sensor(spec, retrain_targets(spec), clock=clock)
        cursor, fired, day = None, [], LIVE_DAYS[0]
        for hour in range(48):
            if hour % 3 == 0:  # a window's worth of drifted traffic every 3 hours
                sent = _send_traffic(spec, url, [day], DRIFT)
                _wait_logged(data_dir, sent * (hour // 3 + 1))
                day += dt.timedelta(days=1)
            context = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
            result = sensor(context)
            cursor = context.cursor
            if isinstance(result, RunRequest):
                fired.append((clock.now, result))
                run = defs.resolve_job_def(result.job_name).execute_in_process(
                    instance=instance, run_config=result.run_config, tags=result.tags, raise_on_error=False)
                assert not run.success  # the gate blocked promotion
                failed = {c.check_name for c in run.get_asset_check_evaluations() if not c.passed}
                assert "meets_thresholds" in failed
                assert not run.asset_materializations_for_node("churn__champion")
            clock.now += dt.timedelta(hours=1)
        assert 1 <= len(fired) <= 2 * spec.monitoring.max_retrains_per_day
        for when, _ in fired:
            in_24h = [t for t, _ in fired if when - dt.timedelta(hours=24) < t <= when]
            assert len(in_24h) <= spec.monitoring.max_retrains_per_day
        assert resources["tracking"].alias_version("churn", CHAMPION) == "1"
        assert _live_version(url) == "1"
