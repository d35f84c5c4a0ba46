"""Start instances of the demo service (examples/demo-service/app.py) on 127.0.0.1.

``start_demo(tmp_path, version="1.2.0", ERROR_RATE="0.05")`` runs one instance
on a free port and waits until it answers; ``stop()`` ends it (the test's own
process only).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.server import free_port, wait_for

APP = Path(__file__).resolve().parents[2] / "examples" / "demo-service" / "app.py"


@dataclass
class DemoInstance:
    version: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_demo(workdir: Path, version: str, **settings: str) -> DemoInstance:
    """Start one demo instance of ``version`` with ``settings`` (ERROR_RATE, LATENCY_MS, ...)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"demo-{version}-{port}.log"
    env = {**os.environ, "PORT": str(port), "VERSION": version, **settings}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(APP)], env=env, stdout=out, stderr=out, cwd=workdir
        )
    instance = DemoInstance(version=version, port=port, process=process, log=log)
    try:
        wait_for(lambda: process.poll() is not None or _answers(instance.url + "/healthz"), 20)
    except AssertionError:
        instance.stop()
        raise
    if process.poll() is not None:
        raise RuntimeError(f"the demo service exited {process.returncode}: {log.read_text()}")
    return instance
