"""The end-to-end demo behind `make demo`: every project, on embedded defaults, recorded in the instance."""

from __future__ import annotations

import json
import os
import time
import urllib.request
import warnings
from pathlib import Path

import pandas as pd
from dagster import BetaWarning, DagsterInstance

from mlops_assets.definitions import build_definitions, default_resources, projects_dir
from mlops_assets.partitions import daily_partitions
from mlops_assets.spec import LandingSource, load_specs

#: The demo prints one line per partition; the full event log is in the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_demo(data_dir: Path, days: int) -> int:
    """Ingest `days` daily partitions of every project (raw -> validated -> features); print where things are."""
    from mlops_assets.cli import write_sample_landing

    # The demo prints one line per step; Dagster's beta notices and MLflow's schema hints are noise here.
    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")

    specs = load_specs(projects_dir())
    instance = DagsterInstance.get()
    defs = build_definitions(specs, default_resources(str(data_dir)))
    for spec in specs:
        keys = daily_partitions(spec).get_partition_keys()[:days]
        if isinstance(spec.source, LandingSource):
            paths = write_sample_landing(projects_dir() / f"{spec.name}.yaml", data_dir, spec.start_date, days)
            print(f"[{spec.name}] sample landing files: {paths[0].parent}")
        job = defs.resolve_job_def(f"{spec.name}__ingest")
        started = time.perf_counter()
        for key in keys:
            result = job.execute_in_process(
                partition_key=key, instance=instance, raise_on_error=False, run_config=QUIET
            )
            status = "ok" if result.success else "FAILED"
            print(f"[{spec.name}] {key}: {status}")
            if not result.success:
                print(f"[{spec.name}] run {result.run_id} failed; open it in the UI (make dev) for the failing step")
                return 1
        print(f"[{spec.name}] {len(keys)} partitions in {time.perf_counter() - started:.1f}s")
        if not _train(defs, spec, instance, data_dir):
            return 1
    print()
    print(f"Outputs (Parquet, one file per asset partition): {data_dir / 'assets'}")
    print(f"DuckDB warehouse (views over the features):      {data_dir / 'warehouse.duckdb'}")
    print(f"Dagster instance (SQLite):                        {instance.root_directory}")
    print(f"MLflow tracking store:                            {defs.resources['tracking'].tracking_uri}")
    print("Open the UI: make dev        ->  http://127.0.0.1:3000  (webserver + daemon)")
    print("MLflow UI:   make mlflow-ui  ->  http://127.0.0.1:5000")
    print("Model servers keep running: make stop  stops them")
    return 0


def _train(defs, spec, instance, data_dir: Path) -> bool:
    """Run the project's train job; print the champion's version and metrics."""
    started = time.perf_counter()
    result = defs.resolve_job_def(f"{spec.name}__train").execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET
    )
    failed_checks = [c.check_name for c in result.get_asset_check_evaluations() if not c.passed]
    if not result.success:
        print(f"[{spec.name}] training run {result.run_id} failed (failed checks: {failed_checks or 'none'}); see the UI")
        return False
    champion = json.loads((data_dir / "assets" / spec.name / "champion.json").read_text())
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in champion["metrics"].items())
    print(f"[{spec.name}] champion: {champion['model_uri']} (previous: {champion['previous_version'] or 'none'}) "
          f"in {time.perf_counter() - started:.1f}s")
    print(f"[{spec.name}] holdout metrics: {metrics}")
    _sample_prediction(spec, data_dir)
    return True


def _sample_prediction(spec, data_dir: Path) -> None:
    """POST three of the last day's raw rows to the live endpoint and print what it answers."""
    endpoint = json.loads((data_dir / "assets" / spec.name / "endpoint.json").read_text())
    day = max((data_dir / "assets" / spec.name / "validated_data").glob("*.parquet"))
    rows = pd.read_parquet(day).head(3).drop(columns=[spec.target.column])
    body = json.dumps({"records": json.loads(rows.to_json(orient="records", date_format="iso"))}).encode()
    request = urllib.request.Request(f"{endpoint['url']}/predict", data=body, headers={"Content-Type": "application/json"})
    token = os.environ.get("MLOPS_SERVING_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    print(f"[{spec.name}] endpoint {endpoint['url']} serves v{endpoint['live_version']}; POST /predict ->")
    for record in answer["predictions"]:
        print(f"    {json.dumps(record)}")
