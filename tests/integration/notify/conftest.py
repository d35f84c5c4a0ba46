"""Fixtures of the notification tests: a store, an admin, events written to the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from relgate.auth.model import Principal, Role
from relgate.clock import SystemClock
from relgate.notify import outbox
from relgate.notify.backoff import Backoff
from relgate.notify.delivery import HttpSender
from relgate.notify.events import DomainEvent, EventType
from relgate.notify.service import NotifyService
from relgate.notify.worker import NotifyWorker
from relgate.store.db import make_engine
from relgate.store.uow import UnitOfWorkFactory

ADMIN = Principal("admin", Role.ADMIN)
SECRET = "webhook-key"


@pytest.fixture
def uow(database_url: str) -> Iterator[UnitOfWorkFactory]:
    engine = make_engine(database_url)
    try:
        yield UnitOfWorkFactory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def service(uow: UnitOfWorkFactory) -> NotifyService:
    return NotifyService(uow, SystemClock())


def make_worker(
    uow: UnitOfWorkFactory,
    *,
    max_attempts: int = 10,
    read_timeout: float = 0.5,
    lease_seconds: float = 1.0,
    threads: int = 2,
) -> NotifyWorker:
    """A worker with short timeouts and back-off, so failures are retried within a test."""
    return NotifyWorker(
        uow,
        SystemClock(),
        sender=HttpSender(connect_timeout=0.5, read_timeout=read_timeout),
        backoff=Backoff(base=0.05, cap=0.2),
        max_attempts=max_attempts,
        lease_seconds=lease_seconds,
        public_url="http://relgate.test",
        threads=threads,
        poll_seconds=0.05,
    )


def append_events(uow: UnitOfWorkFactory, count: int, **changes: object) -> list[DomainEvent]:
    """Commit ``count`` deployment.succeeded events of payments/production; return them."""
    values: dict[str, object] = {
        "type": EventType.DEPLOYMENT_SUCCEEDED,
        "service": "payments",
        "environment": "production",
        "actor": "ci-bot",
    }
    values.update(changes)
    events = [
        DomainEvent(
            subject=f"deployment/{n}",
            time=datetime.now(UTC),
            data={"deployment_id": n, "version": f"1.0.{n}", "kind": "promote"},
            **values,  # type: ignore[arg-type]
        )
        for n in range(count)
    ]
    with uow() as unit:
        outbox.append(unit.session, events)
        unit.commit()
    return events
