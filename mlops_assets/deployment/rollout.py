"""What to ask a running model server to do so it serves a given model with a given strategy (pure plan + admin calls)."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_assets.deployment.errors import DeploymentError
from mlops_assets.deployment.server_client import ServerClient


@dataclass(frozen=True)
class Step:
    """``action``: unchanged | promote | drop_candidate | load; ``mode``: the /admin/load mode for a load."""

    action: str
    mode: str | None = None
    note: str = ""


def _same(info: dict | None, model_uri: str, version: str) -> bool:
    return info is not None and info.get("model_uri") == model_uri and str(info.get("model_version")) == str(version)


def plan(status: dict, model_uri: str, version: str, strategy: str, weight: float) -> Step:
    """The one admin step from ``status`` (the server's ``/admin/status``) to the requested state.

    Examples
    --------
    >>> live = {"model_uri": "models:/churn/1", "model_version": "1"}
    >>> plan({"live": live, "candidate": None}, "models:/churn/2", "2", "blue_green", 0.0).action
    'load'
    >>> plan({"live": live, "candidate": None}, "models:/churn/1", "1", "blue_green", 0.0).action
    'unchanged'
    """
    live, cand = status.get("live"), status.get("candidate")
    if strategy == "blue_green":
        if _same(cand, model_uri, version):
            return Step("promote")
        if _same(live, model_uri, version):
            return Step("drop_candidate") if cand is not None else Step("unchanged")
        return Step("load", "blue_green")
    if live is None:
        return Step("load", "blue_green", note=f"no live model to run a {strategy} against: deployed blue_green")
    if _same(live, model_uri, version):
        return Step("drop_candidate") if cand is not None else Step("unchanged")
    if (_same(cand, model_uri, version) and status.get("strategy") == strategy
            and (strategy == "shadow" or float(status.get("weight") or 0.0) == float(weight))):
        return Step("unchanged")
    return Step("load", strategy)


def _ok(client: ServerClient, status: int, body: object, what: str) -> dict:
    if status != 200:
        detail = body.get("detail") if isinstance(body, dict) else body
        raise DeploymentError(f"{client.base_url} refused {what} (HTTP {status}): {detail}")
    return body  # type: ignore[return-value]


def admin_status(client: ServerClient) -> dict:
    status, body = client.get("/admin/status")
    return _ok(client, status, body, "GET /admin/status")


def apply(client: ServerClient, step: Step, model_uri: str, version: str, weight: float,
          data_version: str | None) -> str:
    """Run ``step`` against the server; return the action taken. A refused load leaves the server as it was."""
    if step.action == "unchanged":
        return "unchanged"
    if step.action == "promote":
        _ok(client, *client.post("/admin/promote"), "promoting the candidate")
        return "promoted"
    if step.action == "drop_candidate":
        _ok(client, *client.post("/admin/rollback"), "dropping the candidate")
        return "candidate_dropped"
    body = {"model_uri": model_uri, "mode": step.mode, "version": str(version),
            "weight": float(weight) if step.mode == "canary" else 0.0}
    if data_version:
        body["data_version"] = data_version
    try:
        _ok(client, *client.post("/admin/load", body), f"loading {model_uri} (version {version}, {step.mode})")
    except DeploymentError as err:
        live = admin_status(client).get("live") or {}
        raise DeploymentError(f"{err}; the endpoint keeps serving version {live.get('model_version')}") from None
    return "loaded"


def rollback(client: ServerClient) -> str:
    status, body = client.post("/admin/rollback")
    return _ok(client, status, body, "rollback")["action"]
