"""Run a real Prometheus (Debian's ``prometheus``) on 127.0.0.1 for a test.

``start_prometheus(tmp_path, {"stable": "127.0.0.1:8801", ...})`` writes a
config scraping those targets every ``scrape_interval``, starts the binary on a
free port with its storage in ``tmp_path``, and waits for ``/-/ready``. Never
the system service: the test's own process, stopped by ``stop()``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port, wait_for


@dataclass
class PrometheusProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def targets_up(self) -> int:
        """How many scrape targets Prometheus reads as up."""
        answer = httpx.get(f"{self.url}/api/v1/targets", timeout=5).json()
        return sum(1 for t in answer["data"]["activeTargets"] if t["health"] == "up")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_prometheus(
    workdir: Path, targets: Mapping[str, str], scrape_interval: str = "1s"
) -> PrometheusProcess:
    """Start Prometheus scraping ``targets`` (name -> host:port).

    Fails the test (never skips it) when Debian's prometheus is not installed.
    """
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run `make system-deps` as root")
    workdir.mkdir(parents=True, exist_ok=True)
    jobs = "\n".join(
        f"  - job_name: {name}\n    static_configs:\n      - targets: ['{target}']"
        for name, target in targets.items()
    )
    config = workdir / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {scrape_interval}\n"
        f"  evaluation_interval: {scrape_interval}\nscrape_configs:\n{jobs}\n"
    )
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=out,
            cwd=workdir,
        )
    server = PrometheusProcess(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        wait_for(lambda: process.poll() is not None or _ready(server.url), 60)
    except AssertionError:
        server.stop()
        raise
    if process.poll() is not None:
        raise RuntimeError(f"prometheus exited {process.returncode}: {log.read_text()}")
    return server
