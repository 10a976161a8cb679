"""MLflow tracking and model registry, as a thin resource of ours.

Why not dagster-mlflow's ``mlflow_tracking`` resource: it opens one MLflow run per Dagster *run* when the resource
is initialised (and ends it from a hook), while a candidate model needs its own run that is marked FAILED when
its fit raises, plus registry operations (versions, aliases, tags) the resource does not expose. This resource
configures MLflow from Dagster config and hands out an ``MlflowClient``; runs are opened per asset.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from dagster import ConfigurableResource

if TYPE_CHECKING:
    import mlflow
    from mlflow.tracking import MlflowClient

# mlflow is imported inside the methods that use it, not at module import (start-up time).

CHAMPION = "champion"
CHALLENGER = "challenger"
#: Types of our own fitted estimators that skops must be told to trust (MLflow's default sklearn format).
SKOPS_TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
]
#: What a logged pipeline needs to load and predict. Stated rather than inferred: MLflow's inference loads the
#: model in a subprocess to watch its imports, 8 of log_model's 12.5 s for a 28k-row churn pipeline (measured).
MODEL_PACKAGES = ("scikit-learn", "skops", "numpy", "pandas", "scipy")


def model_pip_requirements() -> list[str]:
    """The installed versions of `MODEL_PACKAGES`, pinned (``scikit-learn==1.7.2``, ...)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in MODEL_PACKAGES]


class MlflowTracking(ConfigurableResource):
    """MLflow tracking store + registry (embedded default: sqlite in the data directory)."""

    tracking_uri: str
    artifact_root: str = ""
    #: The MLflow UI serving this store (`make dev` starts one on http://127.0.0.1:5000 and sets
    #: MLOPS_MLFLOW_UI_URL); empty: metadata names runs by id instead of linking to a UI that is not there.
    ui_url: str = ""

    def _artifact_root(self) -> str:
        if self.artifact_root:
            return self.artifact_root
        if self.tracking_uri.startswith("sqlite:///"):
            return str(Path(self.tracking_uri.removeprefix("sqlite:///")).parent / "artifacts")
        return ""

    def activate(self) -> None:
        """Point MLflow's fluent API at this store (MLflow keeps the URI process-wide)."""
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)

    def client(self) -> MlflowClient:
        from mlflow.tracking import MlflowClient

        self.activate()
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def experiment_id(self, project: str) -> str:
        client = self.client()
        found = client.get_experiment_by_name(project)
        if found is not None:
            return found.experiment_id
        root = self._artifact_root()
        location = f"{root}/{project}" if root else None
        return client.create_experiment(project, artifact_location=location)

    @contextlib.contextmanager
    def start_run(self, project: str, run_name: str, tags: dict[str, str]) -> Iterator[mlflow.ActiveRun]:
        """An MLflow run in the project's experiment; an exception inside marks it FAILED and propagates."""
        import mlflow

        experiment_id = self.experiment_id(project)
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
            yield run

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"

    def run_metadata(self, experiment_id: str, run_id: str) -> dict:
        """`mlflow_run`: a link to the run in the MLflow UI when one is configured, else `mlflow_run_id`."""
        from dagster import MetadataValue

        if self.ui_url:
            return {"mlflow_run": MetadataValue.url(self.run_url(experiment_id, run_id))}
        return {"mlflow_run_id": run_id}

    def artifact_url(self, run_id: str, path: str) -> str | None:
        """The artifact's URL in the MLflow UI, or None when no UI is configured."""
        return f"{self.ui_url}/get-artifact?path={path}&run_uuid={run_id}" if self.ui_url else None

    def alias_version(self, model_name: str, alias: str) -> str | None:
        """The version an alias points to, or None when the model or alias does not exist.

        Any other registry error propagates: treating an unreachable store as "no champion" would skip the
        not-worse-than-champion gate.
        """
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client().get_model_version_by_alias(model_name, alias).version)
        except MlflowException as err:
            if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                return None
            raise
