"""prediction_log / feedback: a day's part files from a real server compacted into one frame; empty days are empty."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
import requests
from dagster import DailyPartitionsDefinition, materialize

from mlops_assets.deployment.assets import build_feedback, build_prediction_log
from mlops_assets.deployment.logs import FEEDBACK, PREDICTIONS, empty_log
from mlops_assets_tests.serving.helpers import churn_raw, records

from .helpers import ENDPOINT, TOKEN, make_deployer, stopping, today

pytestmark = pytest.mark.timeout(600)


def compacted(world, day: str) -> tuple[pd.DataFrame, dict, pd.DataFrame, dict]:
    spec = world.spec
    # The project's days end yesterday (a day is a partition once it has ended); today's traffic needs today.
    days = DailyPartitionsDefinition(start_date=spec.start_date.isoformat(), end_offset=1)
    result = materialize([build_prediction_log(spec, days), build_feedback(spec, days)], partition_key=day,
                         instance=world.instance, resources=world.resources)
    meta = {n: {k: v.value for k, v in result.asset_materializations_for_node(n)[0].metadata.items()}
            for n in ("churn__prediction_log", "churn__feedback")}
    return (result.output_for_node("churn__prediction_log"), meta["churn__prediction_log"],
            result.output_for_node("churn__feedback"), meta["churn__feedback"])


def test_prediction_log_holds_exactly_the_scored_rows(world, tmp_path):
    # A server of its own (own data dir): its log holds only this test's traffic.
    own = world.with_deployer(make_deployer(tmp_path / "serving_data", world.deployer.tracking_uri))
    headers = {"authorization": f"Bearer {TOKEN}"}
    with stopping(own.deployer, own.spec):
        assert own.deploy().success
        sent = {}
        for i, n in enumerate((5, 7, 1)):
            body = own.predict(records(churn_raw(n, seed=100 + i)))
            sent[body["request_id"]] = [p["probability"] for p in body["predictions"]]
        first = next(iter(sent))
        r = requests.post(own.url("/feedback"), json={"request_id": first, "row": 2, "label": 1}, headers=headers,
                          timeout=30)
        assert r.status_code == 202, r.text
        live = own.version()["model_version"]
        own.deployer.stop(own.spec)  # graceful: the server flushes its log on shutdown

    frame, meta, feedback, feedback_meta = compacted(own, today())
    assert len(frame) == 13 and meta["row_count"] == 13 and meta["requests"] == 3
    assert meta["versions_seen"] == [live] and meta["roles"] == {"live": 13}
    assert set(frame["request_id"]) == set(sent)
    for request_id, scores in sent.items():
        logged = frame[frame["request_id"] == request_id].sort_values("row")
        assert logged["row"].tolist() == list(range(len(scores)))
        assert logged["score"].tolist() == pytest.approx(scores)
    assert list(frame.columns) == list(empty_log(own.spec, PREDICTIONS).columns)
    assert feedback[["request_id", "row", "label"]].values.tolist() == [[first, 2, 1.0]]
    assert feedback_meta["row_count"] == 1


def test_log_assets_use_the_project_days_by_default(world):
    from mlops_assets.partitions import monitoring_partitions

    for build in (build_prediction_log, build_feedback):
        assets_def = build(world.spec)
        assert assets_def.partitions_def == monitoring_partitions(world.spec)  # up to today
        assert assets_def.group_names_by_key[assets_def.key] == world.spec.name
        assert assets_def.specs_by_key[assets_def.key].tags["stage"] == "monitoring"
        assert {d.asset_key for d in assets_def.specs_by_key[assets_def.key].deps} == {ENDPOINT}


def test_day_without_traffic_is_an_empty_frame_with_the_log_columns(world, tmp_path):
    own = world.with_deployer(make_deployer(tmp_path / "quiet", world.deployer.tracking_uri))
    yesterday = (date.fromisoformat(today()) - timedelta(days=1)).isoformat()
    frame, meta, feedback, feedback_meta = compacted(own, yesterday)
    assert frame.empty and meta["row_count"] == 0 and meta["part_files"] == 0 and "no predictions" in meta["note"]
    assert meta["versions_seen"] == [] and meta["roles"] == {}
    pd.testing.assert_frame_equal(frame, empty_log(own.spec, PREDICTIONS))
    assert feedback.empty and list(feedback.columns) == list(empty_log(own.spec, FEEDBACK).columns)
