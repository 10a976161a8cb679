"""The estimator allow-list and the scikit-learn Pipeline built from a spec (pure, seeded)."""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# sklearn is imported when a pipeline is built, not at module import (start-up time).

#: name -> task -> estimator class (its import path). "dummy" is a deliberately weak baseline (useful to test the gates).
ESTIMATORS: dict[str, dict[str, str]] = {
    "hist_gradient_boosting": {
        "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
        "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
    },
    "random_forest": {
        "classification": "sklearn.ensemble.RandomForestClassifier",
        "regression": "sklearn.ensemble.RandomForestRegressor",
    },
    "logistic_regression": {"classification": "sklearn.linear_model.LogisticRegression"},
    "ridge": {"regression": "sklearn.linear_model.Ridge"},
    "elastic_net": {"regression": "sklearn.linear_model.ElasticNet"},
    "dummy": {"classification": "sklearn.dummy.DummyClassifier", "regression": "sklearn.dummy.DummyRegressor"},
}
_SCALED = ("logistic_regression", "ridge", "elastic_net")


class EstimatorError(ValueError):
    """An estimator name or hyperparameter the allow-list does not accept."""


def estimator_class(name: str, task: str) -> type:
    by_task = ESTIMATORS.get(name)
    if by_task is None:
        raise EstimatorError(f"unknown estimator '{name}'; choose one of {sorted(ESTIMATORS)}")
    if task not in by_task:
        allowed = sorted(n for n, t in ESTIMATORS.items() if task in t)
        raise EstimatorError(f"estimator '{name}' does not support {task}; for {task} choose one of {allowed}")
    module, _, cls = by_task[task].rpartition(".")
    return getattr(importlib.import_module(module), cls)


def split_columns(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], list[str]]:
    """Numeric (incl. bool) and categorical (object/string/category) feature columns, in spec order."""
    categorical = [c for c in columns if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))]
    numeric = [c for c in columns if c not in categorical]
    return numeric, categorical


def build_pipeline(
    task: str, estimator: str, params: dict, seed: int, numeric: list[str], categorical: list[str]
) -> Pipeline:
    """Preprocessing + estimator. Unknown hyperparameters are an `EstimatorError` naming the valid ones.

    Examples
    --------
    >>> p = build_pipeline("classification", "logistic_regression", {"C": 0.5}, 0, ["x"], ["c"])
    >>> p.named_steps["model"].C, p.named_steps["model"].random_state
    (0.5, 0)
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cls = estimator_class(estimator, task)
    valid = set(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - valid)
    if unknown:
        raise EstimatorError(f"{cls.__name__} has no hyperparameter(s) {unknown}; valid: {sorted(valid)}")
    kwargs = dict(params)
    if "random_state" in valid:
        kwargs.setdefault("random_state", seed)
    numeric_steps = [("impute", SimpleImputer(strategy="median"))]
    if estimator in _SCALED:
        numeric_steps.append(("scale", StandardScaler()))
    pre = ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("features", pre), ("model", cls(**kwargs))])


def model_scores(pipeline: Pipeline, task: str, X: pd.DataFrame):
    """The score the metrics use: P(class 1) for classification, the prediction for regression."""
    if task == "classification":
        return pipeline.predict_proba(X)[:, 1]
    return pipeline.predict(X)
