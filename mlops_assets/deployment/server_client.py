"""A small JSON client for the model server's routes (stdlib only), with the bearer token from the environment."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass


class ServerUnreachable(ConnectionError):
    """Nothing answered (refused, reset or timed out)."""


@dataclass(frozen=True)
class ServerClient:
    base_url: str
    token_env: str = ""
    timeout_s: float = 120.0

    def _headers(self) -> dict:
        headers = {"content-type": "application/json", "accept": "application/json"}
        token = os.environ.get(self.token_env) if self.token_env else None
        if token:
            headers["authorization"] = f"Bearer {token}"
        return headers

    def request(self, method: str, path: str, body: dict | None = None, timeout_s: float | None = None) -> tuple[int, object]:
        """``(status, parsed JSON body)``; HTTP error statuses are returned, not raised."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=self._headers())
        try:
            with urllib.request.urlopen(req, timeout=timeout_s or self.timeout_s) as resp:
                return resp.status, _parse(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _parse(err.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as err:
            raise ServerUnreachable(f"{method} {self.base_url}{path}: {err}") from None

    def get(self, path: str, timeout_s: float | None = None) -> tuple[int, object]:
        return self.request("GET", path, timeout_s=timeout_s)

    def post(self, path: str, body: dict | None = None, timeout_s: float | None = None) -> tuple[int, object]:
        return self.request("POST", path, body if body is not None else {}, timeout_s=timeout_s)

    def answers(self, path: str = "/health", timeout_s: float = 2.0) -> bool:
        try:
            return self.get(path, timeout_s=timeout_s)[0] == 200
        except ServerUnreachable:
            return False


def _parse(raw: bytes) -> object:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")[:2000]
