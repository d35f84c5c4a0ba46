"""Services on a real SQLite or PostgreSQL database, and tokens made the way the API makes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relgate.auth.model import Principal
from relgate.bootstrap import Services, build
from relgate.clock import FixedClock
from relgate.config import Settings

MakeToken = Callable[..., Principal]


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    clock = FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # a Tuesday
    built = build(Settings(database_url=database_url), clock=clock, base_dir=tmp_path)
    yield built
    built.uow.engine.dispose()


@pytest.fixture
def token(services: Services) -> MakeToken:
    """Create a token as the admin would and return the principal the server sees for it."""

    def make(name: str, role: str, **kwargs: object) -> Principal:
        _, secret = services.tokens.create(name, role, "admin", **kwargs)  # type: ignore[arg-type]
        return services.tokens.authenticate(secret)

    return make
