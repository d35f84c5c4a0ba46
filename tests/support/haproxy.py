"""A real HAProxy (Debian's ``haproxy``) in front of real demo-service instances, on 127.0.0.1.

For the routing tests and bench/routing.py: :class:`DemoInstance` runs
examples/demo-service/app.py with a VERSION on a free port; :class:`HAProxy`
writes a haproxy.cfg (a frontend on a free port, one backend ``app`` whose
servers are the instances, health-checked on ``/healthz``, and the runtime API
on a unix socket in the temp folder and on a TCP port, both ``level admin``),
runs ``haproxy -f CFG -db`` in the foreground (never the system service) and
stops it afterwards. :class:`Client` sends requests through it on one
keep-alive connection and tells which version answered.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

DEMO_APP = Path(__file__).resolve().parents[2] / "examples" / "demo-service" / "app.py"
START_LIMIT_SECONDS = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def haproxy_program() -> str | None:
    """The haproxy binary (``make system-deps`` installs Debian's), or None."""
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)),
        None,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class DemoInstance:
    """One demo-service process answering ``/`` with ``demo-service VERSION (...)``."""

    def __init__(self, version: str, folder: Path) -> None:
        self.version = version
        self.port = free_port()
        pid_file = folder / f"demo-{version}-{self.port}.pid"
        log = (folder / f"demo-{version}-{self.port}.log").open("wb")
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "VERSION": version,
            "PORT": str(self.port),
            "PID_FILE": str(pid_file),
            "ENVIRONMENT": "production",
        }
        self.process = subprocess.Popen(
            [sys.executable, str(DEMO_APP)], env=env, stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + START_LIMIT_SECONDS
        while not pid_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"demo-service {version} did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        _stop(self.process)


def haproxy_cfg(
    *, frontend_port: int, socket_path: Path, api_port: int, servers: Mapping[str, int]
) -> str:
    """A haproxy.cfg routing 127.0.0.1:frontend_port to ``servers`` (name -> port)."""
    lines = [
        "global",
        f"    stats socket {socket_path} mode 600 level admin",
        f"    stats socket ipv4@127.0.0.1:{api_port} level admin",
        "    stats timeout 10s",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    retries 3",
        "    option redispatch",
        "",
        "frontend web",
        f"    bind 127.0.0.1:{frontend_port}",
        "    default_backend app",
        "",
        "backend app",
        "    balance roundrobin",
        "    option httpchk GET /healthz",
    ]
    first = True
    for name, port in servers.items():
        # the first server takes everything at the start, the others wait at weight 0
        weight = 100 if first else 0
        lines.append(f"    server {name} 127.0.0.1:{port} weight {weight} check inter 1s")
        first = False
    return "\n".join(lines) + "\n"


class HAProxy:
    """``haproxy -f CFG -db`` in the foreground, its runtime API in ``folder``."""

    def __init__(self, folder: Path, servers: Mapping[str, int]) -> None:
        program = haproxy_program()
        if program is None:
            raise RuntimeError("haproxy is not installed: run `make system-deps`")
        self.folder = folder
        self.port = free_port()
        self.api_port = free_port()
        self.socket = folder / "admin.sock"
        self.cfg = folder / "haproxy.cfg"
        self.cfg.write_text(
            haproxy_cfg(
                frontend_port=self.port,
                socket_path=self.socket,
                api_port=self.api_port,
                servers=servers,
            )
        )
        checked = subprocess.run(
            [program, "-c", "-q", "-f", str(self.cfg)], capture_output=True, text=True
        )
        if checked.returncode != 0:
            raise RuntimeError(f"haproxy refused {self.cfg}: {checked.stderr or checked.stdout}")
        self.log_path = folder / "haproxy.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [program, "-f", str(self.cfg), "-db"], stdout=log, stderr=log, cwd=folder
        )
        log.close()
        deadline = time.monotonic() + START_LIMIT_SECONDS
        while not (self.socket.exists() and _listens(self.port)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"haproxy did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.02)

    def command(self, line: str) -> str:
        """Send one raw line to the runtime API (as another operator would); return the answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stop(self) -> None:
        _stop(self.process)


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


class Client:
    """Requests through HAProxy on one keep-alive connection (reopened when it closes)."""

    def __init__(self, port: int, timeout: float = 10) -> None:
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self.retries = 0
        """Requests sent again on a new connection after a kept-alive one was found closed."""

    def version(self) -> str:
        """The version that answered ``GET /``; raises OSError or http.client errors."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, self.timeout)
            try:
                self._conn.request("GET", "/")
                response = self._conn.getresponse()
                body = response.read().decode()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # a kept-alive connection the proxy closed between two requests: not a loss
                self.close()
                if attempt == 2:
                    raise
                self.retries += 1
                continue
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {body[:200]}")
            return body.split()[1]
        raise AssertionError("unreachable")

    def versions(self, count: int) -> Counter[str]:
        return Counter(self.version() for _ in range(count))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
