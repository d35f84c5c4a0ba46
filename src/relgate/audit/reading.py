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
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select

from relgate import limits
from relgate.audit import store
from relgate.audit.chain import AuditEvent, verify_chain
from relgate.audit.checkpointer import Checkpointer
from relgate.auth.model import Action, Principal
from relgate.clock import Clock
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
    """Whether the chain verifies and its head.

    ``checked_at``: when the events up to the head were last checked;
    ``full_at``: when the whole chain was last verified from its first event
    (and compared with the checkpoints stored); between two of those only the
    events appended since are verified, linked to the head verified before.
    """

    intact: bool
    events: int
    head_seq: int | None
    head_hash: str
    problems: list[str]
    checked_at: datetime
    full_at: datetime


# how long a whole-chain verification stands before the next view redoes it
FULL_EVERY: Final = timedelta(minutes=10)


class AuditTrail:
    """Reading the trail; ``status`` keeps what it verified, so a view checks only what is new.

    One instance per process (``Services.audit``): its memory of the verified
    head is what makes the audit page cheap on a long trail.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        checkpointer: Checkpointer,
        clock: Clock,
        *,
        full_every: timedelta = FULL_EVERY,
    ) -> None:
        self._uow = uow
        self._checkpointer = checkpointer
        self._clock = clock
        self._full_every = full_every
        self._lock = threading.Lock()
        self._verified: ChainStatus | None = None

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

    def status(self, principal: Principal, *, full: bool = False) -> ChainStatus:
        """Verify the chain up to its head and return the report.

        The whole chain is verified (``Checkpointer.verify``: hashes, links, the
        checkpoints stored) on the first call, when ``full``, after a problem,
        and when the last whole verification is older than ``full_every``; in
        between, only the head verified last (which must still be there,
        unchanged) and the events appended since: an older event edited in
        between is found by the next whole verification. Raises Forbidden for
        a token with a scope.
        """
        principal.require(Action.READ, everywhere=True)
        with self._lock:  # one verification at a time; the others then reuse it
            now = self._clock.now()
            known = self._verified
            if (
                not full
                and known is not None
                and known.intact
                and known.head_seq is not None
                and now - known.full_at < self._full_every
            ):
                extended = self._extend(known, now)
                if extended is not None:
                    self._verified = extended
                    return extended
            self._verified = self._full(now)
            return self._verified

    def _extend(self, known: ChainStatus, now: datetime) -> ChainStatus | None:
        """``known`` carried on to the current head, or None when a whole check is needed."""
        assert known.head_seq is not None
        with self._uow() as uow:
            # from the verified head on: it must still be there, as it was
            tail = store.chain(uow, after=known.head_seq - 1, limit=2**62)
        if not tail or tail[0].seq != known.head_seq or tail[0].hash != known.head_hash:
            return None  # the verified head changed or went: verify everything
        report = verify_chain(tail, after=(known.head_seq - 1, tail[0].prev_hash))
        if not report.intact:
            return None
        return replace(
            known,
            events=known.events + report.events - 1,
            head_seq=tail[-1].seq,
            head_hash=report.head,
            checked_at=now,
        )

    def _full(self, now: datetime) -> ChainStatus:
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
            checked_at=now,
            full_at=now,
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
