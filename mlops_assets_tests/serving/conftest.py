"""Fixtures for the model-server tests: a real MLflow sqlite registry with two churn models, and live servers."""

from __future__ import annotations

import contextlib

import pytest

from .helpers import build_registry, running, tracking_at, wait_ready


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    import mlflow

    previous = mlflow.get_tracking_uri()
    yield build_registry(tmp_path_factory.mktemp("mlflow"))
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(previous)


@pytest.fixture
def serve(registry, tmp_path, monkeypatch):
    """Start a churn server with model version 1 live: ``with serve(**create_app_kwargs) as (base, app): ...``."""
    from mlops_assets.serving.app import create_app

    monkeypatch.delenv("MLOPS_SERVING_TOKEN", raising=False)

    @contextlib.contextmanager
    def start(**kwargs):
        kwargs.setdefault("initial_model_uri", "models:/churn/1")
        kwargs.setdefault("flush_interval_s", 0.2)
        app = create_app(registry.spec, kwargs.pop("log_dir", tmp_path / "predlog"), **kwargs)
        with tracking_at(registry.uri), running(app) as base:
            if kwargs["initial_model_uri"]:
                wait_ready(base)
            yield base, app

    return start

