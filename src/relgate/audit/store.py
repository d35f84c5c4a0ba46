"""Appending to and reading the audit chain in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
)

from relgate.audit.chain import GENESIS, AuditEvent, ChainReport, event_hash, verify_chain
from relgate.store.tables import AuditRow, DeploymentRow, ServiceRow
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


def search(
    uow: UnitOfWork,
    *,
    service: str | None = None,
    environment: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[AuditEvent]:
    """Return up to ``limit`` events, newest first, that match every filter given.

    ``before``: only events with a lower sequence number (the next, older page).
    ``actor`` matches exactly; ``action`` exactly, or as a prefix when it ends
    with ``.`` (``flag.``: every flag event); ``subject`` as a prefix.
    ``service`` and ``environment`` match what an event is about, wherever the
    event says it: its subject
    (``service/S``, ``release/S@1.2.0``, ``environment/S/E``), the deployment
    its subject names (``deployment/7`` of S in E), ``service`` or
    ``environment`` in its before/after, and, for a flag killed or imported,
    the environments it touched. A flag's change that holds in every
    environment (created, archived) names none and is not matched by an
    environment.

    The query walks the events from the newest down the ``seq`` index and
    stops after ``limit`` matches, on SQLite and PostgreSQL alike.
    """
    query = select(AuditRow).order_by(AuditRow.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditRow.seq < before)
    if actor:
        query = query.where(AuditRow.actor == actor)
    if action:
        if action.endswith("."):
            query = query.where(AuditRow.action.startswith(action, autoescape=True))
        else:
            query = query.where(AuditRow.action == action)
    if subject:
        query = query.where(AuditRow.subject.startswith(subject, autoescape=True))
    if service:
        query = query.where(_about_service(service))
    if environment:
        query = query.where(_about_environment(uow.dialect, environment))
    return [_event(row) for row in uow.session.scalars(query)]


def _deployment_subject() -> ColumnElement[str]:
    return literal("deployment/") + cast(DeploymentRow.id, String)


def _member(column: Any, name: str) -> ColumnElement[str]:
    """The text of member ``name`` of a JSON object column (NULL when it is absent)."""
    member: ColumnElement[str] = column[name].as_string()
    return member


def _has_key(dialect: str, column: Any, container: str, key: str) -> ColumnElement[bool]:
    """Whether member ``container`` of a JSON column is an object with the member ``key``.

    Any ``key`` (quotes, dots, commas...) is passed as a bound value, never
    spliced into a JSON path.
    """
    if dialect == "postgresql":
        return func.json_extract_path(column, container, key).is_not(None)
    members = func.json_each(column, f'$."{container}"').table_valued("key").alias("members")
    return exists(select(literal(1)).select_from(members).where(members.c.key == key))


def _about_service(service: str) -> ColumnElement[bool]:
    deployments = (
        select(_deployment_subject())
        .join(ServiceRow, ServiceRow.id == DeploymentRow.service_id)
        .where(ServiceRow.name == service)
    )
    return or_(
        AuditRow.subject == f"service/{service}",
        AuditRow.subject.startswith(f"release/{service}@", autoescape=True),
        AuditRow.subject.startswith(f"environment/{service}/", autoescape=True),
        AuditRow.subject.in_(deployments.scalar_subquery()),
        _member(AuditRow.after, "service") == service,
    )


def _about_environment(dialect: str, environment: str) -> ColumnElement[bool]:
    deployments = select(_deployment_subject()).where(DeploymentRow.environment == environment)
    if "/" in environment:  # no environment has one (relgate.flags.stored.check_environment)
        return false()
    return or_(
        _member(AuditRow.after, "environment") == environment,
        _member(AuditRow.before, "environment") == environment,
        and_(
            AuditRow.subject.startswith("environment/"),
            AuditRow.subject.endswith(f"/{environment}", autoescape=True),
        ),
        AuditRow.subject.in_(deployments.scalar_subquery()),
        and_(
            AuditRow.action == "flag.killed",
            _has_key(dialect, AuditRow.before, "enabled", environment),
        ),
        and_(
            AuditRow.action == "flag.imported",
            or_(
                _has_key(dialect, AuditRow.after, "environments", environment),
                _has_key(dialect, AuditRow.before, "environments", environment),
            ),
        ),
    )


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
