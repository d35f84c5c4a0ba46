"""A real relgate server with some data in it, and tokens of every role, for the API tests.

``api_server`` runs once per module on SQLite and on PostgreSQL; ``seeded`` gives
it a service with a command-deployed pipeline (dev, then production behind an
approval, deployed by a registered deployer), two releases, a finished
deployment in dev and a flag, and tokens named ``admin``, ``ci``, ``approver``
and ``client`` and ``frontend`` (for dev).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.control.conftest import RelgateServer, api, deploy, start_server, stop_server

SERVICE = "shop"
DIGESTS = {"1.0.0": "sha256:" + "1" * 64, "1.1.0": "sha256:" + "2" * 64}
PIPELINE = f"""\
service: {SERVICE}
environments:
  - name: dev
    deployer:
      type: command
      command: 'echo "deploying $RELGATE_VERSION with a secret-looking line"'
  - name: production
    gates:
      - type: verified_in
      - type: approval
    deployer: {{ref: shop-production}}
"""


@dataclass(frozen=True)
class Seeded:
    server: RelgateServer
    tokens: dict[str, str]
    deployment_id: int

    @property
    def url(self) -> str:
        return self.server[0]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _server(workdir: Path, database: str) -> Iterator[RelgateServer]:
    from tests.support.databases import fresh_postgres_database

    with contextlib.ExitStack() as stack:
        database_url = None
        if database == "postgres":
            database_url = stack.enter_context(fresh_postgres_database("relgate_api"))
        proc, url, token = start_server(workdir, database_url)
        try:
            yield url, token, workdir
        finally:
            stop_server(proc)


def seed(server: RelgateServer) -> Seeded:
    """Fill ``server`` with the service, releases, deployment, flag and tokens described above."""
    tokens = {"admin": server[1]}
    for name, role, environment in (
        ("ci", "ci", None),
        ("approver", "approver", None),
        ("client", "client", "dev"),
        ("frontend", "frontend", "dev"),
    ):
        body: dict[str, Any] = {"name": name, "role": role, "environment": environment}
        tokens[name] = api(server, "POST", "/api/v1/tokens", json=body)["token"]
    # production is protected: it deploys with a deployer an admin registered
    registered = {"name": "shop-production", "command": 'echo "$RELGATE_VERSION"'}
    api(server, "POST", "/api/v1/deployers", json=registered)
    api(server, "POST", "/api/v1/pipelines", token=tokens["ci"], json={"source": PIPELINE})
    for version, digest in DIGESTS.items():
        release = {
            "service": SERVICE,
            "version": version,
            "artifact": f"registry.example.com/{SERVICE}@{digest}",
            "author": "someone-else",
        }
        api(server, "POST", "/api/v1/releases", token=tokens["ci"], json=release)
    deployment = deploy(server, tokens["ci"], SERVICE, "1.0.0", "dev")
    api(server, "POST", "/api/v1/flags", json={"key": "new-checkout"})
    api(server, "POST", "/api/v1/flags/new-checkout/environments/dev/enable")
    return Seeded(server=server, tokens=tokens, deployment_id=int(deployment["id"]))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    """A seeded server of this module, on SQLite and on PostgreSQL."""
    workdir = tmp_path_factory.mktemp(f"relgate-api-{request.param}")
    for server in _server(workdir, request.param):
        yield seed(server)


def raw_request(url: str, head: str, body_chunks: Iterable[bytes] = ()) -> tuple[int, bytes, int]:
    """Send ``head`` (request line and headers) and then ``body_chunks`` over a plain socket.

    Stops sending as soon as the server answers or closes; returns the status,
    the response's body and how many body bytes were sent by then.
    """
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        sock.setblocking(False)
        answer = b""
        for chunk in body_chunks:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            sock.setblocking(True)
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sock.setblocking(False)
            sent += len(chunk)
        sock.setblocking(True)
        with contextlib.suppress(ConnectionResetError):
            while b"\r\n\r\n" not in answer or not _complete(answer):
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
    head_bytes, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    return status, body, sent


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def client(seeded_: Seeded, role: str) -> httpx.Client:
    """Return an HTTP client of ``seeded_``'s server with the token of ``role``."""
    return httpx.Client(base_url=seeded_.url, headers=seeded_.headers(role), timeout=60)
