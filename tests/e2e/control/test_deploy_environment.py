"""What a deploy command sees when a real server runs it: the deployment, never the server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, start_server

PIPELINE = """\
service: envdump
environments:
  - name: dev
    protected: false  # the last environment; protected ones use registered deployers
    deployer:
      type: command
      command: env
      env_allow: [ALLOWED_SERVER_VAR]
      secrets: {DEPLOY_TOKEN: the-deploy-token}
    verify:
      type: command
      command: env
      env_allow: [ALLOWED_SERVER_VAR]
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server started with its database URL and planted secrets in its environment."""
    process = start_server(
        tmp_path,
        env={
            "RELGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'planted.db'}",
            "RELGATE_TEST_SECRET_SERVER_VAR": "relgate-secret-value",
            "SOME_SERVER_SECRET": "server-secret-value",
            "ALLOWED_SERVER_VAR": "allowed-value",
        },
    )
    try:
        yield process
    finally:
        process.stop()


def _call(server: ServerProcess, method: str, path: str, **kw: object) -> httpx.Response:
    token = server.admin_token()
    assert token is not None, server.stderr()
    response = httpx.request(
        method,
        server.url + path,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **kw,  # type: ignore[arg-type]
    )
    assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
    return response


def test_a_deploy_and_verify_command_see_neither_the_database_url_nor_server_variables(
    server: ServerProcess,
) -> None:
    _call(server, "POST", "/api/v1/pipelines", json={"source": PIPELINE})
    release = {
        "service": "envdump",
        "version": "1.0.0",
        "artifact": "registry.example.com/envdump@sha256:" + "e" * 64,
        "author": "alice",
    }
    _call(server, "POST", "/api/v1/releases", json=release)
    body = {"service": "envdump", "version": "1.0.0", "environment": "dev"}
    deployment = _call(server, "POST", "/api/v1/deployments", json=body).json()
    deadline = time.monotonic() + 60
    while deployment["state"] not in ("succeeded", "failed", "rejected", "cancelled"):
        assert time.monotonic() < deadline, f"deployment still {deployment['state']}"
        time.sleep(0.1)
        deployment = _call(server, "GET", f"/api/v1/deployments/{deployment['id']}").json()
    log = _call(server, "GET", f"/api/v1/deployments/{deployment['id']}/log").text

    assert deployment["state"] == "succeeded", log
    assert "RELGATE_DATABASE_URL" not in log
    assert "planted.db" not in log
    assert "RELGATE_TEST_SECRET_SERVER_VAR" not in log
    assert "relgate-secret-value" not in log
    assert "SOME_SERVER_SECRET" not in log
    assert "server-secret-value" not in log
    assert "RELGATE_POLL_INTERVAL_SECONDS" not in log
    # both the deploy and the verify command printed the allowed variable
    assert log.count("ALLOWED_SERVER_VAR=allowed-value") == 2
    assert log.count("DEPLOY_TOKEN=the-deploy-token") == 1
    assert "RELGATE_VERSION=1.0.0" in log
    assert "RELGATE_SERVICE=envdump" in log


def test_a_pipeline_naming_the_database_url_in_env_allow_is_refused(
    server: ServerProcess,
) -> None:
    source = PIPELINE.replace("[ALLOWED_SERVER_VAR]", "[RELGATE_DATABASE_URL]", 1)
    token = server.admin_token()
    response = httpx.post(
        server.url + "/api/v1/pipelines",
        headers={"Authorization": f"Bearer {token}"},
        json={"source": source},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert "RELGATE_DATABASE_URL cannot be passed" in response.text
