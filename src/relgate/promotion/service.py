"""Use cases of promotion: gate checks, promote, approve, roll back, status, history.

Applying pipelines lives in relgate.promotion.pipelines.

A release enters an environment only when every gate passes; there is no skip
switch. An environment is held by at most one active deployment: it is taken
with a conditional UPDATE in the same transaction that creates the deployment,
so two requests (or two replicas) can never both hold it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, aliased

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.duties import Duties, check_may_approve
from relgate.auth.model import Action, Principal
from relgate.clock import Clock
from relgate.errors import Conflict, GateFailed, NotFound
from relgate.limits import check_text
from relgate.promotion import attempts
from relgate.promotion.model import DeploymentKind, DeploymentState, moved
from relgate.promotion.pipeline import EnvironmentSpec, PipelineSpec
from relgate.promotion.views import DeploymentView, EnvironmentStatus, GateCheck, GateView
from relgate.store import queries
from relgate.store.tables import (
    ApprovalRow,
    AuditRow,
    DeploymentRow,
    EnvironmentRow,
    EvidenceRow,
    JobRow,
    ReleaseRow,
    ServiceRow,
)
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory, as_utc

JobListener = Callable[[], None]


class GateRefusal(GateFailed):
    """Promotion refused: at least one gate failed. Carries the gate results."""

    def __init__(self, message: str, gates: list[GateView]) -> None:
        super().__init__(message)
        self.gates = gates


class PromotionService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock
        self._job_listeners: list[JobListener] = []
        self._auto_lock = threading.Lock()
        self._status_cache: dict[
            tuple[str | None, frozenset[str] | None, frozenset[str] | None], tuple[int, bytes]
        ] = {}

    def on_job_queued(self, listener: JobListener) -> None:
        """Call ``listener()`` after a job was queued, so a worker can start at once."""
        self._job_listeners.append(listener)

    def _queued(self) -> None:
        for listener in self._job_listeners:
            listener()

    # ------------------------------------------------------------------ gates

    def check_gates(
        self, principal: Principal, service: str, version: str, environment: str
    ) -> GateCheck:
        """Evaluate every gate of ``environment`` for ``service@version`` without promoting."""
        principal.require(Action.READ, service=service, environment=environment)
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            spec, _ = self._pipeline(uow.session, svc)
            env_spec = _env_spec(spec, environment, svc.name)
            release = queries.release_by_version(uow.session, svc, version)
            env = queries.environment(uow.session, svc, environment)
            waiting = self._waiting_deployment(uow.session, env, release)
            gates = self._evaluate(
                uow.session,
                svc,
                spec,
                env_spec,
                release,
                waiting.requested_by if waiting else None,
                waiting,
            )
            return _gate_check(f"{service}@{version}", environment, gates)

    def _pipeline(self, session: Session, svc: ServiceRow) -> tuple[PipelineSpec, int]:
        row = queries.latest_pipeline(session, svc)
        return PipelineSpec.model_validate(row.spec), row.revision

    @staticmethod
    def _waiting_deployment(
        session: Session, env: EnvironmentRow, release: ReleaseRow
    ) -> DeploymentRow | None:
        if env.holder_deployment_id is None:
            return None
        row = session.get(DeploymentRow, env.holder_deployment_id)
        if row is not None and row.release_id == release.id:
            return row
        return None

    def _evaluate(
        self,
        session: Session,
        svc: ServiceRow,
        spec: PipelineSpec,
        env_spec: EnvironmentSpec,
        release: ReleaseRow,
        requested_by: str | None,
        deployment: DeploymentRow | None,
    ) -> list[GateView]:
        from relgate.promotion.gates import (
            ApprovalItem,
            EvidenceItem,
            GateContext,
            PerformanceGate,
            evaluate_gates,
        )
        from relgate.promotion.reports import EvidenceKind, PerformanceReport, load_report

        evidence = [
            EvidenceItem(
                kind=EvidenceKind(row.kind),
                environment=row.environment,
                report=load_report(row.kind, row.report),
                created_at=as_utc(row.created_at),
            )
            for row in session.scalars(
                select(EvidenceRow)
                .where(EvidenceRow.release_id == release.id)
                .order_by(EvidenceRow.id)
            )
        ]
        baselines: dict[str, PerformanceReport | None] = {}
        for gate in env_spec.gates:
            if isinstance(gate, PerformanceGate):
                baselines[gate.baseline_environment] = self._baseline(
                    session, svc, gate.baseline_environment
                )
        verified = frozenset(
            session.scalars(
                select(DeploymentRow.environment).where(
                    DeploymentRow.release_id == release.id,
                    DeploymentRow.state == DeploymentState.SUCCEEDED.value,
                    DeploymentRow.verified_at.is_not(None),
                )
            ).all()
        )
        approvals: list[ApprovalItem] = []
        if deployment is not None:
            approvals = [
                ApprovalItem(
                    approver=row.approver,
                    decision=row.decision,  # type: ignore[arg-type]
                    comment=row.comment,
                    created_at=as_utc(row.created_at),
                )
                for row in session.scalars(
                    select(ApprovalRow)
                    .where(ApprovalRow.deployment_id == deployment.id)
                    .order_by(ApprovalRow.id)
                )
            ]
        previous = spec.previous(env_spec.name)
        context = GateContext(
            environment=env_spec.name,
            previous_environment=previous.name if previous else None,
            release_author=release.author,
            requested_by=requested_by,
            evidence=evidence,
            baselines=baselines,
            verified_in=verified,
            approvals=approvals,
            now=self._clock.now(),
            release=f"{svc.name}@{release.version}",
            artifact_digest=release.digest,
        )
        return [
            GateView(gate=result.gate, status=str(result.status), reason=result.reason)
            for result in evaluate_gates(env_spec.gates, context)
        ]

    @staticmethod
    def _baseline(session: Session, svc: ServiceRow, environment: str) -> Any:
        from relgate.promotion.reports import load_report

        env = session.scalar(
            select(EnvironmentRow).where(
                EnvironmentRow.service_id == svc.id, EnvironmentRow.name == environment
            )
        )
        if env is None or env.stable_release_id is None:
            return None
        row = session.scalar(
            select(EvidenceRow)
            .where(
                EvidenceRow.release_id == env.stable_release_id,
                EvidenceRow.kind == "performance",
            )
            .order_by(EvidenceRow.id.desc())
            .limit(1)
        )
        return load_report("performance", row.report) if row is not None else None

    # ------------------------------------------------------------------ promote

    def promote(
        self,
        principal: Principal,
        service: str,
        version: str,
        environment: str,
        *,
        kind: DeploymentKind = DeploymentKind.PROMOTE,
        reason: str = "",
    ) -> DeploymentView:
        """Request a deployment of ``service@version`` into ``environment``.

        Returns the deployment: ``requested`` (a worker deploys it) or
        ``waiting_for_approval``. Raises GateRefusal (exit 1) when a gate other
        than a pending approval fails, Conflict when another deployment holds
        the environment or the environment is pinned, NotFound for unknown names.
        """
        principal.require(Action.PROMOTE, service=service, environment=environment)
        check_text("reason", reason, limits.REASON)
        from relgate.promotion.gates import GateStatus

        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            svc = queries.service_by_name(session, service)
            spec, revision = self._pipeline(session, svc)
            env_spec = _env_spec(spec, environment, svc.name)
            release = queries.release_by_version(session, svc, version)
            env = queries.environment(session, svc, environment)
            if env.pinned_release_id is not None and env.pinned_release_id != release.id:
                pinned = session.get(ReleaseRow, env.pinned_release_id)
                raise Conflict(
                    f"{environment} of {service} is pinned to {pinned.version if pinned else '?'} "
                    f"since a rollback ({env.pinned_reason or 'no reason given'}); "
                    f"unpin it first: relgate unpin {service} {environment}"
                )
            self._raise_if_held(session, env, service, environment)
            gates = self._evaluate(session, svc, spec, env_spec, release, principal.name, None)
            check = _gate_check(f"{service}@{version}", environment, gates)
            if not check.passed and not check.waiting_for_approval:
                failing = [g for g in gates if g.status != GateStatus.PASSED.value]
                audit.append(
                    uow,
                    actor=principal.name,
                    action="promotion.refused",
                    subject=f"release/{service}@{version}",
                    at=now,
                    after={"environment": environment, "gates": [g.__dict__ for g in gates]},
                )
                uow.commit()
                raise GateRefusal(
                    f"{service}@{version} cannot enter {environment}: "
                    + "; ".join(f"{g.gate}: {g.reason}" for g in failing),
                    gates,
                )
            state = (
                DeploymentState.WAITING_FOR_APPROVAL
                if check.waiting_for_approval
                else DeploymentState.REQUESTED
            )
            deployment = self._create_deployment(
                uow,
                svc=svc,
                env=env,
                release=release,
                revision=revision,
                kind=kind,
                state=state,
                actor=principal.name,
                reason=reason,
                gates=gates,
                actor_identity=principal.identity,
            )
            uow.commit()
            view = self._view(session, deployment)
        if state is DeploymentState.REQUESTED:
            self._queued()
        return view

    def _raise_if_held(
        self, session: Session, env: EnvironmentRow, service: str, environment: str
    ) -> None:
        if env.holder_deployment_id is None:
            return
        holder = session.get(DeploymentRow, env.holder_deployment_id)
        if holder is None:
            return
        holder_release = session.get(ReleaseRow, holder.release_id)
        raise Conflict(
            f"{environment} of {service} is held by deployment {holder.id} "
            f"({holder_release.version if holder_release else '?'}, {holder.state}); "
            "wait for it to finish or cancel it"
        )

    def _create_deployment(
        self,
        uow: UnitOfWork,
        *,
        svc: ServiceRow,
        env: EnvironmentRow,
        release: ReleaseRow,
        revision: int,
        kind: DeploymentKind,
        state: DeploymentState,
        actor: str,
        reason: str,
        gates: list[GateView],
        replaces: int | None = None,
        actor_identity: str | None = None,
    ) -> DeploymentRow:
        session = uow.session
        now = self._clock.now()
        row = DeploymentRow(
            service_id=svc.id,
            environment=env.name,
            release_id=release.id,
            version=release.version,
            previous_release_id=env.current_release_id,
            pipeline_revision=revision,
            kind=kind.value,
            state=state.value,
            requested_by=actor,
            requested_by_identity=actor_identity,
            reason=reason,
            outcome="",
            gate_results=[g.__dict__ for g in gates],
            log="",
            created_at=now,
            updated_at=now,
            replaces_deployment_id=replaces,
        )
        session.add(row)
        session.flush()
        # the conditional UPDATE is what makes "one deployment per environment" hold
        # across threads, processes and replicas: only one transaction can see NULL
        taken = session.execute(
            update(EnvironmentRow)
            .where(EnvironmentRow.id == env.id, EnvironmentRow.holder_deployment_id.is_(None))
            .values(holder_deployment_id=row.id, last_deployment_id=row.id)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            session.refresh(env)
            self._raise_if_held(session, env, svc.name, env.name)
            raise Conflict(f"{env.name} of {svc.name} is held by another deployment")
        if state is DeploymentState.REQUESTED:
            session.add(JobRow(kind="deploy", deployment_id=row.id, state="queued", created_at=now))
        audit.append(
            uow,
            actor=actor,
            action=f"deployment.{state.value}",
            subject=f"deployment/{row.id}",
            at=now,
            after={
                "service": svc.name,
                "environment": env.name,
                "version": release.version,
                "kind": kind.value,
                "reason": reason,
            },
        )
        return row

    def auto_promote(self, service: str, version: str) -> None:
        """Promote a release into every auto_promote environment whose gates now pass.

        Called after a release is created, evidence is added or a deployment
        succeeded. Pinned environments and held environments are left alone; a
        failing gate is not an error here.
        """
        from relgate.auth.model import Role

        robot = Principal(name="relgate", role=Role.ADMIN)
        with self._auto_lock:
            with self._uow() as uow:
                svc = uow.session.scalar(select(ServiceRow).where(ServiceRow.name == service))
                if svc is None:
                    return
                try:
                    spec, _ = self._pipeline(uow.session, svc)
                except NotFound:
                    return
                release = uow.session.scalar(
                    select(ReleaseRow).where(
                        ReleaseRow.service_id == svc.id, ReleaseRow.version == version
                    )
                )
                if release is None:
                    return
                candidates = []
                for env_spec in spec.environments:
                    if not env_spec.auto_promote:
                        continue
                    env = uow.session.scalar(
                        select(EnvironmentRow).where(
                            EnvironmentRow.service_id == svc.id,
                            EnvironmentRow.name == env_spec.name,
                        )
                    )
                    if env is None or env.holder_deployment_id is not None:
                        continue
                    if env.pinned_release_id is not None:
                        continue
                    if env.current_release_id == release.id or self._is_newer_there(
                        uow.session, env, release
                    ):
                        continue
                    candidates.append(env_spec.name)
            for name in candidates:
                try:
                    self.promote(robot, service, version, name, kind=DeploymentKind.AUTO_PROMOTE)
                except (GateFailed, Conflict, NotFound):
                    continue

    @staticmethod
    def _is_newer_there(session: Session, env: EnvironmentRow, release: ReleaseRow) -> bool:
        # never auto-promote an older release over a newer one that got there first
        if env.current_release_id is None:
            return False
        current = session.get(ReleaseRow, env.current_release_id)
        if current is None:
            return False
        from relgate.versioning.semver import Version

        try:
            return Version.parse(current.version) >= Version.parse(release.version)
        except Exception:
            return current.id > release.id

    # ------------------------------------------------------------------ approvals

    def decide(
        self,
        principal: Principal,
        service: str,
        version: str,
        environment: str,
        *,
        approve: bool,
        comment: str = "",
    ) -> DeploymentView:
        """Approve or reject the deployment of ``service@version`` waiting in ``environment``.

        Raises Forbidden for a non-approver, outside the token's scope, or for
        an author, co-author or the requester of the deployment under any token
        of theirs (separation of duties, see ``auth.duties``); Conflict when
        nothing waits for an approval or this identity already decided.
        """
        principal.require(Action.APPROVE, service=service, environment=environment)
        check_text("comment", comment, limits.COMMENT)
        now = self._clock.now()
        queue = False
        with self._uow() as uow:
            session = uow.session
            svc = queries.service_by_name(session, service)
            spec, _ = self._pipeline(session, svc)
            env_spec = _env_spec(spec, environment, svc.name)
            release = queries.release_by_version(session, svc, version)
            env = queries.environment(session, svc, environment, lock=True)
            deployment = self._waiting_deployment(session, env, release)
            if deployment is None or deployment.state != DeploymentState.WAITING_FOR_APPROVAL:
                raise Conflict(
                    f"no deployment of {service}@{version} waits for approval in {environment}"
                )
            check_may_approve(principal, _duties(release, deployment, f"{service}@{version}"))
            already = session.scalar(
                select(ApprovalRow.approver).where(
                    ApprovalRow.deployment_id == deployment.id,
                    or_(
                        ApprovalRow.approver_identity == principal.identity,
                        ApprovalRow.approver == principal.name,
                    ),
                )
            )
            if already is not None:
                raise Conflict(
                    f"{principal.identity!r} already decided on deployment {deployment.id} "
                    f"(as token {already!r}); one person decides once"
                )
            decision = "approved" if approve else "rejected"
            session.add(
                ApprovalRow(
                    release_id=release.id,
                    environment=environment,
                    deployment_id=deployment.id,
                    approver=principal.name,
                    approver_identity=principal.identity,
                    decision=decision,
                    comment=comment,
                    created_at=now,
                )
            )
            session.flush()
            audit.append(
                uow,
                actor=principal.name,
                action=f"deployment.{decision}",
                subject=f"deployment/{deployment.id}",
                at=now,
                after={"comment": comment, "version": version, "environment": environment},
            )
            if not approve:
                self._finish(
                    uow,
                    deployment,
                    DeploymentState.REJECTED,
                    f"rejected by {principal.name}: {comment}",
                )
            else:
                gates = self._evaluate(
                    session, svc, spec, env_spec, release, deployment.requested_by, deployment
                )
                deployment.gate_results = [g.__dict__ for g in gates]
                check = _gate_check(f"{service}@{version}", environment, gates)
                if check.passed:
                    deployment.state = moved(
                        deployment.state, DeploymentState.REQUESTED, deployment.id
                    )
                    deployment.updated_at = now
                    session.add(
                        JobRow(
                            kind="deploy",
                            deployment_id=deployment.id,
                            state="queued",
                            created_at=now,
                        )
                    )
                    queue = True
            uow.commit()
            view = self._view(session, deployment)
        if queue:
            self._queued()
        return view

    def _finish(
        self, uow: UnitOfWork, deployment: DeploymentRow, state: DeploymentState, outcome: str
    ) -> None:
        """Move a deployment to a final state and free its environment (caller commits)."""
        now = self._clock.now()
        before = deployment.state
        deployment.state = moved(deployment.state, state, deployment.id)
        deployment.outcome = outcome
        deployment.finished_at = now
        deployment.updated_at = now
        queries.free_environment(uow.session, deployment)
        audit.append(
            uow,
            actor="relgate",
            action=f"deployment.{state.value}",
            subject=f"deployment/{deployment.id}",
            at=now,
            before={"state": before},
            after={"state": state.value, "outcome": outcome},
        )

    def cancel(self, principal: Principal, deployment_id: int, reason: str = "") -> DeploymentView:
        """Cancel a deployment; raises Conflict once it has ended.

        One not started yet is cancelled at once. One deploying or verifying is
        marked for its worker, which stops the deployer at its next heartbeat and
        records it failed with this reason (relgate.promotion.attempts).
        """
        principal.require(Action.PROMOTE)
        check_text("reason", reason, limits.REASON)
        with self._uow() as uow:
            row = self._scoped_deployment(uow.session, principal, Action.PROMOTE, deployment_id)
            # [procs] a running deployment: the cancel reaches its deployer through the job
            running = (DeploymentState.DEPLOYING.value, DeploymentState.VERIFYING.value)
            if row.state in running and attempts.request_cancel(uow.session, deployment_id):
                row.outcome = f"cancelled by {principal.name}: {reason}"
                uow.commit()
                return self._view(uow.session, row)
            if row.state not in (
                DeploymentState.REQUESTED.value,
                DeploymentState.WAITING_FOR_APPROVAL.value,
            ):
                raise Conflict(
                    f"deployment {deployment_id} is {row.state}; it can no longer be cancelled"
                )
            self._finish(
                uow, row, DeploymentState.CANCELLED, f"cancelled by {principal.name}: {reason}"
            )
            uow.commit()
            return self._view(uow.session, row)

    # ------------------------------------------------------------------ rollback

    def rollback(
        self,
        principal: Principal,
        service: str,
        environment: str,
        *,
        reason: str,
        to_version: str | None = None,
        kind: DeploymentKind = DeploymentKind.ROLLBACK,
    ) -> DeploymentView:
        """Redeploy a known-good release in ``environment`` at once, without gates.

        The target is ``to_version`` (which must once have succeeded there) or
        else the newest release that succeeded there other than the one there
        now. The environment is pinned to it until a person unpins it. A
        deployment waiting for approval or not yet started is cancelled; one
        that is running is a Conflict. Raises Conflict when there is nothing
        known-good to roll back to.
        """
        principal.require(Action.ROLLBACK, service=service, environment=environment)
        check_text("reason", reason, limits.REASON)
        if not reason.strip():
            from relgate.errors import BadInput

            raise BadInput("a rollback needs a reason: --reason '…'")
        with self._uow() as uow:
            session = uow.session
            svc = queries.service_by_name(session, service)
            _, revision = self._pipeline(session, svc)
            env = queries.environment(session, svc, environment, lock=True)
            target = self._rollback_target(session, svc, env, to_version)
            if env.holder_deployment_id is not None:
                holder = session.get(DeploymentRow, env.holder_deployment_id)
                if holder is not None and holder.state in (
                    DeploymentState.REQUESTED.value,
                    DeploymentState.WAITING_FOR_APPROVAL.value,
                ):
                    self._finish(
                        uow, holder, DeploymentState.CANCELLED, f"cancelled by a rollback: {reason}"
                    )
                    session.flush()
                    session.refresh(env)
                else:
                    self._raise_if_held(session, env, service, environment)
            current = self._current_deployment(session, env)
            deployment = self._create_deployment(
                uow,
                svc=svc,
                env=env,
                release=target,
                revision=revision,
                kind=kind,
                state=DeploymentState.REQUESTED,
                actor=principal.name,
                reason=reason,
                gates=[
                    GateView(
                        gate="rollback",
                        status="pass",
                        reason=(
                            f"{target.version} passed {environment}'s gates "
                            "when it was first deployed"
                        ),
                    )
                ],
                replaces=current.id if current is not None else None,
                actor_identity=principal.identity,
            )
            env.pinned_release_id = target.id
            env.pinned_version = target.version
            env.pinned_reason = reason
            audit.append(
                uow,
                actor=principal.name,
                action="rollback.requested",
                subject=f"environment/{service}/{environment}",
                at=self._clock.now(),
                before={"version": queries.release_version(session, env.current_release_id)},
                after={"version": target.version, "reason": reason, "deployment": deployment.id},
            )
            uow.commit()
            view = self._view(session, deployment)
        self._queued()
        return view

    @staticmethod
    def _current_deployment(session: Session, env: EnvironmentRow) -> DeploymentRow | None:
        return session.scalar(
            select(DeploymentRow)
            .where(
                DeploymentRow.service_id == env.service_id,
                DeploymentRow.environment == env.name,
                DeploymentRow.state.in_(
                    [DeploymentState.SUCCEEDED.value, DeploymentState.FAILED.value]
                ),
            )
            .order_by(DeploymentRow.id.desc())
            .limit(1)
        )

    def _rollback_target(
        self, session: Session, svc: ServiceRow, env: EnvironmentRow, to_version: str | None
    ) -> ReleaseRow:
        succeeded = (
            select(DeploymentRow.release_id)
            .where(
                DeploymentRow.service_id == svc.id,
                DeploymentRow.environment == env.name,
                DeploymentRow.verified_at.is_not(None),
            )
            .distinct()
        )
        good_ids = set(session.scalars(succeeded).all())
        if to_version is not None:
            release = queries.release_by_version(session, svc, to_version)
            if release.id not in good_ids:
                raise Conflict(
                    f"{svc.name}@{to_version} never deployed and verified in {env.name}; "
                    "a rollback goes only to a release that once succeeded there"
                )
            return release
        candidates = [rid for rid in good_ids if rid != env.current_release_id]
        if not candidates:
            raise Conflict(
                f"{env.name} of {svc.name} has no earlier release that deployed and verified "
                "there: nothing to roll back to"
            )
        target_id: int | None
        if env.stable_release_id in candidates:
            target_id = env.stable_release_id
        else:
            # the newest known-good release before the current one
            target_id = session.scalar(
                select(DeploymentRow.release_id)
                .where(
                    DeploymentRow.service_id == svc.id,
                    DeploymentRow.environment == env.name,
                    DeploymentRow.release_id.in_(candidates),
                )
                .order_by(DeploymentRow.id.desc())
                .limit(1)
            )
        target = session.get(ReleaseRow, target_id) if target_id is not None else None
        assert target is not None
        return target

    def unpin(self, principal: Principal, service: str, environment: str) -> None:
        """Let automatic promotion into ``environment`` resume after a rollback."""
        principal.require(Action.MANAGE_ENVIRONMENTS, service=service, environment=environment)
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            env = queries.environment(uow.session, svc, environment)
            before = queries.release_version(uow.session, env.pinned_release_id)
            env.pinned_release_id = None
            env.pinned_version = None
            env.pinned_reason = None
            audit.append(
                uow,
                actor=principal.name,
                action="environment.unpinned",
                subject=f"environment/{service}/{environment}",
                at=self._clock.now(),
                before={"pinned": before},
            )
            uow.commit()

    # ------------------------------------------------------------------ reading

    def deployment(self, principal: Principal, deployment_id: int) -> DeploymentView:
        """Return one deployment; raises NotFound, Forbidden outside the token's scope."""
        principal.require(Action.READ)
        with self._uow() as uow:
            row = self._scoped_deployment(uow.session, principal, Action.READ, deployment_id)
            return self._view(uow.session, row)

    def deployment_log(self, principal: Principal, deployment_id: int) -> str:
        """Return what the deploy and verify commands printed.

        Those commands may print secrets, so only a role that may deploy to the
        deployment's service and environment reads it; raises Forbidden, NotFound.
        """
        principal.require(Action.PROMOTE)
        with self._uow() as uow:
            row = self._scoped_deployment(uow.session, principal, Action.PROMOTE, deployment_id)
            return row.log

    @staticmethod
    def _scoped_deployment(
        session: Session, principal: Principal, action: Action, deployment_id: int
    ) -> DeploymentRow:
        row = queries.deployment(session, deployment_id)
        service = session.scalar(select(ServiceRow.name).where(ServiceRow.id == row.service_id))
        principal.require(action, service=service, environment=row.environment)
        return row

    def history(
        self, principal: Principal, service: str, environment: str | None, limit: int = 50
    ) -> list[DeploymentView]:
        """Return deployments of ``service`` (in one environment, or all), newest first.

        A token scoped to some environments sees only theirs; raises Forbidden for
        a service or an environment outside its scope.
        """
        principal.require(Action.READ, service=service, environment=environment)
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            query = select(DeploymentRow).where(DeploymentRow.service_id == svc.id)
            if environment is not None:
                queries.environment(uow.session, svc, environment)
                query = query.where(DeploymentRow.environment == environment)
            elif principal.environments is not None:
                query = query.where(DeploymentRow.environment.in_(sorted(principal.environments)))
            rows = uow.session.scalars(query.order_by(DeploymentRow.id.desc()).limit(limit)).all()
            return self._views(uow.session, list(rows), service=svc.name)

    def status(self, principal: Principal, service: str | None = None) -> list[EnvironmentStatus]:
        """Return every (or one) service's environments with current, stable and last deployment.

        A scoped token sees only the services and environments of its scope;
        asking for a service outside it raises Forbidden.
        """
        principal.require(Action.READ, service=service)
        last = aliased(DeploymentRow)
        # One query over environment rows, which carry their releases' versions:
        # joining releases four times made the planner scan it (bench/RESULTS.md).
        query = (
            select(
                ServiceRow.name,
                EnvironmentRow.name,
                EnvironmentRow.position,
                EnvironmentRow.current_version,
                EnvironmentRow.stable_version,
                EnvironmentRow.pinned_version,
                last.id,
                last.state,
                last.version,
                EnvironmentRow.holder_deployment_id,
            )
            .join(EnvironmentRow, EnvironmentRow.service_id == ServiceRow.id)
            .outerjoin(last, last.id == EnvironmentRow.last_deployment_id)
            .where(EnvironmentRow.active.is_(True))
            .order_by(ServiceRow.name, EnvironmentRow.position)
        )
        with self._uow() as uow:
            if service is not None:
                scope = queries.service_by_name(uow.session, service).id
                query = query.where(ServiceRow.id == scope)
            if principal.services is not None:
                query = query.where(ServiceRow.name.in_(sorted(principal.services)))
            if principal.environments is not None:
                query = query.where(EnvironmentRow.name.in_(sorted(principal.environments)))
            rows = uow.session.connection().execute(query).all()
        return [
            EnvironmentStatus(
                service=row[0],
                environment=row[1],
                position=row[2],
                current=row[3],
                stable=row[4],
                pinned=row[5],
                last_deployment=row[6],
                last_state=row[7],
                last_version=row[8],
                holder=row[9],
            )
            for row in rows
        ]

    def status_json(self, principal: Principal, service: str | None = None) -> bytes:
        """Return status() as JSON, computed again only when the state changed.

        Every change of state appends an audit event, so the newest audit
        sequence number is the version of the state: one index lookup tells
        whether the cached answer still holds, on any replica.
        """
        import orjson

        principal.require(Action.READ, service=service)
        with self._uow() as uow:
            head = uow.session.scalar(select(func.max(AuditRow.seq))) or 0
        # the answer depends on the token's scope too
        key = (service, principal.services, principal.environments)
        cached = self._status_cache.get(key)
        if cached is not None and cached[0] == head:
            return cached[1]
        # orjson writes the dataclasses as they are, without a dict per row
        body = orjson.dumps(self.status(principal, service))
        if len(self._status_cache) > 256:
            self._status_cache.clear()
        self._status_cache[key] = (head, body)
        return body

    def _view(
        self, session: Session, row: DeploymentRow, *, service: str | None = None
    ) -> DeploymentView:
        return self._views(session, [row], service=service)[0]

    def _views(
        self, session: Session, rows: list[DeploymentRow], *, service: str | None = None
    ) -> list[DeploymentView]:
        """Render deployments with three queries in all, however many there are."""
        release_ids = {r.release_id for r in rows} | {
            r.previous_release_id for r in rows if r.previous_release_id is not None
        }
        releases = {
            release.id: release
            for release in session.scalars(select(ReleaseRow).where(ReleaseRow.id.in_(release_ids)))
        }
        approvals: dict[int, list[dict[str, Any]]] = {r.id: [] for r in rows}
        for a in session.scalars(
            select(ApprovalRow)
            .where(ApprovalRow.deployment_id.in_(list(approvals)))
            .order_by(ApprovalRow.id)
        ):
            assert a.deployment_id is not None
            approvals[a.deployment_id].append(
                {
                    "approver": a.approver,
                    "decision": a.decision,
                    "comment": a.comment,
                    "at": as_utc(a.created_at).isoformat(),
                }
            )
        names: dict[int, str] = {}
        if service is None:
            names = dict(
                session.execute(
                    select(ServiceRow.id, ServiceRow.name).where(
                        ServiceRow.id.in_({r.service_id for r in rows})
                    )
                ).all()
            )
        return [
            self._render(
                row, releases, approvals[row.id], service or names.get(row.service_id, "?")
            )
            for row in rows
        ]

    @staticmethod
    def _render(
        row: DeploymentRow,
        releases: dict[int, ReleaseRow],
        approvals: list[dict[str, Any]],
        service: str,
    ) -> DeploymentView:
        release = releases[row.release_id]
        previous = releases.get(row.previous_release_id) if row.previous_release_id else None
        return DeploymentView(
            id=row.id,
            service=service,
            environment=row.environment,
            version=release.version,
            artifact=release.artifact,
            author=release.author,
            previous_version=previous.version if previous else None,
            kind=row.kind,
            state=row.state,
            requested_by=row.requested_by,
            reason=row.reason,
            outcome=row.outcome,
            gates=[GateView(**g) for g in row.gate_results],
            approvals=approvals,
            created_at=as_utc(row.created_at),
            started_at=as_utc(row.started_at) if row.started_at else None,
            finished_at=as_utc(row.finished_at) if row.finished_at else None,
        )


def _env_spec(spec: PipelineSpec, environment: str, service: str) -> EnvironmentSpec:
    env = spec.environment(environment)
    if env is None:
        names = ", ".join(e.name for e in spec.environments)
        raise NotFound(f"service {service!r} has no environment {environment!r} (it has: {names})")
    return env


def _gate_check(release: str, environment: str, gates: list[GateView]) -> GateCheck:
    passed = all(g.status == "pass" for g in gates)
    waiting = (not passed) and all(
        g.status == "pass" or (g.gate == "approval" and g.status == "missing") for g in gates
    )
    return GateCheck(
        release=release,
        environment=environment,
        gates=gates,
        waiting_for_approval=waiting,
        passed=passed,
    )


def _duties(release: ReleaseRow, deployment: DeploymentRow, ref: str) -> Duties:
    co_authors = [t for p in release.co_authors or [] for t in (p.get("name"), p.get("email"))]
    return Duties(
        release=ref,
        authors=tuple(t for t in (release.author, release.author_email) if t),
        co_authors=tuple(t for t in co_authors if t),
        author_identities=tuple(release.author_identities or ()),
        requester=deployment.requested_by,
        requester_identity=deployment.requested_by_identity,
    )
