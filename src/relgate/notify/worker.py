"""The delivery worker: fans outbox events out to subscribers and delivers them, at least once.

Two steps, each its own short transaction, so several replicas share the work:

1. Fan-out: outbox events not yet fanned out are locked (``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``),
   one delivery row is added per event and admitting subscriber, and the events
   are marked. A subscriber gets only events newer than itself.
2. Delivery: due deliveries are claimed the same way under a lease
   (``claimed_until``); ``attempts`` grows at each claim and fences the result:
   a worker whose lease ran out cannot overwrite the next attempt's outcome.
   A crash mid-delivery leaves the row ``delivering`` until the lease ends; then
   any worker claims it again. Failures wait an exponential back-off with
   jitter; after ``max_attempts`` the delivery is ``dead`` until
   ``relgate notify retry``.

Receivers de-duplicate on the event id (``Relgate-Event-Id``, the CloudEvent
``id``): a delivery is sent again only after a failure or an expired lease.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, insert, or_, select, update

from relgate.clock import Clock
from relgate.notify import slack, webhook
from relgate.notify.backoff import Backoff
from relgate.notify.delivery import HttpSender, SendResult
from relgate.notify.events import DomainEvent, EventType
from relgate.notify.subscribers import DeliveryState, Filters, SubscriberKind
from relgate.store.tables import DeliveryRow, OutboxRow, SubscriberRow
from relgate.store.uow import UnitOfWorkFactory, as_utc

log = logging.getLogger("relgate.notify")

FANOUT_BATCH = 500
CLAIM_BATCH = 20
FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class Claim:
    """One delivery a worker holds under a lease: what to send, where, and its fence."""

    delivery_id: int
    attempt: int
    claimed_until: datetime
    kind: SubscriberKind
    url: str
    secret: str | None
    secret_env: str | None
    event: DomainEvent


class NotifyWorker:
    """Runs fan-out and delivery in ``threads`` threads until stopped."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        sender: HttpSender | None = None,
        backoff: Backoff | None = None,
        max_attempts: int = 10,
        lease_seconds: float = 60.0,
        public_url: str = "",
        environ: Mapping[str, str] | None = None,
        threads: int = 2,
        poll_seconds: float = 0.5,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._sender = sender or HttpSender()
        self._backoff = backoff or Backoff()
        self._max_attempts = max(1, max_attempts)
        # a claim must outlast the slowest send, else a second worker would send it meanwhile
        self._lease = max(lease_seconds, self._sender.longest_seconds + 1)
        self._public_url = public_url
        self._environ: Mapping[str, str] = environ if environ is not None else {}
        self._threads_wanted = max(1, threads)
        self._poll = poll_seconds
        self.worker_id = f"notify-{uuid.uuid4().hex[:12]}"
        self.sent = 0  # attempts this worker sent, for tests and the bench
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ life

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        for index in range(self._threads_wanted):
            thread = threading.Thread(
                target=self._loop, name=f"relgate-notify-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming; a send in flight ends within its timeouts (its lease covers the rest)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        self._sender.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once():
                    continue
            except Exception:  # a worker thread must survive any single failure
                log.exception("notification worker iteration failed")
            self._wake.wait(self._poll)
            self._wake.clear()

    def run_once(self) -> int:
        """Fan out new events, then claim and send due deliveries; return how much was done."""
        done = self.fan_out()
        claims = self.claim()
        # outcomes are recorded together (one commit, not one per delivery), at the
        # latest every FLUSH_SECONDS: a crash before that only sends them again
        outcomes: list[tuple[Claim, SendResult]] = []
        flushed = time.monotonic()
        for index, claim in enumerate(claims):
            if self._stop.is_set() or not self._time_left(claim):
                # give the rest back now rather than make them wait for the lease
                self.release(claims[index:])
                break
            outcomes.append((claim, self.send(claim)))
            if time.monotonic() - flushed > FLUSH_SECONDS:
                self.record(outcomes)
                outcomes, flushed = [], time.monotonic()
        self.record(outcomes)
        return done + len(claims)

    # ------------------------------------------------------------------ fan-out

    def fan_out(self, limit: int = FANOUT_BATCH) -> int:
        """Make the deliveries of up to ``limit`` new outbox events; return how many events."""
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            events = session.execute(
                select(
                    OutboxRow.id,
                    OutboxRow.event_id,
                    OutboxRow.type,
                    OutboxRow.service,
                    OutboxRow.environment,
                )
                .where(OutboxRow.fanned_out_at.is_(None))
                .order_by(OutboxRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not events:
                return 0
            subscribers = [
                (row.id, row.after_outbox_id, _filters(row))
                for row in session.scalars(select(SubscriberRow).where(SubscriberRow.enabled))
            ]
            deliveries: list[dict[str, Any]] = []
            for event in events:
                for subscriber_id, after, filters in subscribers:
                    if event.id > after and filters.admits(
                        event.type, event.service, event.environment
                    ):
                        deliveries.append(
                            {
                                "subscriber_id": subscriber_id,
                                "outbox_id": event.id,
                                "event_id": event.event_id,
                                "state": DeliveryState.PENDING.value,
                                "attempts": 0,
                                "next_attempt_at": now,
                                "created_at": now,
                            }
                        )
            if deliveries:
                session.execute(insert(DeliveryRow), deliveries)
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_([event.id for event in events]))
                .values(fanned_out_at=now)
            )
            uow.commit()
            return len(events)

    # ------------------------------------------------------------------ claiming

    def claim(self, limit: int = CLAIM_BATCH) -> list[Claim]:
        """Claim up to ``limit`` due deliveries (pending and due, or whose lease ran out)."""
        now = self._clock.now()
        until = now + timedelta(seconds=self._lease)
        claims: list[Claim] = []
        with self._uow() as uow:
            session = uow.session
            rows = session.scalars(
                select(DeliveryRow)
                .where(
                    or_(
                        and_(
                            DeliveryRow.state == DeliveryState.PENDING.value,
                            DeliveryRow.next_attempt_at <= now,
                        ),
                        and_(
                            DeliveryRow.state == DeliveryState.DELIVERING.value,
                            DeliveryRow.claimed_until < now,
                        ),
                    )
                )
                .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return []
            subscribers = {
                row.id: row
                for row in session.scalars(
                    select(SubscriberRow).where(
                        SubscriberRow.id.in_({row.subscriber_id for row in rows})
                    )
                )
            }
            events = {
                row.id: row
                for row in session.scalars(
                    select(OutboxRow).where(OutboxRow.id.in_({row.outbox_id for row in rows}))
                )
            }
            for row in rows:
                if (
                    row.state == DeliveryState.DELIVERING.value
                    and row.attempts >= self._max_attempts
                ):
                    _dead(row, now, f"attempt {row.attempts} was interrupted (its lease ran out)")
                    continue
                subscriber = subscribers[row.subscriber_id]
                event = _event(events[row.outbox_id])
                if event is None:
                    _dead(row, now, f"unknown event type {events[row.outbox_id].type!r}")
                    continue
                row.state = DeliveryState.DELIVERING.value
                row.attempts += 1
                row.claimed_by = self.worker_id
                row.claimed_until = until
                claims.append(
                    Claim(
                        delivery_id=row.id,
                        attempt=row.attempts,
                        claimed_until=until,
                        kind=SubscriberKind(subscriber.kind),
                        url=subscriber.url,
                        secret=subscriber.secret,
                        secret_env=subscriber.secret_env,
                        event=event,
                    )
                )
            uow.commit()
        return claims

    def _time_left(self, claim: Claim) -> bool:
        left = (claim.claimed_until - self._clock.now()).total_seconds()
        return left > self._sender.longest_seconds

    def release(self, claims: list[Claim]) -> None:
        """Give claims back unsent: pending again, their attempt not counted."""
        if not claims:
            return
        with self._uow() as uow:
            for claim in claims:
                uow.session.execute(
                    update(DeliveryRow)
                    .where(*self._fence(claim))
                    .values(
                        state=DeliveryState.PENDING.value,
                        attempts=claim.attempt - 1,
                        claimed_by=None,
                        claimed_until=None,
                    )
                )
            uow.commit()

    # ------------------------------------------------------------------ sending

    def deliver(self, claim: Claim) -> SendResult:
        """Send one claimed delivery and record the outcome (under its fence); return it."""
        result = self.send(claim)
        self.record([(claim, result)])
        return result

    def send(self, claim: Claim) -> SendResult:
        """Send one claimed delivery; return what the receiver did (nothing recorded yet)."""
        try:
            url, headers, body = self.render(claim)
        except _NotSendable as exc:
            return SendResult(False, None, str(exc))
        self.sent += 1  # an approximate count across threads is enough
        return self._sender.send(url, headers, body)

    def render(self, claim: Claim) -> tuple[str, dict[str, str], bytes]:
        """Return the URL, headers and body of a claim, as its subscriber's kind wants them."""
        event = claim.event
        headers = {
            webhook.EVENT_ID_HEADER: event.id,
            webhook.ATTEMPT_HEADER: str(claim.attempt),
        }
        if claim.kind is SubscriberKind.SLACK:
            headers["Content-Type"] = "application/json"
            body = json.dumps(slack.message(event, self._public_url)).encode()
            return claim.url, headers, body
        ce_headers, body = webhook.cloudevent(event, self._public_url)
        headers.update(
            {"Content-Type": ce_headers.get("content-type", "application/cloudevents+json")}
        )
        secret = claim.secret
        if secret is None and claim.secret_env is not None:
            secret = self._environ.get(claim.secret_env)
            if not secret:
                raise _NotSendable(
                    f"the server variable {claim.secret_env} holding the signing secret is not set"
                )
        if secret:
            headers[webhook.SIGNATURE_HEADER] = webhook.signature(
                secret, int(self._clock.now().timestamp()), body
            )
        return claim.url, headers, body

    def _fence(self, claim: Claim) -> tuple[Any, ...]:
        return (
            DeliveryRow.id == claim.delivery_id,
            DeliveryRow.state == DeliveryState.DELIVERING.value,
            DeliveryRow.claimed_by == self.worker_id,
            DeliveryRow.attempts == claim.attempt,
        )

    def record(self, outcomes: list[tuple[Claim, SendResult]]) -> int:
        """Record the outcomes of sent claims in one transaction, each under its fence.

        Return how many were recorded; an outcome whose lease ran out (another
        worker claimed the delivery again) is dropped, as that attempt owns it.
        """
        if not outcomes:
            return 0
        now = self._clock.now()
        table = cast("Table", DeliveryRow.__table__)
        # one UPDATE executed for many rows (executemany): the fence is in its WHERE
        statement = (
            update(table)
            .where(
                table.c.id == bindparam("d_id"),
                table.c.state == DeliveryState.DELIVERING.value,
                table.c.claimed_by == self.worker_id,
                table.c.attempts == bindparam("d_attempt"),
            )
            .values(
                state=bindparam("d_state"),
                last_status=bindparam("d_status"),
                last_error=bindparam("d_error"),
                delivered_at=bindparam("d_delivered_at"),
                next_attempt_at=bindparam("d_next"),
                claimed_by=None,
                claimed_until=None,
            )
        )
        with self._uow() as uow:
            rows = uow.session.connection().execute(
                statement, [self._outcome(claim, result, now) for claim, result in outcomes]
            )
            changed = max(0, cast("CursorResult[Any]", rows).rowcount)
            uow.commit()
        if changed < len(outcomes):
            log.warning(
                "%s delivery outcomes came after their lease: other attempts own them",
                len(outcomes) - changed,
            )
        return changed

    def _outcome(self, claim: Claim, result: SendResult, now: datetime) -> dict[str, Any]:
        """Return the bound values of ``record``'s UPDATE for one outcome."""
        values: dict[str, Any] = {
            "d_id": claim.delivery_id,
            "d_attempt": claim.attempt,
            "d_status": result.status,
            "d_error": None if result.delivered else result.error,
            "d_delivered_at": now if result.delivered else None,
            "d_next": now,
        }
        if result.delivered:
            values["d_state"] = DeliveryState.DELIVERED.value
        elif claim.attempt >= self._max_attempts:
            values["d_state"] = DeliveryState.DEAD.value
        else:
            values["d_state"] = DeliveryState.PENDING.value
            values["d_next"] = now + timedelta(seconds=self._backoff.delay(claim.attempt))
        return values


class _NotSendable(Exception):
    """A delivery that cannot be sent as configured (a missing secret): a failed attempt."""


def _filters(row: SubscriberRow) -> Filters:
    return Filters(
        services=tuple(row.services or ()),
        environments=tuple(row.environments or ()),
        event_types=tuple(row.event_types or ()),
    )


def _event(row: OutboxRow) -> DomainEvent | None:
    try:
        event_type = EventType(row.type)
    except ValueError:
        return None
    return DomainEvent(
        type=event_type,
        subject=row.subject,
        time=as_utc(row.created_at),
        service=row.service,
        environment=row.environment,
        actor=row.actor,
        data=dict(row.data or {}),
        id=row.event_id,
    )


def _dead(row: DeliveryRow, now: datetime, why: str) -> None:
    row.state = DeliveryState.DEAD.value
    row.last_error = why
    row.claimed_by = None
    row.claimed_until = None
    row.next_attempt_at = now
