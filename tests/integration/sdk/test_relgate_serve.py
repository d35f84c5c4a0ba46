"""FlagClient against a real `relgate serve` (SQLite): the issue's checkout example.

Flags are changed through FlagService in the test process, on the server's
database, so the server learns of each change through its revision rows,
as a second replica would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.flags.metrics import ClientMetricsService
from relgate.sdk import FlagClient
from tests.support.server import ServerProcess, start_server, wait_for

ADMIN = Principal("tester", Role.ADMIN)
CHECKOUT = "express-checkout-v2"
PREMIUM = {"userId": "u-1", "properties": {"userTier": "premium"}}
FREE = {"userId": "u-2", "properties": {"userTier": "free"}}


@dataclass
class RealServer:
    process: ServerProcess
    services: Services
    token: str


@pytest.fixture
def real_server(tmp_path: Path) -> Iterator[RealServer]:
    from relgate.store import db

    workdir = tmp_path / "server"
    workdir.mkdir()
    url = f"sqlite:///{workdir / 'relgate.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    services = build(Settings(database_url=url))
    _, token = services.tokens.create("checkout-sdk", "client", "tester", environment="production")
    process = start_server(workdir, {"RELGATE_DATABASE_URL": url})
    try:
        yield RealServer(process, services, token)
    finally:
        process.stop()
        services.uow.engine.dispose()


def _premium_checkout(services: Services) -> None:
    services.flags.create(ADMIN, CHECKOUT, description="one-click checkout")
    strategy = {
        "name": "default",
        "parameters": {},
        "constraints": [{"contextName": "userTier", "operator": "IN", "values": ["premium"]}],
    }
    services.flags.set_strategies(ADMIN, CHECKOUT, "production", [strategy])
    services.flags.enable(ADMIN, CHECKOUT, "production")


def test_the_sdk_hears_the_kill_of_the_checkout_flag_through_the_stream_of_relgate_serve(
    real_server: RealServer, tmp_path: Path
) -> None:
    _premium_checkout(real_server.services)
    client = FlagClient(
        real_server.process.url,
        real_server.token,
        "checkout",
        environment="production",
        instance_id="pod-1",
        refresh_interval=3600,  # no poll during the test: the kill comes by the stream
        metrics_interval=0.5,
        cache_dir=tmp_path / "cache",
        stream=True,
    )
    try:
        wait_for(lambda: client.is_enabled(CHECKOUT, PREMIUM), timeout=15)
        assert not client.is_enabled(CHECKOUT, FREE)

        real_server.services.flags.kill(ADMIN, CHECKOUT, reason="payment errors")

        wait_for(lambda: not client.is_enabled(CHECKOUT, PREMIUM), timeout=15)
        assert client.etag is None or client.etag.startswith('"')

        metrics = ClientMetricsService(real_server.services.uow, real_server.services.clock)
        usage = wait_for(lambda: metrics.usage([CHECKOUT]).get(CHECKOUT), timeout=15)
        assert isinstance(usage, dict)
        assert usage["production"].yes >= 1
        assert usage["production"].no >= 1
        [application] = metrics.applications("production")
        assert (application.app_name, application.instance_id) == ("checkout", "pod-1")
        assert application.sdk_version is not None
        assert application.sdk_version.startswith("relgate-python:")
    finally:
        client.close()
