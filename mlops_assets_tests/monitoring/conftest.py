"""Monitoring fixtures: a churn spec with small windows, a fitted model, a stored reference and a real prediction log."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from .helpers import _fitted


@pytest.fixture(scope="session")
def fitted():
    """(model, training feature frame, holdout metrics) of a small seeded churn model."""
    return _fitted()


@pytest.fixture
def webhook():
    """A real HTTP server on 127.0.0.1 collecting POSTed JSON bodies."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()

