"""Use cases of rollback rehearsals: where one stands, and recording a finished one.

``relgate rehearse`` drives the steps through the API calls a person would make
(promote, roll back, unpin, promote) and asks ``finding`` what comes next, so
that the rules of a rehearsal live here and in relgate.promotion.rehearsal,
never in the CLI. ``record`` writes the rehearsal the server itself found in
the deployment history to the audit trail; nothing a client says is taken as
proof, and the gate reads the history, not the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relgate.audit import store as audit
from relgate.auth.model import Action, Principal
from relgate.clock import Clock
from relgate.errors import Conflict
from relgate.promotion.rehearsal import RehearsalFinding, find_rehearsals, is_major_bump
from relgate.promotion.rehearsal_store import ran_history
from relgate.store import queries
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class RehearsalView:
    """Where the rehearsal of a release in an environment stands, JSON-ready."""

    service: str
    environment: str
    version: str
    rehearsed: bool
    next_step: str
    rollback_to: str | None
    crosses_major: bool
    """The release is a major bump over ``rollback_to`` (what a rollback_rehearsed gate asks)."""
    progress: str
    problem: str
    summary: str
    """The newest complete rehearsal in a sentence ('' when there is none)."""
    rehearsal: dict[str, Any] | None = None
    done: list[dict[str, Any]] = field(default_factory=list)


class RehearsalService:
    """What the API and the CLI call for rehearsals."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def finding(
        self, principal: Principal, service: str, version: str, environment: str
    ) -> RehearsalView:
        """Return where the rehearsal of ``service@version`` in ``environment`` stands.

        Raises Forbidden outside the token's scope, NotFound for unknown names.
        """
        principal.require(Action.READ, service=service, environment=environment)
        with self._uow() as uow:
            return _view(service, self._find(uow, service, version, environment))

    def record(
        self, principal: Principal, service: str, version: str, environment: str
    ) -> RehearsalView:
        """Audit the newest complete rehearsal the history holds (``rehearsal.recorded``).

        Whoever may promote and roll back in ``environment`` may record. Raises
        Conflict when the history holds no complete rehearsal, saying where it stands.
        """
        for action in (Action.PROMOTE, Action.ROLLBACK):
            principal.require(action, service=service, environment=environment)
        with self._uow() as uow:
            found = self._find(uow, service, version, environment)
            newest = found.newest
            if newest is None:
                raise Conflict(
                    f"no complete rollback rehearsal of {service}@{version} in {environment}: "
                    f"{found.progress()}"
                )
            audit.append(
                uow,
                actor=principal.name,
                action="rehearsal.recorded",
                subject=f"release/{service}@{version}",
                at=self._clock.now(),
                after={
                    "environment": environment,
                    "rolled_back_to": newest.rolled_back_to,
                    "deployed": newest.deployed.id,
                    "rolled_back": newest.rolled_back.id,
                    "redeployed": newest.redeployed.id,
                    "finished_at": newest.finished_at.isoformat(),
                },
            )
            uow.commit()
            return _view(service, found)

    @staticmethod
    def _find(uow: UnitOfWork, service: str, version: str, environment: str) -> RehearsalFinding:
        session = uow.session
        svc = queries.service_by_name(session, service)
        release = queries.release_by_version(session, svc, version)
        queries.environment(session, svc, environment)  # NotFound for an unknown one
        history = ran_history(session, svc.id, environment, release.id)
        return find_rehearsals(version, environment, history)


def _view(service: str, found: RehearsalFinding) -> RehearsalView:
    newest = found.newest
    rehearsal = None
    if newest is not None:
        rehearsal = {
            "rolled_back_to": newest.rolled_back_to,
            "recorded_only": newest.recorded_only,
            "finished_at": newest.finished_at.isoformat(),
            "deployed": newest.deployed.as_dict(),
            "rolled_back": newest.rolled_back.as_dict(),
            "redeployed": newest.redeployed.as_dict(),
        }
    target = newest.rolled_back_to if newest is not None else found.rollback_to
    return RehearsalView(
        service=service,
        environment=found.environment,
        version=found.version,
        rehearsed=newest is not None,
        next_step=found.next_step.value,
        rollback_to=found.rollback_to,
        crosses_major=target is not None and is_major_bump(found.version, target),
        progress=found.progress(),
        problem=found.problem,
        summary=newest.describe() if newest is not None else "",
        rehearsal=rehearsal,
        done=[d.as_dict() for d in found.done],
    )
