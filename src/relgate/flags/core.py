"""The base of the flag use cases: one committed change, audited, evented and bumped.

Every change to a flag, its configuration in an environment or a segment is
audited and bumps the affected ``FlagRevisionRow``\\s in the same transaction,
so polling clients (ETag) and event streams on any replica see it at once.
A change confined to one environment bumps that environment's row; a change to
the flag itself (created, archived, description, dependencies, a segment)
bumps every environment's row and the ``"*"`` row. ``revision(env)`` is the
sum of the environment's row and the ``"*"`` row, so it grows with every change
that affects the environment, including environments no flag was configured in.

Audit events come before the revision bump in each transaction: on PostgreSQL
the audit append takes a transaction-wide lock, so concurrent flag changes
queue there and never deadlock on the revision rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from relgate.audit import store as audit
from relgate.auth.model import Action, Principal
from relgate.clock import Clock
from relgate.flags.model import Snapshot
from relgate.flags.payloads import flag_views, visible
from relgate.flags.stored import (
    ALL_ENVIRONMENTS,
    check_environment,
    check_segments,
    environment_row,
    environment_state,
    load_live_flag,
    touch,
)
from relgate.flags.views import (
    FlagView,
)
from relgate.notify import outbox
from relgate.notify.events import DomainEvent, EventType
from relgate.store.tables import (
    FlagEnvironmentRow,
    FlagRevisionRow,
    FlagRow,
)
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory

ChangeListener = Callable[[frozenset[str]], None]
"""Called after a commit with the environments whose payload changed ("*": all of them)."""


@dataclass
class Change:
    """What one transaction changed, to bump revisions and notify listeners."""

    environments: set[str]
    everywhere: bool = False


def flag_event(
    key: str,
    action: str,
    actor: str,
    change: Change,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    clock: Clock,
) -> DomainEvent:
    """``flag.changed``: which flag, what was done (the audit action), where and by whom."""
    environment = next(iter(change.environments)) if len(change.environments) == 1 else None
    return DomainEvent(
        type=EventType.FLAG_CHANGED,
        subject=f"flag/{key}",
        time=clock.now(),
        environment=environment,
        actor=actor,
        data={
            "flag": key,
            "change": action,
            "environment": environment,
            "environments": sorted(change.environments),
            "actor": actor,
            "before": before,
            "after": after,
        },
    )


class FlagCore:
    """What every flag use case shares: the unit of work, the clock, the listeners."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock
        self._listeners: list[ChangeListener] = []
        self._snapshots: dict[str, tuple[int, Snapshot]] = {}
        self._snapshot_lock = threading.Lock()

    # ------------------------------------------------------------------ serving

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener(environments)`` after each committed change in this process.

        ``environments`` holds the names whose payload changed, or ``"*"`` when
        every environment's did. Other replicas learn of changes from
        ``revision``; this is for pushing at once within the process.
        """
        self._listeners.append(listener)

    # ------------------------------------------------------------------ internals

    def _change_environment(
        self,
        principal: Principal,
        key: str,
        environment: str,
        action: str,
        change: Callable[[FlagEnvironmentRow, FlagRow], None],
        *,
        strategies: list[Any] | None = None,
    ) -> FlagView:
        principal.require(Action.MANAGE_FLAGS, environment=environment)
        check_environment(environment)
        now = self._clock.now()
        with self._uow() as uow:
            flag = load_live_flag(uow, key)
            if strategies is not None:
                check_segments(uow, strategies)
            row = environment_row(uow, flag, environment, now)
            before = environment_state(row)
            change(row, flag)
            touch(row, now)
            flag.updated_at = now
            after = environment_state(row)
            return self._commit(uow, principal, action, flag, before, after, Change({environment}))

    def _commit(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        flag: FlagRow,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        change: Change,
    ) -> FlagView:
        audit.append(
            uow,
            actor=principal.name,
            action=action,
            subject=f"flag/{flag.key}",
            at=self._clock.now(),
            before=before,
            after=after,
        )
        outbox.append(
            uow.session,
            [flag_event(flag.key, action, principal.name, change, before, after, self._clock)],
        )
        self._bump(uow, change)
        uow.session.flush()
        view = visible(principal, flag_views(uow, [flag], self._clock.now()))[0]
        uow.commit()
        self._notify(change)
        return view

    def _bump(self, uow: UnitOfWork, change: Change) -> None:
        session = uow.session
        now = self._clock.now()
        insert = postgresql.insert if uow.dialect == "postgresql" else sqlite.insert
        names = sorted(change.environments | ({ALL_ENVIRONMENTS} if change.everywhere else set()))
        if change.everywhere:
            session.execute(
                update(FlagRevisionRow).values(
                    revision=FlagRevisionRow.revision + 1, updated_at=now
                )
            )
            for name in names:
                session.execute(
                    insert(FlagRevisionRow)
                    .values(environment=name, revision=1, updated_at=now)
                    .on_conflict_do_nothing(index_elements=["environment"])
                )
            return
        for name in names:
            session.execute(
                insert(FlagRevisionRow)
                .values(environment=name, revision=1, updated_at=now)
                .on_conflict_do_update(
                    index_elements=["environment"],
                    set_={"revision": FlagRevisionRow.revision + 1, "updated_at": now},
                )
            )

    def _notify(self, change: Change) -> None:
        names = frozenset({ALL_ENVIRONMENTS} if change.everywhere else change.environments)
        if not names:
            return
        for listener in list(self._listeners):
            listener(names)
