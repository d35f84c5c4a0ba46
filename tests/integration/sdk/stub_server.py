"""``StubFeatureServer``: a test double of relgate's Unleash client API, on 127.0.0.1.

It serves one features document with an ETag (``If-None-Match`` -> 304),
records every request and the register/metrics bodies, streams changes as
server-sent events (``unleash-connected`` / ``unleash-updated``) when asked,
and can be switched to fail: ``mode = "error"`` answers 500, ``"garbage"``
answers 200 with a body that is not JSON, ``"bad-flags"`` answers JSON that
is not a features document.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    status: int


class StubFeatureServer:
    """A threaded HTTP server standing in for ``relgate serve``'s client API."""

    def __init__(self, payload: dict[str, Any], *, streaming: bool = False) -> None:
        self._condition = threading.Condition()
        self._payload = payload
        self._version = 1
        self.streaming = streaming
        self.mode = "ok"
        self.post_mode = "ok"
        self.requests: list[RecordedRequest] = []
        self.metrics_posts: list[dict[str, Any]] = []
        self.register_posts: list[dict[str, Any]] = []
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> StubFeatureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._condition:
            self._condition.notify_all()
        self._server.shutdown()
        self._server.server_close()

    # -- what a test changes ------------------------------------------------

    def set_payload(self, payload: dict[str, Any]) -> None:
        with self._condition:
            self._payload = payload
            self._version += 1
            self._condition.notify_all()

    @property
    def etag(self) -> str:
        return f'"v{self._version}"'

    def current(self) -> tuple[int, dict[str, Any]]:
        with self._condition:
            return self._version, self._payload

    def wait_for_change(self, version: int, timeout: float) -> bool:
        with self._condition:
            return self._condition.wait_for(
                lambda: self._version != version or self._stopping.is_set(), timeout
            )

    # -- what a test reads ---------------------------------------------------

    def feature_requests(self) -> list[RecordedRequest]:
        return [r for r in list(self.requests) if r.path == "/api/client/features"]

    def count(self, status: int) -> int:
        return sum(1 for r in self.feature_requests() if r.status == status)


def _handler_for(stub: StubFeatureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _record(self, status: int) -> None:
            stub.requests.append(
                RecordedRequest(self.command, self.path, dict(self.headers.items()), status)
            )

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
            self._record(status)
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/api/client/features":
                self._features()
            elif self.path == "/api/client/streaming" and stub.streaming:
                self._stream()
            else:
                self._send(404, b'{"error": "not found"}')

        def _features(self) -> None:
            if stub.mode == "error":
                self._send(500, b"internal error")
                return
            if stub.mode == "garbage":
                self._send(200, b"<html>not json", {"Content-Type": "text/html"})
                return
            if stub.mode == "bad-flags":
                body = json.dumps({"version": 2, "features": [{"enabled": True}]}).encode()
                self._send(200, body, {"Content-Type": "application/json", "ETag": '"bad"'})
                return
            version, payload = stub.current()
            etag = f'"v{version}"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, headers={"ETag": etag})
                return
            body = json.dumps(payload).encode()
            self._send(200, body, {"Content-Type": "application/json", "ETag": etag})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if stub.post_mode == "error":
                self._send(503, b"unavailable")
                return
            if self.path == "/api/client/metrics":
                stub.metrics_posts.append(json.loads(raw))
                self._send(202)
            elif self.path == "/api/client/register":
                stub.register_posts.append(json.loads(raw))
                self._send(202)
            else:
                self._send(404)

        def _stream(self) -> None:
            self._record(200)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            version, payload = stub.current()
            self._event("unleash-connected", version, payload)
            try:
                while not stub._stopping.is_set():
                    if stub.wait_for_change(version, timeout=0.2):
                        if stub._stopping.is_set():
                            return
                        version, payload = stub.current()
                        self._event("unleash-updated", version, payload)
                    else:
                        self.wfile.write(b": keep-alive\n\n")
                        self.wfile.flush()
            except OSError:
                return  # the client went away
            finally:
                self.close_connection = True

        def _event(self, name: str, version: int, payload: dict[str, Any]) -> None:
            delta = {
                "events": [
                    {
                        "type": "hydration",
                        "eventId": version,
                        "features": payload.get("features", []),
                        "segments": payload.get("segments", []),
                    }
                ]
            }
            self.wfile.write(f"event: {name}\ndata: {json.dumps(delta)}\n\n".encode())
            self.wfile.flush()

    return Handler


# -- features documents for tests ---------------------------------------------


def features(
    *flags: dict[str, Any], segments: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"version": 2, "features": list(flags), "segments": segments or []}


def flag(name: str, enabled: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "enabled": enabled,
        "strategies": [{"name": "default", "parameters": {}, "constraints": []}],
        **extra,
    }


CHECKOUT = features(
    flag("checkout", True),
    flag("kill-switch", False),
    flag(
        "theme",
        True,
        impressionData=True,
        variants=[
            {
                "name": "blue",
                "weight": 1000,
                "stickiness": "default",
                "payload": {"type": "string", "value": "#00f"},
            },
        ],
    ),
)
