"""`mlops-assets lineage REQUEST_ID` on a real deployment: every link of the chain checked against the real store
(MLflow registry and runs, the Dagster instance, the stored Parquet files, the generator re-run from its seed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import requests
from dagster import DagsterRunStatus
from mlflow import MlflowClient

from mlops_assets.data.fingerprint import frame_fingerprint, row_hashes
from mlops_assets.data.generators.registry import generate_batch
from mlops_assets.resources.storage import asset_path
from mlops_assets.serving.contract import Contract
from mlops_assets.serving.predlog import request_day
from mlops_assets_tests.serving.helpers import churn_raw, records

from .helpers import DAYS, TOKEN, stopping

pytestmark = pytest.mark.timeout(900)
CLI = Path(sys.executable).with_name("mlops-assets")


def lineage_cli(world, data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": world.instance.root_directory, "MLOPS_DATA_DIR": str(data_dir),
           "MLFLOW_TRACKING_URI": world.deployer.tracking_uri}
    return subprocess.run([str(CLI), "lineage", *args], capture_output=True, text=True, env=env, timeout=300)


def test_lineage_of_a_served_prediction_names_every_link_and_each_matches_the_store(world):
    own, serving_dir = world, world.data_dir  # this module's world: its log holds only this test's traffic
    headers = {"authorization": f"Bearer {TOKEN}"}
    sent = records(churn_raw(3, seed=321))
    with stopping(own.deployer, own.spec):
        assert own.deploy().success
        r = requests.post(own.url("/predict"), json={"records": sent}, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        request_id, version = body["request_id"], body["model_version"]
        assert r.headers["x-request-id"] == request_id and r.headers["x-model-version"] == version
        other = own.predict(records(churn_raw(2, seed=322)))["request_id"]  # a neighbour that must not leak in
        fb = requests.post(own.url("/feedback"), json={"request_id": request_id, "row": 1, "label": 1},
                           headers=headers, timeout=30)
        assert fb.status_code == 202, fb.text
        own.deployer.stop(own.spec)  # flushes the log into day Parquet files
    assert request_day(request_id) is not None and other != request_id

    # The data the MLflow store, the instance and the Parquet files hold, read independently of the lineage code.
    client = MlflowClient(world.deployer.tracking_uri)
    mv = client.get_model_version("churn", version)
    mlflow_run = client.get_run(mv.run_id)
    training_set = pd.read_parquet(asset_path(world.data_dir, ["churn", "training_set"], None))

    done = lineage_cli(world, serving_dir, request_id, "--json")
    assert done.returncode == 0, done.stderr
    chain = json.loads(done.stdout)

    # request -> the answer the client got, the label it sent
    rows = chain["request"]["rows"]
    assert [x["row"] for x in rows] == [0, 1, 2] and {x["role"] for x in rows} == {"live"}
    assert [x["score"] for x in rows] == pytest.approx([p["probability"] for p in body["predictions"]])
    assert [x["label"] for x in rows] == [None, 1.0, None]
    contract = Contract(own.spec)
    for x, record in zip(rows, sent):
        for field in ("tenure_months", "contract", "monthly_charges", "region"):
            assert x["inputs"][field] == record[field]
        checked = contract.validate(pd.DataFrame([x["inputs"]]))  # the features recomputed from the logged inputs
        assert x["feature_hash"] == row_hashes(contract.features(checked.raw))[0]
        assert x["data_version"] == mv.tags["training_set_version"]
    # -> model and its alias then and now
    assert chain["model"]["version"] == version and chain["model"]["alias_at_time"] == "champion"
    assert "champion" in chain["model"]["aliases_now"]
    # -> MLflow run
    run = chain["mlflow_run"]
    assert run["run_id"] == mv.run_id and run["params"] == mlflow_run.data.params
    assert run["metrics"] == pytest.approx(mlflow_run.data.metrics)
    assert run["link"].endswith(f"/experiments/{mlflow_run.info.experiment_id}/runs/{mv.run_id}")
    # -> training set: its data version is the fingerprint of the stored set, the window its event times'
    ts = chain["training_set"]
    assert ts["data_version"] == frame_fingerprint(training_set) == mv.tags["training_set_version"]
    assert (ts["window_start"], ts["window_end"]) == (DAYS[0], DAYS[-1])
    assert ts["train_rows"] == int((training_set["split"] == "train").sum())
    # -> each feature partition -> its raw partition, hashes recomputed from the files (and the generator)
    assert [f["partition"] for f in chain["features"]] == DAYS
    runs = set()
    for f in chain["features"]:
        day = f["partition"]
        feats = pd.read_parquet(asset_path(world.data_dir, ["churn", "features"], day))
        assert f["content_hash"] == frame_fingerprint(feats) == f["seen_by_training_set"]
        raw = f["raw"]
        stored = pd.read_parquet(raw["path"])
        assert Path(raw["path"]) == asset_path(world.data_dir, ["churn", "raw_data"], day)
        assert raw["content_hash"] == frame_fingerprint(stored) == raw["data_version"]
        regenerated = generate_batch(own.spec.source, pd.Timestamp(day).date(), rows=600, seed=raw["seed"],
                                     bounds=own.spec.schema.bounds())
        assert frame_fingerprint(regenerated) == raw["content_hash"]
        assert raw["source"] == "generator:churn"
        runs |= {f["run"]["run_id"], raw["run"]["run_id"]}
    runs.add(ts["run"]["run_id"])
    assert run["dagster_run_id"] == ts["run"]["run_id"]  # trained in the run that built the set
    for run_id in runs:
        assert world.instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS

    # The text form names every link.
    text = lineage_cli(world, serving_dir, request_id)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    for needle in [request_id, f"model churn v{version}", "alias then: champion", mv.run_id, ts["data_version"],
                   "label 1.0", *DAYS, *(f["raw"]["content_hash"] for f in chain["features"]),
                   "seed", ts["run"]["run_id"]]:
        assert needle in out, needle

    missing = lineage_cli(world, serving_dir, "0" * 32)
    assert missing.returncode == 1 and "is in no prediction log" in missing.stderr
