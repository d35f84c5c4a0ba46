"""The deployment lifecycle as plain objects: a Deployment and the Environment it runs in.

These objects own the rules that were SQL in the services: which state may
follow which (``promotion.model.TRANSITIONS``), that an environment is held by
at most one active deployment, that the stable anchor moves only on a verified
success, that a rollback pins the environment and marks the deployment it
replaced ``rolled_back``, and what must follow a finished deployment (an
auto-rollback, an auto-promotion). Every change records a DomainEvent in the
object's ``events``; the service drains them (``drain``) and hands them to the
outbox in the transaction that saves the change.

No I/O and no SQLAlchemy here: relgate.promotion.repository maps rows to these
objects and back, and keeps the conditional UPDATE that makes holding an
environment safe across replicas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relgate.errors import Conflict
from relgate.notify.events import DomainEvent, EventType
from relgate.promotion.model import (
    FINAL_STATES,
    DeploymentKind,
    DeploymentState,
    moved,
)

ROLLBACK_KINDS = frozenset({DeploymentKind.ROLLBACK, DeploymentKind.AUTO_ROLLBACK})
PROMOTE_KINDS = frozenset(
    {DeploymentKind.PROMOTE, DeploymentKind.AUTO_PROMOTE, DeploymentKind.HOTFIX}
)
ACTIVE_STATES = frozenset(
    {
        DeploymentState.REQUESTED,
        DeploymentState.WAITING_FOR_APPROVAL,
        DeploymentState.DEPLOYING,
        DeploymentState.VERIFYING,
    }
)
RUNNING_STATES = frozenset({DeploymentState.DEPLOYING, DeploymentState.VERIFYING})
NOT_STARTED = frozenset({DeploymentState.REQUESTED, DeploymentState.WAITING_FOR_APPROVAL})


@dataclass(frozen=True)
class ReleaseRef:
    """What a deployment needs to know of a release: it never changes."""

    id: int
    version: str
    artifact: str = ""


def is_newer(candidate: ReleaseRef, than: ReleaseRef | None) -> bool:
    """SemVer precedence of ``candidate`` over ``than`` (registration order when unparsable)."""
    if than is None:
        return True
    from relgate.versioning.semver import Version

    try:
        return Version.parse(candidate.version) > Version.parse(than.version)
    except Exception:
        return candidate.id > than.id


def newest_first(releases: Iterable[ReleaseRef]) -> list[ReleaseRef]:
    """``releases`` ordered by SemVer precedence, newest first."""
    from functools import cmp_to_key

    def compare(a: ReleaseRef, b: ReleaseRef) -> int:
        if is_newer(a, b):
            return -1
        if is_newer(b, a):
            return 1
        return 0

    return sorted(releases, key=cmp_to_key(compare))


@dataclass
class Deployment:
    """One attempt to put a release into an environment.

    ``id`` is None until the store saved it the first time; events are recorded
    only once it has one (the store assigns it before the first transition).
    """

    id: int | None
    service: str
    environment: str
    release: ReleaseRef
    kind: DeploymentKind
    state: DeploymentState
    requested_by: str
    created_at: datetime
    updated_at: datetime
    pipeline_revision: int = 0
    previous: ReleaseRef | None = None
    requested_by_identity: str | None = None
    reason: str = ""
    outcome: str = ""
    gate_results: list[dict[str, Any]] = field(default_factory=list)
    replaces: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    verified_at: datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def request(
        cls,
        *,
        service: str,
        environment: str,
        release: ReleaseRef,
        kind: DeploymentKind,
        actor: str,
        now: datetime,
        pipeline_revision: int,
        previous: ReleaseRef | None,
        waiting_for_approval: bool = False,
        actor_identity: str | None = None,
        reason: str = "",
        gate_results: list[dict[str, Any]] | None = None,
        replaces: int | None = None,
    ) -> Deployment:
        """A new deployment, ``requested`` or ``waiting_for_approval``; it holds nothing yet."""
        return cls(
            id=None,
            service=service,
            environment=environment,
            release=release,
            kind=kind,
            state=(
                DeploymentState.WAITING_FOR_APPROVAL
                if waiting_for_approval
                else DeploymentState.REQUESTED
            ),
            requested_by=actor,
            requested_by_identity=actor_identity,
            created_at=now,
            updated_at=now,
            pipeline_revision=pipeline_revision,
            previous=previous,
            reason=reason,
            gate_results=list(gate_results or []),
            replaces=replaces,
        )

    # ------------------------------------------------------------------ reading

    @property
    def number(self) -> int:
        if self.id is None:
            raise RuntimeError("the deployment has no id yet: the store assigns it")
        return self.id

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES

    @property
    def is_rollback(self) -> bool:
        return self.kind in ROLLBACK_KINDS

    @property
    def is_promotion(self) -> bool:
        return self.kind in PROMOTE_KINDS

    # ------------------------------------------------------------------ transitions

    def _move(self, target: DeploymentState, now: datetime) -> None:
        self.state = DeploymentState(moved(self.state.value, target, self.number))
        self.updated_at = now
        if target in FINAL_STATES and self.finished_at is None:
            self.finished_at = now

    def opened(self, now: datetime) -> None:
        """Record that the deployment now holds its environment (``approval.requested``)."""
        if self.state is DeploymentState.WAITING_FOR_APPROVAL:
            self._record(EventType.APPROVAL_REQUESTED, now, actor=self.requested_by)

    def start(self, now: datetime, previous: ReleaseRef | None) -> None:
        """requested → deploying; ``previous`` is what runs in the environment now."""
        self._move(DeploymentState.DEPLOYING, now)
        self.started_at = now
        self.previous = previous
        self._record(EventType.DEPLOYMENT_STARTED, now, actor=self.requested_by)

    def verifying(self, now: datetime) -> None:
        """deploying → verifying: the deployer reported success."""
        self._move(DeploymentState.VERIFYING, now)

    def succeed(self, now: datetime, reason: str) -> None:
        """verifying → succeeded; the release is known-good here from now on."""
        self._move(DeploymentState.SUCCEEDED, now)
        self.verified_at = now
        self.outcome = f"verified: {reason}"
        if self.is_rollback:
            self._record(EventType.DEPLOYMENT_ROLLED_BACK, now, actor=self.requested_by)
        else:
            self._record(EventType.DEPLOYMENT_SUCCEEDED, now, actor=self.requested_by)

    def fail(self, now: datetime, reason: str) -> None:
        """deploying/verifying (or not yet started) → failed, with why."""
        self._move(DeploymentState.FAILED, now)
        self.outcome = reason
        self._record(EventType.DEPLOYMENT_FAILED, now, actor=self.requested_by)

    def approve(self, now: datetime, approver: str, comment: str, *, gates_pass: bool) -> None:
        """Record an approval; with every gate passing now, the deployment may run."""
        if self.state is not DeploymentState.WAITING_FOR_APPROVAL:
            raise Conflict(f"deployment {self.number} is {self.state}; it waits for no approval")
        self._record(EventType.APPROVAL_GIVEN, now, actor=approver, comment=comment)
        if gates_pass:
            self._move(DeploymentState.REQUESTED, now)

    def reject(self, now: datetime, approver: str, comment: str) -> None:
        """waiting_for_approval → rejected."""
        self._move(DeploymentState.REJECTED, now)
        self.outcome = f"rejected by {approver}: {comment}"
        self._record(EventType.APPROVAL_REJECTED, now, actor=approver, comment=comment)

    def cancel(self, now: datetime, outcome: str) -> None:
        """requested/waiting_for_approval → cancelled; Conflict once it runs."""
        if self.state not in NOT_STARTED:
            raise Conflict(
                f"deployment {self.number} is {self.state}; it can no longer be cancelled"
            )
        self._move(DeploymentState.CANCELLED, now)
        self.outcome = outcome

    def mark_rolled_back(self, now: datetime) -> bool:
        """A later rollback replaced this (succeeded or failed) deployment; False otherwise."""
        if self.state not in (DeploymentState.SUCCEEDED, DeploymentState.FAILED):
            return False
        self._move(DeploymentState.ROLLED_BACK, now)
        return True

    # ------------------------------------------------------------------ events

    def event_data(self) -> dict[str, Any]:
        """What a notification about this deployment needs, JSON-ready."""
        data: dict[str, Any] = {
            "deployment": self.id,
            "service": self.service,
            "environment": self.environment,
            "version": self.release.version,
            "artifact": self.release.artifact,
            "previous_version": self.previous.version if self.previous else None,
            "previous_artifact": self.previous.artifact if self.previous else None,
            "kind": self.kind.value,
            "state": self.state.value,
            "requested_by": self.requested_by,
            "reason": self.reason,
            "outcome": self.outcome,
        }
        if self.is_rollback:
            # the article's fields: rolled back FROM what ran, TO the known-good release
            data["rolled_back_from"] = data["previous_version"]
            data["rolled_back_to"] = self.release.version
            data["replaces_deployment"] = self.replaces
        return data

    def _record(self, type_: EventType, now: datetime, *, actor: str, **extra: Any) -> None:
        data = self.event_data()
        data["actor"] = actor
        data.update(extra)
        self.events.append(
            DomainEvent(
                type=type_,
                subject=f"deployment/{self.number}",
                time=now,
                service=self.service,
                environment=self.environment,
                actor=actor,
                data=data,
            )
        )


@dataclass(frozen=True)
class FollowUp:
    """What must happen after a deployment finished, outside its transaction."""

    auto_rollback: bool = False
    """A promotion failed where the environment says ``auto_rollback: true``."""
    auto_promote: bool = False
    """The environment is free and nothing else follows: try the auto-promotion rule
    (here, and in later environments a verified success may open)."""
    reason: str = ""


@dataclass
class Environment:
    """One stage of a service's pipeline: who holds it, what runs, the anchor, the pin."""

    id: int
    service: str
    name: str
    holder: int | None = None
    last_deployment: int | None = None
    current: ReleaseRef | None = None
    stable: ReleaseRef | None = None
    stable_deployment: int | None = None
    pinned: ReleaseRef | None = None
    pinned_reason: str | None = None
    auto_promote: bool = False
    auto_rollback: bool = False
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    # ------------------------------------------------------------------ holding

    @property
    def free(self) -> bool:
        return self.holder is None

    def refuse_pinned(self, release: ReleaseRef) -> None:
        """Conflict when a rollback pinned the environment to another release."""
        if self.pinned is not None and self.pinned.id != release.id:
            raise Conflict(
                f"{self.name} of {self.service} is pinned to {self.pinned.version} "
                f"since a rollback ({self.pinned_reason or 'no reason given'}); "
                f"unpin it first: relgate unpin {self.service} {self.name}"
            )

    def refuse_held(self, holder: Deployment | None) -> None:
        """Conflict naming the deployment that holds the environment, if one does."""
        if self.holder is None:
            return
        what = f" ({holder.release.version}, {holder.state})" if holder is not None else ""
        raise Conflict(
            f"{self.name} of {self.service} is held by deployment {self.holder}{what}; "
            "wait for it to finish or cancel it"
        )

    def hold(self, deployment: Deployment, now: datetime) -> None:
        """Let ``deployment`` hold the environment; Conflict when another one does.

        The store makes this safe between transactions (a conditional UPDATE);
        here it is checked against what was loaded.
        """
        if deployment.environment != self.name or deployment.service != self.service:
            raise ValueError("a deployment holds only its own environment")
        if self.holder is not None and self.holder != deployment.id:
            self.refuse_held(None)
        self.holder = deployment.number
        self.last_deployment = deployment.number
        deployment.opened(now)

    def release_hold(self, deployment: Deployment) -> bool:
        """Let go of the environment if ``deployment`` holds it; return whether it did."""
        if self.holder != deployment.id:
            return False
        self.holder = None
        return True

    # ------------------------------------------------------------------ running

    def start(self, deployment: Deployment, now: datetime) -> None:
        """The deployment starts deploying; what runs stays ``current`` until it ends."""
        deployment.start(now, previous=self.current)

    def being_deployed(self, holder: Deployment | None) -> Deployment | None:
        """The deployment putting a release in now (deploying or verifying), if any."""
        if holder is not None and holder.id == self.holder and holder.running:
            return holder
        return None

    def succeeded(
        self, deployment: Deployment, now: datetime, reason: str, replaced: Deployment | None
    ) -> FollowUp:
        """The deployment verified healthy: it runs here and is the stable anchor.

        A rollback marks the deployment it replaced ``rolled_back``.
        """
        deployment.succeed(now, reason)
        self.current = deployment.release
        self.stable = deployment.release
        self.stable_deployment = deployment.id
        if replaced is not None and deployment.is_rollback:
            replaced.mark_rolled_back(now)
        self.release_hold(deployment)
        return FollowUp(auto_promote=True)

    def failed(self, deployment: Deployment, now: datetime, reason: str) -> FollowUp:
        """The deployment failed: it may have half-run, so its release counts as current.

        A failed promotion wants an auto-rollback where the environment says so.
        """
        started = deployment.running
        deployment.fail(now, reason)
        if started:
            self.current = deployment.release
        self.release_hold(deployment)
        wants_rollback = self.auto_rollback and not deployment.is_rollback and started
        return FollowUp(
            auto_rollback=wants_rollback,
            auto_promote=not wants_rollback,
            reason=reason,
        )

    def cancelled(self, deployment: Deployment, now: datetime, outcome: str) -> FollowUp:
        """A deployment that had not started is cancelled; the environment is free again."""
        deployment.cancel(now, outcome)
        self.release_hold(deployment)
        return FollowUp(auto_promote=True)

    def rejected(
        self, deployment: Deployment, now: datetime, approver: str, comment: str
    ) -> FollowUp:
        """An approver rejected the waiting deployment; the environment is free again."""
        deployment.reject(now, approver, comment)
        self.release_hold(deployment)
        return FollowUp(auto_promote=True)

    # ------------------------------------------------------------------ pinning

    def pin(self, release: ReleaseRef, reason: str) -> None:
        """A rollback keeps automatic promotion away until a person unpins."""
        self.pinned = release
        self.pinned_reason = reason

    def unpin(self) -> ReleaseRef | None:
        """Let automatic promotion resume; return what was pinned."""
        before = self.pinned
        self.pinned = None
        self.pinned_reason = None
        return before

    # ------------------------------------------------------------------ auto-promotion

    def auto_promotion_candidates(
        self, releases: Iterable[ReleaseRef], tried: Iterable[int] = ()
    ) -> list[ReleaseRef]:
        """Releases this environment would take on its own, newest first.

        None unless it is auto_promote, free and not pinned; only releases newer
        than what runs here and never deployed here before (``tried``: release
        ids, so a rejected or failed release is not requested again). The caller
        promotes the first whose gates pass, once.
        """
        if not self.auto_promote or self.holder is not None or self.pinned is not None:
            return []
        seen = set(tried)
        return [r for r in newest_first(releases) if r.id not in seen and is_newer(r, self.current)]


def drain(*objects: Deployment | Environment | None) -> list[DomainEvent]:
    """Take the recorded events out of ``objects``, in the order they happened."""
    events: list[DomainEvent] = []
    for obj in objects:
        if obj is None:
            continue
        events.extend(obj.events)
        obj.events.clear()
    events.sort(key=lambda e: e.time)
    return events
