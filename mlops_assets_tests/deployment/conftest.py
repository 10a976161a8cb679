"""Fixtures for deployment tests: a small churn project with real Dagster, a real MLflow sqlite store and a
real model server process on 127.0.0.1 (always stopped on teardown)."""

from __future__ import annotations

import pytest

from .helpers import small_churn, small_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Six days of churn features and a promoted v1 in a real instance and MLflow store; servers stopped at the end."""
    with small_world(tmp_path_factory, small_churn()) as w:
        assert w.train().success
        yield w


@pytest.fixture
def fresh_world(tmp_path_factory):
    """Like `world`, but this test's own: for a test that starts from v1 alone and moves the champion."""
    with small_world(tmp_path_factory, small_churn()) as w:
        assert w.train().success
        yield w


@pytest.fixture(scope="module")
def manual_world(tmp_path_factory):
    """The same project with ``evaluation.promotion: manual``: data ingested, nothing trained yet."""
    spec = small_churn()
    spec = spec.model_copy(update={"evaluation": spec.evaluation.model_copy(update={"promotion": "manual"})})
    with small_world(tmp_path_factory, spec) as w:
        yield w
