"""A real relgate server for CLI tests, and a helper that runs the real CLI against it.

``relgate_server`` starts ``relgate serve`` as a subprocess in a temporary
folder (its SQLite relgate.db lives there) once per test session, because a
start costs seconds: tests share it, so each uses its own service and token
names (``fresh_relgate_server`` is one of a test's own, for tests that damage
it). ``run_cli`` runs ``python -m relgate`` with RELGATE_URL and RELGATE_TOKEN
set as asked; ``api`` and ``deploy`` prepare state through the REST API when a
test is not about the CLI command that would do it.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

START_TIMEOUT_SECONDS = 60.0
CLI_TIMEOUT_SECONDS = 120.0

RelgateServer = tuple[str, str, Path]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("RELGATE_")}


def start_server(
    workdir: Path, database_url: str | None = None, *, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start `relgate serve` in ``workdir``; return the process, its URL and first admin token.

    The store is relgate.db in ``workdir`` unless ``database_url`` names another;
    the audit key is beside relgate.db, or in ``workdir`` on PostgreSQL. ``env``
    adds RELGATE_* settings.
    """
    port = free_port()
    extra = env or {}
    env = _environment()
    env.update(RELGATE_WORKER_THREADS="2", RELGATE_POLL_INTERVAL_SECONDS="0.1")
    if database_url is not None:
        env["RELGATE_DATABASE_URL"] = database_url
        # not the data folder of the HOME the session started with
        env.setdefault("RELGATE_AUDIT_KEY_FILE", str(workdir / "relgate-audit-key.pem"))
    env.update(extra)
    log = workdir / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "relgate", "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"relgate serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_server(proc)
            raise RuntimeError(f"relgate serve did not answer /healthz:\n{log.read_text()}")
        time.sleep(0.05)
    found = re.search(r"\b(rg_\S+)", log.read_text())
    if found is None:
        stop_server(proc)
        raise RuntimeError(f"relgate serve printed no admin token:\n{log.read_text()}")
    return proc, url, found.group(1)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server, and kill it when it does not stop in time."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def relgate_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RelgateServer]:
    """A running relgate server shared by the session: (url, admin token, its folder).

    Every test using it runs twice: against a server on SQLite and one on PostgreSQL.
    """
    from tests.support.databases import fresh_postgres_database

    workdir = tmp_path_factory.mktemp(f"relgate-server-{request.param}")
    with contextlib.ExitStack() as stack:
        database_url = None
        if request.param == "postgres":
            database_url = stack.enter_context(fresh_postgres_database("relgate_e2e"))
        proc, url, token = start_server(workdir, database_url)
        try:
            yield url, token, workdir
        finally:
            stop_server(proc)


@pytest.fixture
def fresh_relgate_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelgateServer]:
    """A relgate server of this test alone: (url, admin token, its folder holding relgate.db)."""
    workdir = tmp_path_factory.mktemp("relgate-server")
    proc, url, token = start_server(workdir)
    try:
        yield url, token, workdir
    finally:
        stop_server(proc)


def api(
    server: RelgateServer, method: str, path: str, *, token: str | None = None, **kw: Any
) -> Any:
    """Call the REST API (as admin unless ``token``); return the JSON, fail on an error answer."""
    url, admin, _ = server
    response = httpx.request(
        method, url + path, headers={"Authorization": f"Bearer {token or admin}"}, timeout=30, **kw
    )
    assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def deploy(server: RelgateServer, token: str, service: str, version: str, environment: str) -> Any:
    """Promote through the API and wait until the deployment ends; return its final view."""
    body = {"service": service, "version": version, "environment": environment}
    deployment = api(server, "POST", "/api/v1/deployments", token=token, json=body)
    deadline = time.monotonic() + 60
    while deployment["state"] not in ("succeeded", "failed", "rejected", "cancelled"):
        assert time.monotonic() < deadline, f"deployment still {deployment['state']}"
        time.sleep(0.05)
        deployment = api(server, "GET", f"/api/v1/deployments/{deployment['id']}", token=token)
    return deployment


def cli_env(*, token: str | None = None, url: str | None = None) -> dict[str, str]:
    """Return the environment `run_cli` gives the CLI: the test's, RELGATE_URL/TOKEN as asked."""
    env = _environment()
    if url is not None:
        env["RELGATE_URL"] = url
    if token is not None:
        env["RELGATE_TOKEN"] = token
    return env


def run_cli(
    *args: str,
    token: str | None = None,
    url: str | None = None,
    cwd: Path | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m relgate ARGS` with RELGATE_URL/RELGATE_TOKEN set when given."""
    return subprocess.run(
        [sys.executable, "-m", "relgate", *args],
        env=cli_env(token=token, url=url),
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
