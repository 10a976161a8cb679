"""Slots and strategies: blue-green swap and rollback, exact canary share, shadow."""

from __future__ import annotations

import pytest

from mlops_assets.serving.models import ModelInfo
from mlops_assets.serving.routing import Router, RoutingError


class M:
    def __init__(self, version):
        self.version = version
        self.info = ModelInfo("churn", f"models:/churn/{version}", version)


def test_blue_green_swap_keeps_previous_and_rollback_restores_it():
    r = Router()
    with pytest.raises(RoutingError):
        r.choose()
    v1, v2 = M("1"), M("2")
    r.set_live(v1)
    r.set_live(v2)
    assert r.choose().model is v2 and r.previous is v1
    assert r.rollback() == "previous_restored"
    assert r.choose().model is v1 and r.previous is v2
    assert r.rollback() == "previous_restored" and r.live is v2


@pytest.mark.parametrize("weight", [0.0, 0.05, 0.2, 0.5, 1.0])
def test_canary_share_is_exact_and_deterministic(weight):
    r = Router()
    r.set_live(M("1"))
    r.set_candidate(M("2"), "canary", weight)
    roles = [r.choose().role for _ in range(2000)]
    assert roles.count("canary") == round(2000 * weight)
    r2 = Router()
    r2.set_live(M("1"))
    r2.set_candidate(M("2"), "canary", weight)
    assert [r2.choose().role for _ in range(2000)] == roles


def test_shadow_answers_with_live_and_rollback_drops_the_candidate():
    r = Router()
    v1, v2 = M("1"), M("2")
    r.set_live(v1)
    r.set_candidate(v2, "shadow")
    route = r.choose()
    assert route.model is v1 and route.role == "live" and route.shadow is v2
    assert r.rollback() == "candidate_dropped"
    assert r.candidate is None and r.live is v1 and r.choose().shadow is None


def test_promote_and_invalid_transitions():
    r = Router()
    with pytest.raises(RoutingError, match="no live model"):
        r.set_candidate(M("2"), "canary", 0.1)
    with pytest.raises(RoutingError, match="no candidate"):
        r.promote()
    with pytest.raises(RoutingError, match="no previous"):
        r.rollback()
    v1, v2 = M("1"), M("2")
    r.set_live(v1)
    r.set_candidate(v2, "canary", 0.3)
    r.promote()
    assert r.live is v2 and r.previous is v1 and r.candidate is None
    assert r.status()["live"]["model_version"] == "2" and r.status()["strategy"] == "blue_green"
