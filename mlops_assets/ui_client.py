"""Scripted use of a running Dagster webserver (`make dev`) through its GraphQL API.

Launch a job or a materialization, poll it to the end, run a backfill, toggle a sensor and read asset-check results —
what a person does in the UI, for scripts and the browser tests. Dagster's GraphQL client is imported when a
client is made, not at module import.

Examples
--------
>>> ui = UiClient("127.0.0.1", 3000)  # doctest: +SKIP
>>> run_id = ui.launch("churn__ingest", partition="2026-03-01")  # doctest: +SKIP
>>> ui.wait_for_run(run_id)  # doctest: +SKIP
'SUCCESS'
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Mapping, Sequence

LOCATION = "mlops_assets"
REPOSITORY = "__repository__"
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


class UiClientError(RuntimeError):
    """The webserver answered with an error, or a run or backfill did not finish as asked."""


class UiClient:
    """A thin client over Dagster's GraphQL API for one code location (default ``mlops_assets``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 3000, location: str = LOCATION, timeout: int = 300):
        self.host, self.port, self.location, self.timeout = host, port, location, timeout
        self.url = f"http://{host}:{port}/graphql"
        self._client = None

    @property
    def client(self):
        """Dagster's own `DagsterGraphQLClient` (submit_job_execution, get_run_status), made on first use."""
        if self._client is None:
            from dagster_graphql import DagsterGraphQLClient

            self._client = DagsterGraphQLClient(self.host, port_number=self.port, timeout=self.timeout)
        return self._client

    # -- raw GraphQL -------------------------------------------------------------------------------------------
    def query(self, text: str, variables: Mapping[str, Any] | None = None) -> dict:
        """POST a GraphQL document; its `data`, or a `UiClientError` naming the errors."""
        body = json.dumps({"query": text, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise UiClientError(f"GraphQL errors from {self.url}: {payload['errors']}")
        return payload["data"]

    def _selector(self) -> dict:
        return {"repositoryLocationName": self.location, "repositoryName": REPOSITORY}

    # -- waiting for the server ----------------------------------------------------------------------------------
    def location_loaded(self) -> bool:
        """Whether the webserver answers and the code location has loaded without error."""
        try:
            data = self.query(
                "{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus "
                "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
            )
        except (urllib.error.URLError, ConnectionError, OSError):
            return False
        for entry in data["workspaceOrError"].get("locationEntries", []):
            if entry["name"] == self.location and entry["loadStatus"] == "LOADED":
                error = entry["locationOrLoadError"]
                if error and error["__typename"] == "PythonError":
                    raise UiClientError(f"code location {self.location} failed to load: {error['message']}")
                return error is not None
        return False

    def wait_until_loaded(self, timeout: float = 240, poll: float = 1.0, alive=lambda: True) -> None:
        """Block until the code location is loaded; `alive()` false (the server died) or the timeout raises."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive():
                raise UiClientError("the Dagster webserver exited before the code location loaded")
            if self.location_loaded():
                return
            time.sleep(poll)
        raise UiClientError(f"code location {self.location} not loaded after {timeout:.0f} s at {self.url}")

    # -- runs --------------------------------------------------------------------------------------------------
    def launch(
        self,
        job: str,
        run_config: Mapping[str, Any] | None = None,
        partition: str | None = None,
        partition_range: tuple[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        assets: Sequence[str] | None = None,
    ) -> str:
        """Launch `job` (optionally one partition, a partition range as one run, or a subset of asset keys "a/b")."""
        all_tags = dict(tags or {})
        if partition is not None:
            all_tags["dagster/partition"] = partition
        if partition_range is not None:
            all_tags["dagster/asset_partition_range_start"], all_tags["dagster/asset_partition_range_end"] = partition_range
        selection = [key.split("/") for key in assets] if assets else None
        return self.client.submit_job_execution(
            job, repository_location_name=self.location, repository_name=REPOSITORY,
            run_config=dict(run_config or {}), tags=all_tags or None, asset_selection=selection,
        )

    def materialize(self, assets: Sequence[str], partition: str | None = None, **kwargs) -> str:
        """Materialize asset keys ("churn/raw_data") through the implicit asset job of their partitioning."""
        return self.launch("__ASSET_JOB", partition=partition, assets=assets, **kwargs)

    def run_status(self, run_id: str) -> str:
        return self.client.get_run_status(run_id).value

    def wait_for_run(self, run_id: str, timeout: float = 600, poll: float = 1.0) -> str:
        """Poll `run_id` until it finishes; its final status ("SUCCESS", "FAILURE", "CANCELED")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.run_status(run_id)
            if status in FINISHED:
                return status
            time.sleep(poll)
        raise UiClientError(f"run {run_id} not finished after {timeout:.0f} s (last status {status})")

    def run_to_success(self, run_id: str, timeout: float = 600) -> str:
        """`wait_for_run`, raising with the run's error events unless it succeeded."""
        status = self.wait_for_run(run_id, timeout)
        if status != "SUCCESS":
            raise UiClientError(f"run {run_id} ended {status}: {self.run_errors(run_id)}")
        return run_id

    def run_errors(self, run_id: str) -> list[str]:
        """The messages of a run's failure events (step failures and run failure)."""
        data = self.query(
            "query($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection { events { __typename "
            "... on MessageEvent { message } ... on ExecutionStepFailureEvent { error { message } } } } } }",
            {"id": run_id},
        )
        events = data["logsForRun"].get("events", [])
        return [e.get("error", {}).get("message") or e.get("message", "") for e in events
                if e["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")]

    def runs(self, job: str, limit: int = 20) -> list[dict]:
        """The newest runs of `job`: id, status, tags."""
        data = self.query(
            "query($f: RunsFilter) { runsOrError(filter: $f, limit: %d) { ... on Runs { results { runId status "
            "tags { key value } } } } }" % limit,
            {"f": {"pipelineName": job}},
        )
        return data["runsOrError"]["results"]

    # -- backfills ---------------------------------------------------------------------------------------------
    def backfill(self, job: str, partitions: Sequence[str]) -> str:
        """Launch a backfill of `job` over `partitions`; its id."""
        data = self.query(
            "mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) { __typename "
            "... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } "
            "... on InvalidSubsetError { message } } }",
            {"p": {"selector": {"partitionSetName": f"{job}_partition_set", "repositorySelector": self._selector()},
                   "partitionNames": list(partitions)}},
        )
        result = data["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise UiClientError(f"backfill of {job} not launched: {result}")
        return result["backfillId"]

    def backfill_status(self, backfill_id: str) -> str:
        data = self.query(
            "query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }",
            {"id": backfill_id},
        )
        return data["partitionBackfillOrError"]["status"]

    def wait_for_backfill(self, backfill_id: str, timeout: float = 600, poll: float = 2.0) -> str:
        """Poll a backfill until it is no longer requested; its final status ("COMPLETED_SUCCESS", ...)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.backfill_status(backfill_id)
            if status not in ("REQUESTED", "CANCELING"):
                return status
            time.sleep(poll)
        raise UiClientError(f"backfill {backfill_id} still {status} after {timeout:.0f} s")

    # -- sensors and checks --------------------------------------------------------------------------------------
    def _sensor_state(self, sensor: str, fields: str) -> dict:
        data = self.query(
            "query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor { sensorState { %s } } } }"
            % fields,
            {"s": {**self._selector(), "sensorName": sensor}},
        )
        return data["sensorOrError"]["sensorState"]

    def sensor_status(self, sensor: str) -> str:
        """"RUNNING" or "STOPPED"."""
        return self._sensor_state(sensor, "status")["status"]

    def sensor_ticks(self, sensor: str, limit: int = 10) -> list[dict]:
        """The newest ticks of `sensor`: status, skipReason, timestamp."""
        return self._sensor_state(sensor, "ticks(limit: %d) { status skipReason timestamp }" % limit)["ticks"]

    def materializations(self, asset: str, limit: int = 10) -> list[dict]:
        """The newest materializations of asset key `asset` ("churn/champion"): runId, partition, timestamp."""
        data = self.query(
            "query($k: AssetKeyInput!) { assetOrError(assetKey: $k) { __typename ... on Asset { "
            "assetMaterializations(limit: %d) { runId partition timestamp } } } }" % limit,
            {"k": {"path": asset.split("/")}},
        )
        asset_or_error = data["assetOrError"]
        if asset_or_error["__typename"] != "Asset":
            return []  # AssetNotFoundError: never materialized nor defined
        return asset_or_error["assetMaterializations"]

    def check_results(self, asset: str, check: str, limit: int = 5) -> list[dict]:
        """The newest executions of asset check `check` on asset key `asset` ("housing/raw_data")."""
        data = self.query(
            "query($k: AssetKeyInput!, $c: String!) { assetCheckExecutions(assetKey: $k, checkName: $c, limit: %d) "
            "{ status runId evaluation { success partition metadataEntries { label "
            "... on TextMetadataEntry { text } ... on JsonMetadataEntry { jsonString } "
            "... on IntMetadataEntry { intValue } } } } }" % limit,
            {"k": {"path": asset.split("/")}, "c": check},
        )
        return data["assetCheckExecutions"]
