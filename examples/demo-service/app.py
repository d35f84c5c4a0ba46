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
"""

from __future__ import annotations

import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

VERSION = os.environ.get("VERSION", "0.0.0")
ARTIFACT = os.environ.get("ARTIFACT", "")
ENVIRONMENT = os.environ.get("ENVIRONMENT", "local")
FAULTS = os.environ.get("FAULTS", "")


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


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            status, body = (500, "unhealthy: this release is broken\n") if BROKEN else (200, "ok\n")
        elif self.path == "/":
            status, body = 200, f"demo-service {VERSION} ({ENVIRONMENT})\n{ARTIFACT}\n"
        else:
            status, body = 404, "not found\n"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main() -> None:
    port = int(os.environ.get("PORT", "8800"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)

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
