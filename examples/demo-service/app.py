"""A tiny local "service" for the relgate quickstart.

It answers ``/`` with the version it runs and ``/healthz`` with 200, or with
500 when the release is "bad": a version or artifact containing ``bad``,
``BROKEN=1`` in its environment, or a line "<environment> <version>" in the
file named by FAULTS (a bug that shows only under one environment's traffic).
That is how the quickstart shows a failed verification and the automatic
rollback to the stable release.

Settings come from the environment: VERSION, ARTIFACT, ENVIRONMENT, PORT
(default 8800), BROKEN, and PID_FILE, written once the port is listening so
that deploy.sh knows the service is up.

For canary analysis (docs/analysis.md) it serves ``/metrics`` in the Prometheus
text format: ``http_requests_total{service,version,code}`` and the histogram
``http_request_duration_seconds{service,version}`` of the requests to ``/``
(``/healthz`` and ``/metrics`` are not counted). ERROR_RATE (e.g. 0.05) makes
that share of ``/`` requests answer 500, spread evenly (request n fails when
floor(n * rate) grows, so 20 requests at 0.05 hold exactly one 500);
LATENCY_MS delays each ``/`` answer; SERVICE names the service (demo-service).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

VERSION = os.environ.get("VERSION", "0.0.0")
ARTIFACT = os.environ.get("ARTIFACT", "")
ENVIRONMENT = os.environ.get("ENVIRONMENT", "local")
FAULTS = os.environ.get("FAULTS", "")
SERVICE = os.environ.get("SERVICE", "demo-service")
ERROR_RATE = min(max(float(os.environ.get("ERROR_RATE") or 0), 0.0), 1.0)
LATENCY_MS = max(float(os.environ.get("LATENCY_MS") or 0), 0.0)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _faulty_here() -> bool:
    try:
        lines = Path(FAULTS).read_text(encoding="utf-8").splitlines() if FAULTS else []
    except OSError:
        return False
    return f"{ENVIRONMENT} {VERSION}" in (line.strip() for line in lines)


BROKEN = (
    os.environ.get("BROKEN") == "1"
    or "bad" in VERSION.lower()
    or "bad" in ARTIFACT.lower()
    or _faulty_here()
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """The counters and the histogram of ``/metrics``, shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # 200 and 500 exist from the start, so that the first 500 is an increase
        self.requests: dict[int, int] = {200: 0, 500: 0}
        self.served = 0
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.sum = 0.0

    def next_fails(self) -> bool:
        """Whether the next ``/`` request is one of the ERROR_RATE share that answers 500."""
        with self.lock:
            self.served += 1
            n = self.served
        return int(n * ERROR_RATE) > int((n - 1) * ERROR_RATE)

    def observe(self, code: int, seconds: float) -> None:
        with self.lock:
            self.requests[code] = self.requests.get(code, 0) + 1
            self.count += 1
            self.sum += seconds
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.buckets[index] += 1

    def text(self) -> str:
        labels = f'service="{_label(SERVICE)}",version="{_label(VERSION)}"'
        with self.lock:
            lines = [
                "# HELP http_requests_total Requests to / answered, by status code.",
                "# TYPE http_requests_total counter",
                *(
                    f'http_requests_total{{{labels},code="{code}"}} {count}'
                    for code, count in sorted(self.requests.items())
                ),
                "# HELP http_request_duration_seconds How long requests to / took.",
                "# TYPE http_request_duration_seconds histogram",
                *(
                    f'http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {count}'
                    for bound, count in zip(BUCKETS, self.buckets, strict=True)
                ),
                f'http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {self.count}',
                f"http_request_duration_seconds_sum{{{labels}}} {self.sum}",
                f"http_request_duration_seconds_count{{{labels}}} {self.count}",
            ]
        return "\n".join(lines) + "\n"


METRICS = Metrics()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        content_type = "text/plain; charset=utf-8"
        if self.path == "/healthz":
            status, body = (500, "unhealthy: this release is broken\n") if BROKEN else (200, "ok\n")
        elif self.path == "/metrics":
            status, body = 200, METRICS.text()
            content_type = "text/plain; version=0.0.4; charset=utf-8"
        elif self.path == "/":
            started = time.monotonic()
            if LATENCY_MS:
                time.sleep(LATENCY_MS / 1000)
            if METRICS.next_fails():
                status, body = 500, f"demo-service {VERSION}: an injected error (ERROR_RATE)\n"
            else:
                status, body = 200, f"demo-service {VERSION} ({ENVIRONMENT})\n{ARTIFACT}\n"
            METRICS.observe(status, time.monotonic() - started)
        else:
            status, body = 404, "not found\n"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


class Server(ThreadingHTTPServer):
    # the socketserver default backlog of 5 drops connections under a few concurrent
    # clients (the kernel retries them a second later): a canary's share would look slow
    request_queue_size = 128
    daemon_threads = True


def main() -> None:
    port = int(os.environ.get("PORT", "8800"))
    server = Server(("127.0.0.1", port), Handler)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    pid_file = os.environ.get("PID_FILE")
    if pid_file:
        # written only now that the port listens: deploy.sh waits for it
        Path(pid_file).write_text(f"{os.getpid()}\n", encoding="utf-8")
    print(f"demo-service {VERSION} listening on 127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
