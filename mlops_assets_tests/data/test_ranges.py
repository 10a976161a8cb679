"""A range of days as one run (single-run backfill policies): dbt once per range, each day judged on its own."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from mlops_assets.data.generators.registry import generate_batch
from mlops_assets.definitions import build_definitions
from mlops_assets.ingestion import RANGE_END_TAG, RANGE_START_TAG, ingest_range, range_tags
from mlops_assets.project_assets import build_data_assets
from mlops_assets.resources.storage import asset_path
from mlops_assets.spec import GeneratorSource, parse_spec

from ..helpers import REPO, churn_landing_spec, spec_dict

DAYS = ["2026-01-05", "2026-01-06", "2026-01-07"]
CHURN = GeneratorSource(kind="generator", generator="churn", seed=42, rows_per_day=300)


def _churn_landing_dbt(directory: Path):
    """The shipped churn project (dbt features) fed from a landing directory, to inject one bad day."""
    data = copy.deepcopy(spec_dict("churn"))
    data["source"] = {"kind": "landing", "directory": str(directory), "filename_template": "churn_{date:%Y-%m-%d}.parquet"}
    return parse_spec(data, "churn.yaml")


def _land(directory: Path, day: str, frame: pd.DataFrame) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(directory / f"churn_{day}.parquet", index=False)


def _land_with_a_bad_day(directory: Path, days: list[str], bad: str) -> None:
    """Land generated churn batches for `days`; `bad`'s has a contract outside the declared categories."""
    for day in days:
        frame = generate_batch(CHURN, date.fromisoformat(day))
        if day == bad:
            frame.loc[4, "contract"] = "lifetime"
        _land(directory, day, frame)


def test_range_with_a_bad_day_in_the_middle_blocks_only_that_day(tmp_path, instance, resources, data_dir):
    landing = tmp_path / "landing"
    spec = _churn_landing_dbt(landing)
    _land_with_a_bad_day(landing, DAYS, DAYS[1])
    defs = build_definitions([spec], resources)

    result = ingest_range(defs, spec, DAYS, instance)

    assert result.blocked == {DAYS[1]: ["categories"]}
    assert result.ingested == [DAYS[0], DAYS[2]]
    assert result.success and result.rows == 3 * 300
    # The first run covered the whole range.
    first = instance.get_run_by_id(result.run_ids[0])
    assert (first.tags[RANGE_START_TAG], first.tags[RANGE_END_TAG]) == (DAYS[0], DAYS[-1])
    # The bad day keeps its raw batch and its failing check names the day, column and case.
    features = AssetKey(["churn", "features"])
    assert instance.get_materialized_partitions(AssetKey(["churn", "raw_data"])) == set(DAYS)
    assert instance.get_materialized_partitions(AssetKey(["churn", "validated_data"])) == {DAYS[0], DAYS[2]}
    assert instance.get_materialized_partitions(features) == {DAYS[0], DAYS[2]}
    for day in (DAYS[0], DAYS[2]):
        stored = pd.read_parquet(asset_path(data_dir, ["churn", "features"], day))
        assert len(stored) == 300 and set(stored["event_date"].astype(str)) == {day}
    assert not asset_path(data_dir, ["churn", "features"], DAYS[1]).exists()
    evaluations = [
        e for run_id in result.run_ids[:1]
        for e in _check_evaluations(instance, run_id) if e.check_name == "categories"
    ]
    by_day = {e.partition: e for e in evaluations}
    assert set(by_day) == set(DAYS)
    assert not by_day[DAYS[1]].passed and by_day[DAYS[0]].passed and by_day[DAYS[2]].passed
    assert "contract" in by_day[DAYS[1]].metadata["failing_columns"].value
    assert "lifetime" in by_day[DAYS[1]].metadata["failure_cases"].value


def _check_evaluations(instance: DagsterInstance, run_id: str):
    from dagster import DagsterEventType

    records = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    return [r.dagster_event.event_specific_data for r in records]


def test_a_range_run_stores_each_day_as_a_one_day_run_does(tmp_path, instance, resources, data_dir):
    spec = churn_landing_spec(tmp_path / "landing")
    for day in DAYS:
        _land(tmp_path / "landing", day, generate_batch(CHURN, date.fromisoformat(day)))
    assets = build_data_assets(spec, None)
    ranged = materialize(assets, instance=instance, resources=resources, tags=range_tags(DAYS[0], DAYS[-1]))
    assert ranged.success
    hashes = {
        (e.asset_key.path[-1], e.partition): e.materialization.metadata["content_hash"].value
        for e in ranged.get_asset_materialization_events()
    }
    assert {p for _, p in hashes} == set(DAYS)

    other = tmp_path / "single"
    other.mkdir()
    from mlops_assets.definitions import default_resources

    single = materialize(assets, partition_key=DAYS[1], instance=instance, resources=default_resources(str(other)))
    for event in single.get_asset_materialization_events():
        name = event.asset_key.path[-1]
        assert event.materialization.metadata["content_hash"].value == hashes[(name, DAYS[1])], name
        pd.testing.assert_frame_equal(
            pd.read_parquet(asset_path(other, list(event.asset_key.path), DAYS[1])),
            pd.read_parquet(asset_path(data_dir, list(event.asset_key.path), DAYS[1])),
        )


@pytest.mark.parametrize("project", ["churn", "housing"])
def test_cli_partition_range_over_the_ingest_chain_is_one_run(project, tmp_path, monkeypatch):
    """`dagster asset materialize --partition-range` over a project's ingest chain: one run, dbt started once."""
    data = tmp_path / "data"
    home = data / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "MLOPS_DATA_DIR": str(data), "DAGSTER_HOME": str(home),
           "MLFLOW_TRACKING_URI": f"sqlite:///{data}/mlflow.db"}
    bin_dir = Path(sys.executable).parent
    if project == "housing":  # landing-fed: sample files first, as a user would
        subprocess.run([str(bin_dir / "mlops-assets"), "landing", "--start", DAYS[0], "--days", "3"],
                       env=env, cwd=REPO, check=True, capture_output=True)
    selection = f'group:{project} and tag:chain=ingest'
    proc = subprocess.run(
        [str(bin_dir / "dagster"), "asset", "materialize", "-m", "mlops_assets.definitions",
         "--select", selection, "--partition-range", f"{DAYS[0]}...{DAYS[-1]}"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=480,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the shipped dagster.yaml reads it
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1
        assert (runs[0].tags[RANGE_START_TAG], runs[0].tags[RANGE_END_TAG]) == (DAYS[0], DAYS[-1])
        assert instance.get_materialized_partitions(AssetKey([project, "features"])) == set(DAYS)
        dbt_starts = [r for r in instance.all_logs(runs[0].run_id) if "Running dbt build" in (r.user_message or "")]
        assert len(dbt_starts) == (1 if project == "churn" else 0)
    # dbt's own record of its builds: one, over the three days (the parse is kept apart, in dbt/target).
    builds = [p for p in (data / "dbt").glob("*/run_results.json") if p.parent.name != "target"]
    assert len(builds) == (1 if project == "churn" else 0)
    for day in DAYS:
        assert asset_path(data, [project, "features"], day).exists()


def test_a_failed_range_run_from_the_ui_or_a_schedule_gets_its_good_days_built_by_the_sensor(
    tmp_path, instance, resources, data_dir
):
    """A range run launched outside `ingest_range` (a UI backfill, the CLI) fails on a blocked day; the
    `<project>__ingest_good_days` sensor requests the other days' downstream, one run per stretch of good days."""
    from dagster import RunRequest, SkipReason, build_run_status_sensor_context

    from mlops_assets.ingestion import FOLLOW_UP_TAG

    days = ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"]
    landing = tmp_path / "landing"
    spec = churn_landing_spec(landing)
    _land_with_a_bad_day(landing, days, days[1])
    defs = build_definitions([spec], resources)
    job = defs.resolve_job_def(f"{spec.name}__ingest")
    sensor = defs.resolve_sensor_def(f"{spec.name}__ingest_good_days")

    failed = job.execute_in_process(instance=instance, raise_on_error=False, tags=range_tags(days[0], days[-1]))
    assert not failed.success
    features = AssetKey([spec.name, "features"])
    assert instance.get_materialized_partitions(features) == set()

    def evaluate(result):
        context = build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=result.get_run_failure_event(), dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        return list(sensor(context))

    requests = evaluate(failed)
    assert all(isinstance(r, RunRequest) for r in requests), requests
    spans = [(r.partition_key, r.tags.get(RANGE_START_TAG), r.tags.get(RANGE_END_TAG)) for r in requests]
    assert spans == [(days[0], None, None), (None, days[2], days[3])]
    raw = AssetKey([spec.name, "raw_data"])
    for request in requests:
        assert raw not in request.asset_selection and features in request.asset_selection
        assert request.tags[FOLLOW_UP_TAG] == failed.run_id

    # Run what the sensor asked for, as the daemon would: the good days get features, the blocked day does not.
    for request in requests:
        options = {"partition_key": request.partition_key} if request.partition_key else {}
        follow_up = job.execute_in_process(instance=instance, asset_selection=request.asset_selection,
                                           tags=request.tags, **options)
        assert follow_up.success
        # A follow-up that fails is not followed up again.
        assert isinstance(evaluate(follow_up)[0] if not follow_up.success else SkipReason(), SkipReason)
    assert instance.get_materialized_partitions(features) == {days[0], days[2], days[3]}
    assert not asset_path(data_dir, [spec.name, "features"], days[1]).exists()


def test_the_good_days_sensor_leaves_alone_runs_that_failed_for_other_reasons_or_follow_up_themselves(
    tmp_path, instance, resources
):
    from dagster import SkipReason, build_run_status_sensor_context

    from mlops_assets.ingestion import FOLLOW_UP_TAG

    landing = tmp_path / "landing"
    spec = churn_landing_spec(landing)
    _land(landing, DAYS[0], generate_batch(CHURN, date.fromisoformat(DAYS[0])))  # DAYS[1:] never landed
    defs = build_definitions([spec], resources)
    job = defs.resolve_job_def(f"{spec.name}__ingest")
    sensor = defs.resolve_sensor_def(f"{spec.name}__ingest_good_days")

    for tags in (range_tags(DAYS[0], DAYS[-1]), {**range_tags(DAYS[0], DAYS[-1]), FOLLOW_UP_TAG: "caller"}):
        result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
        assert not result.success
        context = build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=result.get_run_failure_event(), dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        answers = list(sensor(context))
        assert len(answers) == 1 and isinstance(answers[0], SkipReason), answers
