"""A loaded model: an MLflow sklearn model behind ``predict(features) -> (predictions, scores)`` with its metadata."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_assets.constants import TRAINING_SET_VERSION_TAG
from mlops_assets.serving.compiled import TREE_WALK_MAX_ROWS, compile_pipeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    """Where a model came from: recorded on every response, log record and status page."""

    project: str
    model_uri: str
    model_version: str
    alias: str | None = None
    data_version: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class LoadedModel:
    """A fitted sklearn estimator (usually a Pipeline over the feature columns) and its metadata.

    ``predict`` returns the predicted value per row and a score: for classification the predicted class code
    and the probability of the positive class (class 1: training fits classifiers on 0/1 codes, positive = 1,
    see :mod:`mlops_assets.labels`; else the last class), for regression the prediction.

    A ``Pipeline([ColumnTransformer, estimator])`` of common transformers is run through a numpy
    version of its preprocessing, and a HistGradientBoosting model's trees through a numpy walk for small
    batches (:mod:`mlops_assets.serving.compiled`), once :meth:`check` has seen them give bit-identical answers
    on sample rows; ``fast`` says whether they are in use.
    """

    def __init__(self, estimator, info: ModelInfo, task: str):
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
        self.estimator = estimator
        self.info = info
        self.task = task
        self._proba = task == "classification" and hasattr(estimator, "predict_proba")
        self._compiled = compile_pipeline(estimator)
        self.fast = False
        if self._proba:
            classes = np.asarray(estimator.classes_)
            self.classes_ = classes
            hits = np.flatnonzero(classes == 1)
            self._pos = int(hits[0]) if len(hits) else len(classes) - 1

    @property
    def version(self) -> str:
        return self.info.model_version

    def predict(self, features: pd.DataFrame | Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Predictions and scores (float64), one per row of ``features``: a frame, or its columns as numpy arrays
        (the serving fast path; what the compiled path does not cover gets them as a frame)."""
        if self.fast:
            x = self._compiled[0](features)
            if x is not None:
                return self._output(self._compiled[1], x)
        if not isinstance(features, pd.DataFrame):
            features = pd.DataFrame(features, copy=False)
        return self._output(self.estimator, features)

    def _output(self, est, x) -> tuple[np.ndarray, np.ndarray]:
        if self._proba:
            proba = np.asarray(est.predict_proba(x))
            return self.classes_[np.argmax(proba, axis=1)], proba[:, self._pos].astype("float64")
        pred = np.asarray(est.predict(x))
        return pred, pred.astype("float64")

    def check(self, features: pd.DataFrame) -> None:
        """Warm up and sanity-check on sample rows; raise if the output is not one finite score per row.

        Turns the compiled preprocessing on when it answers exactly as the pipeline does on ``features``.
        """
        pred, score = self._output(self.estimator, features)
        if self._compiled is not None:
            x = self._compiled[0](features)
            reference = np.asarray(self.estimator[:-1].transform(features), dtype="float64")
            # The whole sample, and its first rows alone: small batches take the tree walk (compiled.TreeWalk).
            small = slice(0, min(len(features), TREE_WALK_MAX_ROWS))
            same = x is not None and np.array_equal(x, reference) and all(
                np.array_equal(a, b)
                for rows in (slice(None), small)
                for a, b in zip(self._output(self._compiled[1], x[rows]), (pred[rows], score[rows])))
            self.fast = same
            if not same:
                log.warning("model %s: compiled preprocessing differs from the pipeline on sample rows; "
                            "using the pipeline", self.info.model_uri)
        if len(pred) != len(features) or len(score) != len(features):
            raise ValueError(f"model {self.info.model_uri} returned {len(pred)} predictions for {len(features)} rows")
        if not np.all(np.isfinite(score)):
            raise ValueError(f"model {self.info.model_uri} returned non-finite scores {score.tolist()} on sample rows")


def _registry_meta(model_uri: str) -> tuple[str | None, str | None, str | None]:
    """(version, alias, data version) of a ``models:/`` URI from the registry, else Nones."""
    m = re.fullmatch(r"models:/([^/@]+)(?:@([^/]+)|/(\d+))/?", model_uri)
    if not m:
        return None, None, None
    from mlflow import MlflowClient

    name, alias, number = m.groups()
    client = MlflowClient()
    mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, number)
    tags = dict(mv.tags or {})
    return str(mv.version), alias, tags.get(TRAINING_SET_VERSION_TAG)


def _default_version(model_uri: str) -> str:
    m = re.match(r"runs:/([^/]+)", model_uri)
    return f"run-{m.group(1)[:12]}" if m else Path(model_uri.rstrip("/")).name


def load_model(
    model_uri: str,
    *,
    project: str,
    task: str,
    version: str | None = None,
    alias: str | None = None,
    data_version: str | None = None,
) -> LoadedModel:
    """Load ``model_uri`` (``models:/name@alias``, ``models:/name/3``, ``runs:/id/model`` or a path).

    Version, alias and data version default to the registry's (for ``models:/`` URIs; the data
    version from the ``training_set_version`` tag training writes), else to a name derived from the URI;
    arguments win.
    """
    import mlflow.sklearn

    estimator = mlflow.sklearn.load_model(model_uri)
    reg_version, reg_alias, reg_data = _registry_meta(model_uri)
    info = ModelInfo(
        project=project,
        model_uri=model_uri,
        model_version=str(version or reg_version or _default_version(model_uri)),
        alias=alias or reg_alias,
        data_version=data_version or reg_data,
    )
    return LoadedModel(estimator, info, task)
