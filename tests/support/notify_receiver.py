"""A real HTTP receiver of notifications on 127.0.0.1 that can fail, hang, go down and recover."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One POST the receiver answered 2xx (``accepted``) or not."""

    event_id: str
    attempt: str
    headers: dict[str, str]
    body: bytes
    at: float
    accepted: bool


class NotifyReceiver:
    """Answers POSTs by ``mode``: "ok" (200 after ``delay_seconds``), "fail" (500), "hang"
    (sleeps ``hang_seconds``, then 500).

    ``stop()`` closes the port (connections refused) and ``start()`` opens the same
    port again, so a receiver can be down for a while and come back.
    """

    def __init__(self, port: int = 0) -> None:
        self.mode = "ok"
        self.hang_seconds = 5.0
        self.delay_seconds = 0.0  # how long an "ok" answer takes
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self.overlaps = 0  # two requests of one event at the same time
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as real servers do: no 40 ms delayed-ACK stalls

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                event_id = self.headers.get("Relgate-Event-Id", "")
                with receiver._lock:
                    if receiver._in_flight[event_id]:
                        receiver.overlaps += 1
                    receiver._in_flight[event_id] += 1
                    mode = receiver.mode
                try:
                    if mode == "hang":
                        time.sleep(receiver.hang_seconds)
                    elif receiver.delay_seconds:
                        time.sleep(receiver.delay_seconds)
                    status = 200 if mode == "ok" else 500
                    with receiver._lock:
                        receiver.received.append(
                            Received(
                                event_id=event_id,
                                attempt=self.headers.get("Relgate-Delivery-Attempt", ""),
                                headers={k.lower(): v for k, v in self.headers.items()},
                                body=body,
                                at=time.time(),
                                accepted=status == 200 and mode == "ok",
                            )
                        )
                    answer = b"ok" if status == 200 else b"receiver failing"
                    try:
                        self.send_response(status)
                        self.send_header("Content-Length", str(len(answer)))
                        self.end_headers()
                        self.wfile.write(answer)
                    except OSError:
                        pass  # the client gave up (read timeout)
                finally:
                    with receiver._lock:
                        receiver._in_flight[event_id] -= 1

            def log_message(self, format: str, *args: object) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close the port and every open connection: the receiver is down for every client."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)

    def accepted(self) -> list[Received]:
        with self._lock:
            return [item for item in self.received if item.accepted]

    def accepted_ids(self) -> Counter[str]:
        return Counter(item.event_id for item in self.accepted())


@contextmanager
def notify_receiver() -> Iterator[NotifyReceiver]:
    receiver = NotifyReceiver()
    try:
        yield receiver
    finally:
        receiver.stop()
