"""Use cases of notifications: admins add, list and remove subscribers; status and retry.

Adding, removing and retrying need an admin token (``manage notification
subscribers``) whose scope covers the subscriber's filters: a token scoped to
``payments`` may add a subscriber filtered to ``payments`` only, never one that
hears every service. Status and the list need a read token and show the
subscribers its scope covers. Every change is audited. Secrets are never
returned: a view says whether one is set and where it comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from relgate.audit import store as audit
from relgate.auth.model import Action, Principal
from relgate.clock import Clock
from relgate.errors import BadInput, Conflict, Forbidden, NotFound
from relgate.notify.subscribers import (
    DeliveryState,
    Filters,
    SubscriberKind,
    SubscriberSpec,
    redacted_url,
    validate,
)
from relgate.store.tables import DeliveryRow, OutboxRow, SubscriberRow
from relgate.store.uow import UnitOfWorkFactory, as_utc

MAX_DEAD_SHOWN = 200


class NotifyService:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, *, wake: Callable[[], None] | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._wake = wake or (lambda: None)

    def add(self, principal: Principal, spec: SubscriberSpec) -> dict[str, Any]:
        """Add a subscriber; it hears the events committed from now on. Return its view.

        Raises BadInput for an invalid spec (see ``subscribers.validate``), Forbidden
        for a token that is not an admin's or whose scope does not cover the filters,
        Conflict when the name is taken.
        """
        principal.require(Action.MANAGE_NOTIFICATIONS)
        validate(spec)
        if spec.kind is SubscriberKind.WEBHOOK and not (spec.secret or spec.secret_env):
            raise BadInput(
                "secret: a webhook subscriber is signed with HMAC-SHA256; give --secret or "
                "--secret-env VAR (a variable of the server holding it)"
            )
        _require_cover(principal, spec.filters)
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            if _row(session, spec.name) is not None:
                raise Conflict(
                    f"subscriber {spec.name!r} exists: remove it first "
                    f"(`relgate notify remove {spec.name}`)"
                )
            newest = session.scalar(select(func.max(OutboxRow.id))) or 0
            row = SubscriberRow(
                name=spec.name,
                kind=spec.kind.value,
                url=spec.url,
                secret=spec.secret,
                secret_env=spec.secret_env,
                services=list(spec.filters.services),
                environments=list(spec.filters.environments),
                event_types=list(spec.filters.event_types),
                enabled=True,
                after_outbox_id=newest,
                created_by=principal.name,
                created_at=now,
            )
            session.add(row)
            session.flush()
            view = _view(row)
            audit.append(
                uow,
                actor=principal.name,
                action="notify.subscriber.added",
                subject=f"subscriber/{spec.name}",
                at=now,
                after=view,
            )
            uow.commit()
        return view

    def list_subscribers(self, principal: Principal) -> list[dict[str, Any]]:
        """Return the subscribers the token's scope covers, by name."""
        principal.require(Action.READ)
        with self._uow() as uow:
            rows = uow.session.scalars(select(SubscriberRow).order_by(SubscriberRow.name))
            return [_view(row) for row in rows if _covers(principal, _filters(row))]

    def remove(self, principal: Principal, name: str) -> None:
        """Remove a subscriber and its deliveries (pending ones are not sent).

        Raises NotFound naming the subscribers there are, Forbidden as ``add``.
        """
        principal.require(Action.MANAGE_NOTIFICATIONS)
        with self._uow() as uow:
            session = uow.session
            row = self._existing(session, principal, name)
            before = _view(row)
            session.delete(row)
            audit.append(
                uow,
                actor=principal.name,
                action="notify.subscriber.removed",
                subject=f"subscriber/{name}",
                at=self._clock.now(),
                before=before,
            )
            uow.commit()

    def status(
        self, principal: Principal, *, dead_only: bool = False, limit: int = 50
    ) -> dict[str, Any]:
        """Return the backlog, each covered subscriber's counts by state, and dead letters.

        ``backlog`` counts events not yet fanned out and deliveries pending or
        being delivered; ``dead`` lists the newest dead deliveries (at most
        ``limit``) with their last error. With ``dead_only`` the subscribers'
        counts are left out.
        """
        principal.require(Action.READ)
        limit = max(1, min(limit, MAX_DEAD_SHOWN))
        with self._uow() as uow:
            session = uow.session
            subscribers = {
                row.id: row
                for row in session.scalars(select(SubscriberRow).order_by(SubscriberRow.name))
                if _covers(principal, _filters(row))
            }
            unfanned = session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.fanned_out_at.is_(None))
            )
            counts: dict[int, dict[str, int]] = {
                sid: {state.value: 0 for state in DeliveryState} for sid in subscribers
            }
            for sid, state, count in session.execute(
                select(DeliveryRow.subscriber_id, DeliveryRow.state, func.count()).group_by(
                    DeliveryRow.subscriber_id, DeliveryRow.state
                )
            ):
                if sid in counts:
                    counts[sid][state] = count
            dead_rows = session.execute(
                select(DeliveryRow, OutboxRow.type, OutboxRow.subject)
                .join(OutboxRow, OutboxRow.id == DeliveryRow.outbox_id)
                .where(
                    DeliveryRow.state == DeliveryState.DEAD.value,
                    DeliveryRow.subscriber_id.in_(list(subscribers)),
                )
                .order_by(DeliveryRow.id.desc())
                .limit(limit)
            ).all()
            pending = sum(c[DeliveryState.PENDING.value] for c in counts.values())
            delivering = sum(c[DeliveryState.DELIVERING.value] for c in counts.values())
            return {
                "backlog": {
                    "events_to_fan_out": unfanned or 0,
                    "pending": pending,
                    "delivering": delivering,
                },
                "subscribers": []
                if dead_only
                else [
                    {"name": row.name, "kind": row.kind, "enabled": row.enabled, **counts[sid]}
                    for sid, row in subscribers.items()
                ],
                "dead": [
                    {
                        "id": delivery.id,
                        "subscriber": subscribers[delivery.subscriber_id].name,
                        "event_id": delivery.event_id,
                        "type": event_type,
                        "subject": subject,
                        "attempts": delivery.attempts,
                        "last_status": delivery.last_status,
                        "last_error": delivery.last_error,
                        "since": as_utc(delivery.next_attempt_at).isoformat(),
                    }
                    for delivery, event_type, subject in dead_rows
                ],
            }

    def retry(
        self, principal: Principal, *, delivery_id: int | None = None, all_dead: bool = False
    ) -> int:
        """Queue dead deliveries again, with their attempts counted from zero; return how many.

        One delivery by ``delivery_id`` (dead, or pending in back-off: then it is
        tried now), or with ``all_dead`` every dead delivery the token's scope
        covers. Raises BadInput when neither or both are given, NotFound for an
        unknown id, Conflict for a delivery that is delivered or being delivered.
        """
        principal.require(Action.MANAGE_NOTIFICATIONS)
        if (delivery_id is None) == (not all_dead):
            raise BadInput("give a delivery ID or --all-dead (not both)")
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            covered = [
                row.id
                for row in session.scalars(select(SubscriberRow))
                if _covers(principal, _filters(row))
            ]
            if delivery_id is not None:
                delivery = session.get(DeliveryRow, delivery_id)
                if delivery is None or delivery.subscriber_id not in covered:
                    raise NotFound(
                        f"no delivery {delivery_id} (`relgate notify status --dead` lists them)"
                    )
                if delivery.state not in (DeliveryState.DEAD.value, DeliveryState.PENDING.value):
                    raise Conflict(f"delivery {delivery_id} is {delivery.state}: nothing to retry")
                ids = [delivery_id]
            else:
                ids = list(
                    session.scalars(
                        select(DeliveryRow.id).where(
                            DeliveryRow.state == DeliveryState.DEAD.value,
                            DeliveryRow.subscriber_id.in_(covered),
                        )
                    )
                )
            if ids:
                session.execute(
                    update(DeliveryRow)
                    .where(
                        DeliveryRow.id.in_(ids),
                        DeliveryRow.state.in_(
                            [DeliveryState.DEAD.value, DeliveryState.PENDING.value]
                        ),
                    )
                    .values(
                        state=DeliveryState.PENDING.value,
                        attempts=0,
                        next_attempt_at=now,
                        claimed_by=None,
                        claimed_until=None,
                    )
                )
                audit.append(
                    uow,
                    actor=principal.name,
                    action="notify.retried",
                    subject=f"delivery/{delivery_id}" if delivery_id is not None else "delivery/*",
                    at=now,
                    after={"deliveries": len(ids)},
                )
            uow.commit()
        if ids:
            self._wake()
        return len(ids)

    def _existing(self, session: Session, principal: Principal, name: str) -> SubscriberRow:
        row = _row(session, name)
        if row is None:
            names = sorted(session.scalars(select(SubscriberRow.name)).all())
            there = f" (there are: {', '.join(names)})" if names else " (there are none yet)"
            raise NotFound(f"no subscriber {name!r}{there}")
        _require_cover(principal, _filters(row))
        return row


def _row(session: Session, name: str) -> SubscriberRow | None:
    return session.scalar(select(SubscriberRow).where(SubscriberRow.name == name))


def _filters(row: SubscriberRow) -> Filters:
    return Filters(
        services=tuple(row.services or ()),
        environments=tuple(row.environments or ()),
        event_types=tuple(row.event_types or ()),
    )


def _covers(principal: Principal, filters: Filters) -> bool:
    """Whether every event ``filters`` admits is within the token's scope."""
    if principal.services is not None and (
        not filters.services or not set(filters.services) <= principal.services
    ):
        return False
    return principal.environments is None or bool(
        filters.environments and set(filters.environments) <= principal.environments
    )


def _require_cover(principal: Principal, filters: Filters) -> None:
    if not _covers(principal, filters):
        raise Forbidden(
            f"token {principal.name!r} is scoped to {principal.scope_text()}: a subscriber it "
            "manages must be filtered to services and environments within that scope "
            "(--service, --env)"
        )


def _view(row: SubscriberRow) -> dict[str, Any]:
    kind = SubscriberKind(row.kind)
    if row.secret_env:
        secret = f"from the server variable {row.secret_env}"
    elif row.secret:
        secret = "set"
    else:
        secret = None
    return {
        "name": row.name,
        "kind": kind.value,
        "url": redacted_url(kind, row.url),
        "secret": secret,
        "services": list(row.services or []),
        "environments": list(row.environments or []),
        "events": list(row.event_types or []),
        "enabled": row.enabled,
        "created_by": row.created_by,
        "created_at": as_utc(row.created_at).isoformat(),
    }
