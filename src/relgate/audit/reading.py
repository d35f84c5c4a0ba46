"""Reading the audit trail: filtered pages of events, their changes, and the chain's state.

``AuditTrail`` is the read use case behind ``GET /api/v1/audit`` and the web
UI's audit page. Reading the trail needs the read role with no scope at all
(an unrestricted token), as every audit route of the API requires: the trail
holds events of every service and environment.

``changes(before, after)`` is pure: it lists what an event changed, member by
member (``enabled.production: true → false``), for a person to read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select

from relgate import limits
from relgate.audit import store
from relgate.audit.chain import AuditEvent
from relgate.audit.checkpointer import Checkpointer
from relgate.auth.model import Action, Principal
from relgate.errors import BadInput
from relgate.store.tables import AuditRow
from relgate.store.uow import UnitOfWorkFactory

PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 10_000
# the longest actor and action an event can have (store.tables.AuditRow)
ACTOR_MAX: Final = 200
ACTION_MAX: Final = 100
SUBJECT_MAX: Final = 500


@dataclass(frozen=True)
class AuditFilter:
    """Which events to show; ``None`` or empty: any."""

    service: str | None = None
    environment: str | None = None
    actor: str | None = None
    action: str | None = None
    # subjects starting with this (``release/payments@``, ``deployment/7``)
    subject: str | None = None

    def check(self) -> AuditFilter:
        """Return the filter with surrounding blanks dropped; raise BadInput naming a field."""
        bounds = {
            "service": limits.SERVICE,
            "environment": limits.ENVIRONMENT,
            "actor": ACTOR_MAX,
            "action": ACTION_MAX,
            "subject": SUBJECT_MAX,
        }
        values: dict[str, str | None] = {}
        for name, bound in bounds.items():
            raw = getattr(self, name)
            text = raw.strip() if isinstance(raw, str) else None
            if text and (len(text) > bound or not text.isprintable()):
                raise BadInput(f"{name}: expected at most {bound} printable characters")
            values[name] = text or None
        return AuditFilter(**values)

    @property
    def empty(self) -> bool:
        return not (self.service or self.environment or self.actor or self.action or self.subject)


@dataclass(frozen=True)
class Change:
    """One member an event changed: ``kind`` is ``added``, ``removed`` or ``changed``."""

    path: str
    kind: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class AuditPage:
    """Events newest first; ``older``: the ``before`` of the next page (None at the oldest)."""

    events: list[AuditEntry]
    older: int | None
    filter: AuditFilter


@dataclass(frozen=True)
class ChainStatus:
    """Whether the chain verifies (hashes, links, the stored checkpoints) and its head."""

    intact: bool
    events: int
    head_seq: int | None
    head_hash: str
    problems: list[str]


class AuditTrail:
    def __init__(self, uow: UnitOfWorkFactory, checkpointer: Checkpointer) -> None:
        self._uow = uow
        self._checkpointer = checkpointer

    def events(
        self,
        principal: Principal,
        wanted: AuditFilter | None = None,
        *,
        before: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> AuditPage:
        """Return a page of events matching ``wanted``, newest first, below ``before``.

        Raises Forbidden for a token with a scope (the trail is every service's
        and environment's), BadInput for a filter value that is too long.
        """
        principal.require(Action.READ, everywhere=True)
        chosen = (wanted or AuditFilter()).check()
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise BadInput(f"limit: expected 1 to {MAX_PAGE_SIZE}, not {limit}")
        if before is not None and before < 1:
            raise BadInput(f"before: expected an event's sequence number, not {before}")
        with self._uow() as uow:
            found = store.search(
                uow,
                service=chosen.service,
                environment=chosen.environment,
                actor=chosen.actor,
                action=chosen.action,
                subject=chosen.subject,
                before=before,
                limit=limit + 1,
            )
        shown = found[:limit]
        older = shown[-1].seq if len(found) > limit else None
        return AuditPage([_entry(event) for event in shown], older, chosen)

    def status(self, principal: Principal) -> ChainStatus:
        """Verify the whole chain (and the checkpoints stored) and return its head.

        Raises Forbidden for a token with a scope.
        """
        principal.require(Action.READ, everywhere=True)
        report = self._checkpointer.verify()
        head_seq: int | None = None
        if report.events:
            with self._uow() as uow:
                head_seq = uow.session.scalar(
                    select(AuditRow.seq).where(AuditRow.hash == report.head).limit(1)
                )
        return ChainStatus(
            intact=report.intact,
            events=report.events,
            head_seq=head_seq,
            head_hash=report.head,
            problems=list(report.problems),
        )


def _entry(event: AuditEvent) -> AuditEntry:
    return AuditEntry(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        subject=event.subject,
        before=event.before,
        after=event.after,
        prev_hash=event.prev_hash,
        hash=event.hash,
        changes=changes(event.before, event.after),
    )


# --------------------------------------------------------------------------- changes

_MISSING: Final = object()
# a value longer than this is cut in what a person reads (the event keeps it whole)
VALUE_TEXT_MAX: Final = 400


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[Change]:
    """Return what changed from ``before`` to ``after``, member by member, in path order.

    Nested objects are walked (``environments.dev.enabled``); lists and other
    values are compared whole. Values are shown as compact JSON.
    """
    old = _flatten(before or {})
    new = _flatten(after or {})
    found: list[Change] = []
    for path in sorted(old.keys() | new.keys()):
        was = old.get(path, _MISSING)
        now = new.get(path, _MISSING)
        if was is _MISSING:
            found.append(Change(path, "added", None, _text(now)))
        elif now is _MISSING:
            found.append(Change(path, "removed", _text(was), None))
        elif was != now:
            found.append(Change(path, "changed", _text(was), _text(now)))
    return found


def _flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, member in value.items():
        path = f"{prefix}{key}"
        if isinstance(member, Mapping) and member:
            flat.update(_flatten(member, path + "."))
        else:
            flat[path] = member
    return flat


def _text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= VALUE_TEXT_MAX else text[: VALUE_TEXT_MAX - 1] + "…"
