"""Appending to and reading the audit chain in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, text

from relgate.audit.chain import GENESIS, AuditEvent, ChainReport, event_hash, verify_chain
from relgate.store.tables import AuditRow
from relgate.store.uow import UnitOfWork, as_utc

# any constant; serialises appenders across replicas on PostgreSQL
_AUDIT_LOCK = 870_001


def append(
    uow: UnitOfWork,
    *,
    actor: str,
    action: str,
    subject: str,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRow:
    """Append one event in the caller's transaction; it commits or rolls back with it."""
    session = uow.session
    if uow.dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK})
    last = session.execute(
        select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
    ).first()
    seq = (last[0] + 1) if last else 1
    prev = last[1] if last else GENESIS
    row = AuditRow(
        seq=seq,
        actor=actor,
        action=action,
        subject=subject,
        before=before,
        after=after,
        at=at,
        prev_hash=prev,
        hash=event_hash(prev, seq, actor, action, subject, before, after, at),
    )
    session.add(row)
    session.flush()
    return row


def _event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        before=row.before,
        after=row.after,
        at=as_utc(row.at),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def events(uow: UnitOfWork, *, subject: str | None = None, limit: int = 100) -> list[AuditEvent]:
    """Return the newest events first, optionally for subjects starting with ``subject``."""
    query = select(AuditRow).order_by(AuditRow.seq.desc()).limit(limit)
    if subject:
        query = query.where(AuditRow.subject.startswith(subject))
    return [_event(row) for row in uow.session.scalars(query)]


def verify(uow: UnitOfWork, expect_head: str | None = None) -> ChainReport:
    """Walk the whole chain in order and report what was changed or deleted."""
    rows = uow.session.scalars(select(AuditRow).order_by(AuditRow.seq)).all()
    return verify_chain([_event(row) for row in rows], expect_head)


def chain(uow: UnitOfWork, *, after: int = 0, limit: int = 1000) -> list[AuditEvent]:
    """Return up to ``limit`` events with a sequence number above ``after``, oldest first."""
    query = select(AuditRow).where(AuditRow.seq > after).order_by(AuditRow.seq).limit(limit)
    return [_event(row) for row in uow.session.scalars(query)]


def head(uow: UnitOfWork) -> tuple[int, str] | None:
    """Return the newest event's (seq, hash), or None for an empty trail."""
    row = uow.session.execute(
        select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def hash_of(uow: UnitOfWork, seq: int) -> str | None:
    """Return the hash of event ``seq``, or None when there is no such event."""
    return uow.session.scalar(select(AuditRow.hash).where(AuditRow.seq == seq))


def written_at(uow: UnitOfWork, seq: int) -> datetime | None:
    """Return when event ``seq`` was written, or None when there is no such event."""
    at = uow.session.scalar(select(AuditRow.at).where(AuditRow.seq == seq))
    return as_utc(at) if at is not None else None


def count(uow: UnitOfWork, *, up_to: int) -> int:
    """Return how many events have a sequence number up to ``up_to``."""
    from sqlalchemy import func

    return uow.session.scalar(select(func.count()).where(AuditRow.seq <= up_to)) or 0
