"""The outbox: events stored in the same transaction as the change that caused them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from relgate.notify.events import DomainEvent
from relgate.store.tables import OutboxRow


def append(session: Session, events: Iterable[DomainEvent]) -> int:
    """Add ``events`` to the outbox in ``session``'s transaction; return how many.

    Nothing is sent here: the events become visible to delivery workers only
    when the caller commits, and vanish with its rollback.
    """
    count = 0
    for event in events:
        session.add(
            OutboxRow(
                event_id=event.id,
                type=event.type.value,
                subject=event.subject,
                service=event.service,
                environment=event.environment,
                actor=event.actor,
                data=event.data,
                created_at=event.time,
            )
        )
        count += 1
    return count
