"""The CLI's HTTP client: error answers become relgate errors with their exit codes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from relgate.cli.client import Client, GateRefused
from relgate.errors import BadInput, ExternalError, NotFound
from tests.e2e.control.conftest import RelgateServer, api, run_cli


class _Broken(BaseHTTPRequestHandler):
    """Answers /fail with a 503 page and anything else with a 200 that is not JSON."""

    def do_GET(self) -> None:
        status = 503 if self.path.startswith("/fail") else 200
        body = b"<html>proxy error</html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def broken_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_unknown_route_is_not_found_naming_the_request(relgate_server: RelgateServer) -> None:
    url, admin, _ = relgate_server
    with Client(url, admin) as client, pytest.raises(NotFound) as raised:
        client.get("/api/v1/no-such-thing")

    assert raised.value.message == "GET /api/v1/no-such-thing: Not Found"
    assert raised.value.exit_code == 2


def test_a_refused_promotion_keeps_the_gates(relgate_server: RelgateServer) -> None:
    url, admin, _ = relgate_server
    source = (
        "service: gated\nenvironments:\n  - name: dev\n    deployer: {type: record}\n"
        "    gates:\n      - type: tests_passed\n"
    )
    api(relgate_server, "POST", "/api/v1/pipelines", json={"source": source})
    artifact = "registry.example.com/gated@sha256:" + "c" * 64
    api(
        relgate_server,
        "POST",
        "/api/v1/releases",
        json={"service": "gated", "version": "0.1.0", "artifact": artifact},
    )
    body = {"service": "gated", "version": "0.1.0", "environment": "dev"}

    with Client(url, admin) as client, pytest.raises(GateRefused) as raised:
        client.post("/api/v1/deployments", json=body)

    assert raised.value.exit_code == 1
    assert [(g["gate"], g["status"]) for g in raised.value.gates] == [("tests_passed", "missing")]


def test_a_server_error_page_is_an_external_error(broken_server: str) -> None:
    with Client(broken_server, "rg_x") as client, pytest.raises(ExternalError) as raised:
        client.get("/fail")

    assert "GET /fail: HTTP 503" in raised.value.message


def test_an_answer_that_is_not_json_says_the_url_may_be_wrong(broken_server: str) -> None:
    proc = run_cli("status", url=broken_server, token="rg_x")

    assert proc.returncode == 1
    assert "not JSON" in proc.stderr
    assert "RELGATE_URL" in proc.stderr


def test_a_url_that_is_not_http_is_bad_input() -> None:
    with pytest.raises(BadInput, match="not an http"):
        Client("ftp://example.com", "rg_x")
