"""The features fast path (raw ASGI in front of FastAPI) on a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from relgate.api.app import create_app
from relgate.api.routes.unleash import install_fast_path
from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.store import db
from tests.support.server import free_port, wait_for

ADMIN = Principal("tester", Role.ADMIN)
URL_PATH = "/api/client/features"


@dataclass
class Running:
    url: str
    services: Services
    client_token: str
    admin_token: str

    def get(self, token: str, **headers: str) -> httpx.Response:
        return httpx.get(
            self.url + URL_PATH, headers={"Authorization": token, **headers}, timeout=10
        )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    url = f"sqlite:///{tmp_path / 'relgate.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    services = build(Settings(database_url=url))
    _, client = services.tokens.create("sdk", "client", "tester", environment="production")
    _, admin = services.tokens.create("boss", "admin", "tester")
    services.flags.create(ADMIN, "fast-flag")
    services.flags.enable(ADMIN, "fast-flag", "production")
    app = create_app(services, start_workers=False)
    install_fast_path(app)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10, interval=0.02)
    try:
        yield Running(f"http://127.0.0.1:{port}", services, client, admin)
    finally:
        server.should_exit = True
        thread.join(10)
        services.uow.engine.dispose()


def test_the_fast_path_answers_as_the_documented_route(running: Running) -> None:
    first = running.get(running.client_token)  # fills the caches through the route
    second = running.get(running.client_token)  # answered from memory

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Content-Type"] == "application/json"
    assert [f["name"] for f in second.json()["features"]] == ["fast-flag"]


def test_the_fast_path_answers_304_and_gzip(running: Running) -> None:
    etag = running.get(running.client_token).headers["ETag"]

    not_modified = running.get(running.client_token, **{"If-None-Match": etag})
    with httpx.stream(
        "GET",
        running.url + URL_PATH,
        headers={"Authorization": running.client_token, "Accept-Encoding": "gzip"},
    ) as zipped:
        encoding = zipped.headers["Content-Encoding"]
        zipped.read()

    assert not_modified.status_code == 304
    assert not_modified.headers["ETag"] == etag
    assert encoding == "gzip"
    assert zipped.json()["features"][0]["name"] == "fast-flag"


def test_the_fast_path_leaves_errors_to_the_route(running: Running) -> None:
    running.get(running.client_token)
    for _ in range(2):  # the second call finds the admin principal cached
        forbidden = running.get(running.admin_token)
        assert forbidden.status_code == 403
        assert "role client" in forbidden.json()["error"]["message"]
    assert running.get("rg_unknown").status_code == 401


def test_a_change_in_the_process_reaches_the_fast_path_at_once(running: Running) -> None:
    etag = running.get(running.client_token).headers["ETag"]

    running.services.flags.disable(ADMIN, "fast-flag", "production")

    # same process: the service's change listener reset the revision cache
    response = running.get(running.client_token, **{"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["features"][0]["enabled"] is False
