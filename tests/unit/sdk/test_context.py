"""How FlagClient turns what the application passes into an evaluation context."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relgate.flags import Context
from relgate.sdk import FlagClient


@pytest.fixture
def client(tmp_path: Path) -> Iterator[FlagClient]:
    made = FlagClient(
        "http://127.0.0.1:1", "t", "shop", environment="prod", cache_dir=tmp_path, start=False
    )
    try:
        yield made
    finally:
        made.close()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"userId": "42"},
        {"userId": "42", "sessionId": "s-1", "remoteAddress": "10.0.0.1"},
        {"userId": "42", "environment": "dev", "appName": "other"},
        {"userId": 42},
        {"userId": True},
        {"userId": "1", "plan": "pro"},
        {"userId": None, "sessionId": "s"},
        {"properties": {"plan": "pro", "beta": True}},
        {"userId": "1", "properties": {"plan": "pro"}},
        {"properties": {}},
        {"properties": {"count": 1}},
        {"properties": {"plan": None}},
        {"currentTime": datetime(2026, 1, 1, tzinfo=UTC)},
    ],
)
def test_a_dict_context_reads_as_unleash_reads_it(client: FlagClient, data: dict[str, Any]) -> None:
    expected = Context.from_dict({"appName": "shop", "environment": "prod", **data})

    assert client._context(data) == expected
    # a second time, from the context cache
    assert client._context(dict(data)) == expected


def test_equal_but_differently_typed_values_never_share_a_cached_context(
    client: FlagClient,
) -> None:
    assert client._context({"userId": 1}).user_id == "1"
    assert client._context({"userId": True}).user_id == "true"
    assert client._context({"userId": 1.0}).user_id == "1.0"


def test_a_context_object_gets_the_clients_app_name_and_environment(client: FlagClient) -> None:
    filled = client._context(Context(user_id="7", properties={"plan": "pro"}))

    assert filled == Context(
        user_id="7", environment="prod", app_name="shop", properties={"plan": "pro"}
    )


def test_a_complete_context_object_is_used_as_it_is(client: FlagClient) -> None:
    given = Context(user_id="7", environment="dev", app_name="other")

    assert client._context(given) is given


def test_no_context_means_only_app_name_and_environment(client: FlagClient) -> None:
    assert client._context(None) == Context(environment="prod", app_name="shop")
