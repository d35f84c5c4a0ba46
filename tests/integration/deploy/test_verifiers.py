"""The HTTP and command verifiers, against a real HTTP server and real scripts."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from relgate.deploy.config import CommandVerifySpec, HttpVerifySpec
from relgate.deploy.factory import build_verifier
from relgate.deploy.ports import StepOutcome
from relgate.deploy.verify import CommandVerifier, HttpVerifier
from tests.integration.deploy.processes import REQUEST, write_script


class HealthServer:
    """An HTTP server on 127.0.0.1 answering scripted (status, body) pairs, the last one forever."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, str]] = [(200, "ok")]
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                status, body = (
                    server.answers.pop(0) if len(server.answers) > 1 else server.answers[0]
                )
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def url(self, path: str = "/healthz") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[HealthServer]:
    health = HealthServer()
    health.thread.start()
    try:
        yield health
    finally:
        health.httpd.shutdown()
        health.httpd.server_close()
        health.thread.join()


def http_verifier(url: str, **settings: object) -> HttpVerifier:
    spec = HttpVerifySpec.model_validate(
        {"type": "http", "url": url, "interval_seconds": 0.02, **settings}
    )
    return HttpVerifier(spec)


def test_a_service_that_becomes_healthy_passes_after_its_503s(server: HealthServer) -> None:
    server.answers = [(503, "starting"), (503, "starting"), (503, "starting"), (200, "ok")]
    lines: list[str] = []
    outcome = http_verifier(server.url(), timeout_seconds=10).verify(REQUEST, lines.append)
    assert outcome == StepOutcome(True, f"health check {server.url()} answered 200")
    assert len(server.paths) == 4
    assert lines == [
        f"health check 1: GET {server.url()} answered 503",
        f"health check 2: GET {server.url()} answered 503",
        f"health check 3: GET {server.url()} answered 503",
        f"health check 4: GET {server.url()} answered 200",
    ]


def test_a_service_that_always_fails_fails_at_the_timeout(server: HealthServer) -> None:
    server.answers = [(500, "broken")]
    lines: list[str] = []
    outcome = http_verifier(server.url(), timeout_seconds=0.3).verify(REQUEST, lines.append)
    assert outcome == StepOutcome(False, f"health check {server.url()} answered 500 for 0.3 s")
    assert lines
    assert all(line.endswith("answered 500") for line in lines)


def test_consecutive_successes_must_come_in_a_row(server: HealthServer) -> None:
    server.answers = [(200, ""), (503, ""), (200, ""), (200, ""), (200, "")]
    outcome = http_verifier(server.url(), consecutive_successes=3, timeout_seconds=10).verify(
        REQUEST, print
    )
    assert outcome.succeeded
    assert len(server.paths) == 5


def test_too_few_successes_in_a_row_before_the_timeout_are_named(server: HealthServer) -> None:
    # the pause between attempts outlasts the timeout: exactly one attempt is made
    verifier = http_verifier(
        server.url(), consecutive_successes=3, timeout_seconds=0.3, interval_seconds=30
    )
    outcome = verifier.verify(REQUEST, print)
    assert outcome == StepOutcome(
        False,
        f"health check {server.url()} answered 200 only 1 of 3 times in a row within 0.3 s",
    )


def test_the_body_must_contain_the_new_version(server: HealthServer) -> None:
    server.answers = [(200, "payments 1.3.9"), (200, "payments 1.4.0")]
    lines: list[str] = []
    outcome = http_verifier(
        server.url(), expect_body_contains="{service} {version}", timeout_seconds=10
    ).verify(REQUEST, lines.append)
    assert outcome.succeeded
    assert lines[0].endswith("answered 200 without 'payments 1.4.0' in its body")


def test_a_body_that_never_matches_is_the_reason(server: HealthServer) -> None:
    server.answers = [(200, "payments 1.3.9")]
    outcome = http_verifier(
        server.url(), expect_body_contains="{version}", timeout_seconds=0.2
    ).verify(REQUEST, print)
    assert outcome == StepOutcome(
        False, f"health check {server.url()} answered 200 without '1.4.0' in its body for 0.2 s"
    )


def test_an_expected_status_other_than_200(server: HealthServer) -> None:
    server.answers = [(200, ""), (204, "")]
    outcome = http_verifier(server.url(), expect_status=204, timeout_seconds=10).verify(
        REQUEST, print
    )
    assert outcome.succeeded
    assert len(server.paths) == 2


def test_placeholders_in_the_url_are_replaced(server: HealthServer) -> None:
    outcome = http_verifier(server.url("/{environment}/healthz")).verify(REQUEST, print)
    assert outcome.succeeded
    assert server.paths == ["/staging/healthz"]


def test_a_service_that_is_not_listening_cannot_be_reached() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/healthz"
    outcome = http_verifier(url, timeout_seconds=0.2).verify(REQUEST, print)
    assert not outcome.succeeded
    assert outcome.reason.startswith(f"health check {url} could not be reached (")
    assert outcome.reason.endswith(") for 0.2 s")


def test_a_service_that_never_answers_times_out_each_attempt() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/healthz"
        outcome = http_verifier(url, timeout_seconds=0.3, request_timeout_seconds=0.1).verify(
            REQUEST, print
        )
    assert outcome == StepOutcome(
        False, f"health check {url} gave no answer within 0.1 s for 0.3 s"
    )


def test_cancelling_stops_the_polling(server: HealthServer) -> None:
    server.answers = [(503, "")]
    cancel = threading.Event()
    outcome = http_verifier(server.url(), timeout_seconds=30).verify(
        REQUEST, lambda line: cancel.set(), cancel=cancel
    )
    assert outcome == StepOutcome(False, "cancelled")
    assert len(server.paths) == 1


def command_verifier(tmp_path: Path, command: str, **settings: object) -> CommandVerifier:
    spec = CommandVerifySpec.model_validate({"type": "command", "command": command, **settings})
    return CommandVerifier(spec, base_dir=tmp_path)


def test_a_smoke_script_that_exits_0_verifies(tmp_path: Path) -> None:
    write_script(tmp_path / "smoke.sh", 'echo "smoke testing $RELGATE_VERSION in $SITE"\n')
    lines: list[str] = []
    outcome = command_verifier(tmp_path, "./smoke.sh", env={"SITE": "eu"}).verify(
        REQUEST, lines.append
    )
    assert outcome == StepOutcome(True, "verify command exited 0", 0)
    assert lines == ["smoke testing 1.4.0 in eu"]


def test_a_failing_smoke_script_fails_verification(tmp_path: Path) -> None:
    write_script(tmp_path / "smoke.sh", "exit 1\n")
    outcome = command_verifier(tmp_path, "./smoke.sh").verify(REQUEST, print)
    assert outcome == StepOutcome(False, "verify command exited 1", 1)


def test_a_slow_smoke_script_times_out(tmp_path: Path) -> None:
    write_script(tmp_path / "smoke.sh", "sleep 60\n")
    outcome = command_verifier(
        tmp_path, "./smoke.sh", timeout_seconds=0.3, kill_grace_seconds=1
    ).verify(REQUEST, print)
    assert outcome == StepOutcome(False, "verify command timed out after 0.3 s")


def test_no_verify_section_builds_no_verifier(tmp_path: Path) -> None:
    assert build_verifier(None, base_dir=tmp_path) is None


def test_the_factory_builds_the_verifier_of_each_type(tmp_path: Path) -> None:
    http = HttpVerifySpec(type="http", url="http://127.0.0.1/healthz")
    command = CommandVerifySpec(type="command", command="./smoke.sh")
    assert isinstance(build_verifier(http, base_dir=tmp_path), HttpVerifier)
    assert isinstance(build_verifier(command, base_dir=tmp_path), CommandVerifier)
