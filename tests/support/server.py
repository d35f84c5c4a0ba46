"""Run real `relgate serve` processes for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    stderr_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def admin_token(self) -> str | None:
        for line in self.stderr().splitlines():
            if line.strip().startswith("rg_"):
                return line.strip()
        return None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_server(
    workdir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 30,
    *,
    cwd: Path | None = None,
) -> ServerProcess:
    """Start `relgate serve` on a free port and wait for /healthz.

    It runs in ``cwd`` (default ``workdir``); its output goes to a file in ``workdir``.
    """
    port = free_port()
    full_env = {
        **os.environ,
        "RELGATE_PORT": str(port),
        "RELGATE_POLL_INTERVAL_SECONDS": "0.1",
        "RELGATE_WORKER_THREADS": "2",
        **(env or {}),
    }
    workdir.mkdir(parents=True, exist_ok=True)
    stderr_path = workdir / f"serve-{port}.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "relgate", "serve"],
            cwd=cwd or workdir,
            env=full_env,
            stdout=stderr,
            stderr=stderr,
        )
    server = ServerProcess(
        url=f"http://127.0.0.1:{port}",
        process=process,
        workdir=workdir,
        stderr_path=stderr_path,
        env=full_env,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"relgate serve exited {process.returncode}:\n{server.stderr()}")
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"relgate serve did not answer within {timeout} s:\n{server.stderr()}")


def wait_for(predicate: object, timeout: float = 30, interval: float = 0.1) -> object:
    """Poll ``predicate()`` until it returns a truthy value; fail after ``timeout`` seconds."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")
