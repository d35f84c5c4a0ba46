"""Fixtures of the SDK's integration tests: a StubFeatureServer and clients that get closed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relgate.sdk import FlagClient
from tests.integration.sdk.stub_server import CHECKOUT, StubFeatureServer


@pytest.fixture
def stub() -> Iterator[StubFeatureServer]:
    server = StubFeatureServer(CHECKOUT).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def streaming_stub() -> Iterator[StubFeatureServer]:
    server = StubFeatureServer(CHECKOUT, streaming=True).start()
    try:
        yield server
    finally:
        server.stop()


ClientFactory = Callable[..., FlagClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    clients: list[FlagClient] = []

    def make(url: str, app_name: str = "checkout-web", **options: Any) -> FlagClient:
        options.setdefault("cache_dir", tmp_path / "cache")
        options.setdefault("refresh_interval", 60.0)
        options.setdefault("metrics_interval", 60.0)
        client = FlagClient(url, "client-token-1", app_name, **options)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.close()
