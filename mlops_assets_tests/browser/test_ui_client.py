"""The GraphQL client (`mlops_assets.ui_client.UiClient`) against the suite's `dagster dev`."""

from __future__ import annotations

from .conftest import days_ago


def test_client_materializes_and_polls_to_success(dagster_dev):
    client, day = dagster_dev.client, days_ago(45)
    run_id = client.materialize(["churn/raw_data", "churn/validated_data"], partition=day)
    assert client.wait_for_run(run_id) == "SUCCESS"
    assert client.run_errors(run_id) == []
    (newest, *_) = client.check_results("churn/raw_data", "value_ranges", limit=1)
    assert newest["runId"] == run_id
    assert newest["status"] == "SUCCEEDED"
    assert newest["evaluation"]["partition"] == day
    (materialized, *_) = client.materializations("churn/validated_data", limit=1)
    assert (materialized["runId"], materialized["partition"]) == (run_id, day)
    assert client.materializations("churn/no_such_asset") == []
