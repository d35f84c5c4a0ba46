"""A FAKE of Argo CD's REST API, on 127.0.0.1, for the gitops deployer's health check.

Argo CD cannot run on this machine (it needs a Kubernetes cluster), so the
tests talk to this stand-in. It serves only what relgate reads:
``GET /api/v1/applications/{name}`` with a bearer token, answering the
application's ``status.sync`` (status, revision), ``status.health`` and
``status.operationState`` as Argo CD documents them. A test scripts the
answers; the fake records every request (path, query, Authorization header).
These are wire-contract tests against a fake, not tests against Argo CD.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def application(
    name: str,
    *,
    sync: str = "Synced",
    revision: str = "",
    health: str = "Healthy",
    health_message: str = "",
    phase: str | None = None,
    operation_revision: str = "",
    message: str = "",
) -> dict[str, Any]:
    """An Application object as ``GET /api/v1/applications/{name}`` returns it (the parts read)."""
    status: dict[str, Any] = {
        "sync": {"status": sync, "revision": revision},
        "health": {"status": health, **({"message": health_message} if health_message else {})},
    }
    if phase is not None:
        status["operationState"] = {
            "phase": phase,
            "message": message,
            "syncResult": {"revision": operation_revision},
        }
    return {"metadata": {"name": name, "namespace": "argocd"}, "status": status}


class FakeArgoCd:
    """Serves one application per name; ``answer`` decides each GET from the request count."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[tuple[str, dict[str, list[str]], str | None]] = []
        self.answer: Callable[[str, int], tuple[int, dict[str, Any]]] = lambda name, n: (
            404,
            {"error": "not found", "code": 5},
        )
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                auth = self.headers.get("Authorization")
                fake.requests.append((parts.path, parse_qs(parts.query), auth))
                prefix = "/api/v1/applications/"
                if auth != f"Bearer {fake.token}":
                    status, body = 401, {"error": "invalid session", "code": 16}
                elif parts.path.startswith(prefix):
                    name = parts.path[len(prefix) :]
                    count = sum(1 for path, _, _ in fake.requests if path == parts.path)
                    status, body = fake.answer(name, count)
                else:
                    status, body = 404, {"error": "not found", "code": 5}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def start(self) -> FakeArgoCd:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
