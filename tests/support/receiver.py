"""A real HTTP server on 127.0.0.1 that records POSTed bodies and serves a file on GET."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Receiver:
    """Answers POSTs with the scripted statuses (the last one forever); serves ``serve`` on GET."""

    def __init__(self, statuses: list[int] | None = None, serve: Path | None = None) -> None:
        self.statuses = statuses or [200]
        self.bodies: list[bytes] = []
        self.attempts = 0
        self.serve = serve
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.attempts += 1
                statuses = receiver.statuses
                status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                if status < 300:
                    receiver.bodies.append(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                if receiver.serve is None or not receiver.serve.exists():
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = receiver.serve.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@contextmanager
def receiver(statuses: list[int] | None = None, serve: Path | None = None) -> Iterator[Receiver]:
    """Run a Receiver in a thread for the block."""
    running = Receiver(statuses, serve)
    thread = threading.Thread(
        target=running.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield running
    finally:
        running.httpd.shutdown()
        running.httpd.server_close()
        thread.join(5)
