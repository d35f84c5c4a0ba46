"""The quickstart's demo service, deployed by the command deployer and checked over HTTP."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from relgate.deploy.command import CommandDeployer
from relgate.deploy.config import CommandDeployerSpec, HttpVerifySpec
from relgate.deploy.verify import HttpVerifier
from tests.integration.deploy.processes import REQUEST, is_running, kill_if_running

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo-service"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Demo:
    def __init__(self, demo_dir: Path) -> None:
        self.dir = demo_dir
        self.port = free_port()
        self.started: list[int] = []
        self.deployer = CommandDeployer(
            CommandDeployerSpec(
                type="command",
                command="./deploy.sh",
                timeout_seconds=30,
                env={
                    "RELGATE_DEMO_DIR": str(demo_dir),
                    "PORT": str(self.port),
                    "PYTHON": sys.executable,
                },
            ),
            base_dir=DEMO,
        )

    def verifier(self, path: str, **settings: object) -> HttpVerifier:
        spec = HttpVerifySpec.model_validate(
            {
                "type": "http",
                "url": f"http://127.0.0.1:{self.port}{path}",
                "interval_seconds": 0.05,
                **settings,
            }
        )
        return HttpVerifier(spec)

    def pid(self) -> int:
        """The pid of the instance running now (killed at the end of the test)."""
        value = int((self.dir / f"{REQUEST.environment}.pid").read_text())
        self.started.append(value)
        return value


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    the_demo = Demo(tmp_path / "demo")
    try:
        yield the_demo
    finally:
        for pid in the_demo.started:
            kill_if_running(pid)


def test_a_deployed_demo_answers_healthy_with_its_version(demo: Demo) -> None:
    lines: list[str] = []
    deployed = demo.deployer.deploy(REQUEST, lines.append)
    pid = demo.pid()
    assert deployed.succeeded, lines
    assert is_running(pid)
    assert demo.verifier("/healthz", timeout_seconds=10).verify(REQUEST, print).succeeded
    shows_version = demo.verifier("/", expect_body_contains="{version} ({environment})")
    assert shows_version.verify(REQUEST, print).succeeded


def test_a_bad_release_deploys_but_fails_verification_and_replaces_the_old(demo: Demo) -> None:
    assert demo.deployer.deploy(REQUEST, print).succeeded
    first = demo.pid()
    bad = replace(REQUEST, version="1.5.0", artifact=REQUEST.artifact.replace("payments", "bad"))
    lines: list[str] = []
    assert demo.deployer.deploy(bad, lines.append).succeeded
    second = demo.pid()
    outcome = demo.verifier("/healthz", timeout_seconds=0.3).verify(bad, print)
    assert not is_running(first)
    assert is_running(second)
    assert any(f"stopping the previous instance (pid {first})" in line for line in lines)
    assert outcome.reason == (
        f"health check http://127.0.0.1:{demo.port}/healthz answered 500 for 0.3 s"
    )


def test_a_demo_that_cannot_start_fails_the_deployment(demo: Demo) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", demo.port))
        taken.listen()
        lines: list[str] = []
        outcome = demo.deployer.deploy(REQUEST, lines.append)
    assert outcome.reason == "deploy command exited 1"
    assert any("did not start" in line for line in lines)
    assert any("Address already in use" in line for line in lines)
