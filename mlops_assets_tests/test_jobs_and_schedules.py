"""The jobs and schedules as the definitions build them, against a real instance: a small churn project (dbt
features on DuckDB) ingested, trained, monitored and reproduced through its `__ingest`, `__train`, `__monitor` and
`__reproduce` jobs; every project's schedules evaluated at fixed tick times."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from dagster import AssetKey, build_schedule_context

from mlops_assets.definitions import build_definitions, default_resources, local_tracking_uri
from mlops_assets.ingestion import range_tags
from mlops_assets.resources.storage import asset_path
from mlops_assets.spec import load_specs

from .deployment.helpers import TOKEN, TOKEN_ENV, make_deployer, stopping
from .helpers import PROJECTS
from .monitoring.helpers import LogWriter, monitored_spec, raw_rows

pytestmark = pytest.mark.timeout(900)

UTC = dt.timezone.utc
DAYS = [f"2026-01-0{i}" for i in range(1, 7)]  # 4 train days + 2 holdout days
LIVE_DAY = dt.date(2026, 1, 20)


def keys(result) -> set[str]:
    return {e.materialization.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def metadata(result, node: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_ingest_train_monitor_and_reproduce_jobs_of_a_small_project(data_dir, instance, tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    spec = monitored_spec()  # the shipped churn spec: dbt features
    spec = spec.model_copy(update={"training": spec.training.model_copy(update={"window_days": 4, "holdout_days": 2})})
    tracking_uri = local_tracking_uri(str(tmp_path / "ml"))
    resources = {**default_resources(str(data_dir), tracking_uri=tracking_uri),
                 "deployer": make_deployer(data_dir, tracking_uri)}
    defs = build_definitions([spec], resources)
    with stopping(resources["deployer"], spec):
        # Ingest: the six days as one run (raw -> validated -> dbt staging and features), each day a partition.
        ingest = defs.resolve_job_def("churn__ingest").execute_in_process(
            instance=instance, tags=range_tags(DAYS[0], DAYS[-1]),
            run_config={"ops": {"churn__raw_data": {"config": {"rows": 600}}}})
        assert ingest.success
        assert keys(ingest) == {"churn/raw_data", "churn/validated_data", "churn/stg_churn", "churn/features"}
        for key in ("raw_data", "validated_data", "stg_churn", "features"):
            assert instance.get_materialized_partitions(AssetKey(["churn", key])) == set(DAYS), key
        features = pd.read_parquet(asset_path(data_dir, ["churn", "features"], DAYS[2]))
        assert len(features) == 600 and set(spec.features.columns) <= set(features.columns)

        # Train: training set -> candidate -> evaluation -> champion (auto) -> reference profile and endpoint.
        train = defs.resolve_job_def("churn__train").execute_in_process(instance=instance)
        assert train.success
        assert keys(train) == {f"churn/{n}" for n in ("training_set", "candidate_model", "evaluation_report",
                                                        "champion", "reference_profile", "endpoint")}
        tracking = resources["tracking"]
        assert tracking.alias_version("churn", "champion") == "1"
        assert train.output_for_node("churn__endpoint")["live_version"] == "1"

        # Monitor one day: traffic and labels logged by the champion where its server logs them.
        import mlflow

        tracking.activate()
        writer = LogWriter(data_dir, spec, mlflow.sklearn.load_model("models:/churn/1"))
        raw = raw_rows(spec, LIVE_DAY, 400, seed=5)
        at = dt.datetime.combine(LIVE_DAY, dt.time(12), tzinfo=UTC)
        writer.feedback(writer.predictions(raw, at), raw[spec.target.column].to_numpy(), at)
        monitor = defs.resolve_job_def("churn__monitor").execute_in_process(
            instance=instance, partition_key=LIVE_DAY.isoformat())
        assert monitor.success
        assert keys(monitor) == {"churn/prediction_log", "churn/feedback", "churn/drift_report",
                                 "churn/performance_report"}
        logged = metadata(monitor, "churn__prediction_log")
        assert (logged["row_count"], logged["requests"], logged["versions_seen"]) == (400, 4, ["1"])
        assert metadata(monitor, "churn__feedback")["row_count"] == 400
        drift = metadata(monitor, "churn__drift_report")
        assert drift["rows"] == 400 and drift["reference_model_version"] == "1"

        # Reproduce v1 from what is recorded on it: identical holdout predictions.
        reproduce = defs.resolve_job_def("churn__reproduce").execute_in_process(
            instance=instance, run_config={"ops": {"churn__reproduce_version": {"config": {"version": "1"}}}})
        assert reproduce.success
        [verdict] = [e.step_output_data.metadata for e in reproduce.all_node_events if e.is_successful_output]
        assert verdict["identical_predictions"].value == "True"
        assert "holdout predictions IDENTICAL" in verdict["summary"].value


@pytest.fixture
def shipped_defs(data_dir):
    """The definitions of the shipped projects on a temp data directory (building them runs nothing)."""
    specs = load_specs(PROJECTS)
    return specs, build_definitions(specs, default_resources(str(data_dir)))


def tick(defs, name: str, instance, at: dt.datetime):
    """One tick of the schedule as the daemon evaluates it: (the job it targets, its run requests, its skip message)."""
    schedule = defs.resolve_schedule_def(name)
    data = schedule.evaluate_tick(build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=defs.get_repository_def()))
    return schedule.job_name, list(data.run_requests or []), data.skip_message


def test_every_projects_schedules_request_the_right_day(shipped_defs, instance):
    specs, defs = shipped_defs
    assert {s.name for s in specs} == {"churn", "housing"}
    for p in (s.name for s in specs):
        # Ingest, 01:00 UTC: one run of the day that has just ended (data partitions end yesterday).
        job, [request], _ = tick(defs, f"{p}__ingest_schedule", instance, dt.datetime(2026, 3, 5, 1, tzinfo=UTC))
        assert job == f"{p}__ingest" and request.partition_key == "2026-03-04"
        assert request.tags["dagster/partition"] == "2026-03-04"
        # A tick just after midnight still asks for the day that ended, not the one begun.
        _, [late], _ = tick(defs, f"{p}__ingest_schedule", instance, dt.datetime(2026, 3, 6, 1, tzinfo=UTC))
        assert late.partition_key == "2026-03-05"

        # Monitor, 02:00 UTC: yesterday too, although its partitions include today; keyed by the day, so a
        # repeated tick does not run it twice.
        job, [request], _ = tick(defs, f"{p}__monitor_schedule", instance, dt.datetime(2026, 3, 5, 2, tzinfo=UTC))
        assert job == f"{p}__monitor" and (request.partition_key, request.run_key) == ("2026-03-04", "2026-03-04")
        assert request.tags["dagster/partition"] == "2026-03-04"
        # The first tick on the start date would ask for the day before it: skipped, saying why.
        start = next(s.start_date for s in specs if s.name == p)
        _, requests, skip = tick(defs, f"{p}__monitor_schedule", instance,
                                 dt.datetime.combine(start, dt.time(2), tzinfo=UTC))
        assert requests == [] and f"{start - dt.timedelta(days=1)} is outside {p}__monitor's days" in skip

        # Train, Mondays 03:00 UTC: one unpartitioned run of the training chain.
        job, [request], _ = tick(defs, f"{p}__train_schedule", instance, dt.datetime(2026, 3, 2, 3, tzinfo=UTC))
        assert job == f"{p}__train" and request.partition_key is None and "dagster/partition" not in request.tags
