"""What every promotion use case shares: the gates, opening a deployment, publishing events.

PromotionService (relgate.promotion.service) is assembled from this core and
the modules of its use cases (approvals, rollback, status), so that each stays
readable on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from relgate.audit import store as audit
from relgate.auth.duties import Duties
from relgate.auth.model import Action, Principal
from relgate.clock import Clock
from relgate.errors import GateFailed, NotFound
from relgate.notify import outbox
from relgate.promotion.lifecycle import Deployment, Environment, FollowUp
from relgate.promotion.model import DeploymentState
from relgate.promotion.pipeline import EnvironmentSpec, PipelineSpec, deployer_label
from relgate.promotion.repository import SqlDeployments
from relgate.promotion.transitions import open_deployment
from relgate.promotion.views import DeploymentView, GateCheck, GateView
from relgate.store import queries
from relgate.store.tables import (
    ApprovalRow,
    DeploymentRow,
    EnvironmentRow,
    EvidenceRow,
    ReleaseRow,
    ServiceRow,
)
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory, as_utc

JobListener = Callable[[], None]
FreedListener = Callable[[str, str], None]


class GateRefusal(GateFailed):
    """Promotion refused: at least one gate failed. Carries the gate results."""

    def __init__(self, message: str, gates: list[GateView]) -> None:
        super().__init__(message)
        self.gates = gates


class PromotionCore:
    """State and helpers the promotion use cases share."""

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

    def after(self, service: str, environment: str, follow_up: FollowUp | None) -> None:
        """Act on what a finished deployment asks for (overridden by PromotionService)."""

    # ------------------------------------------------------------------ events

    @staticmethod
    def _publish(uow: UnitOfWork, store: SqlDeployments) -> None:
        """Hand the events the lifecycle objects recorded to the outbox (caller commits)."""
        outbox.append(uow.session, store.events())

    # ------------------------------------------------------------------ opening

    def _open(
        self,
        uow: UnitOfWork,
        store: SqlDeployments,
        env: Environment,
        deployment: Deployment,
        opening: Callable[[SqlDeployments, Environment, Deployment, datetime], None] = (
            open_deployment
        ),
    ) -> DeploymentRow:
        """Store ``deployment`` holding ``env``, queue its job, audit it (caller commits).

        Raises Conflict naming the holder when another deployment holds the environment.
        """
        from relgate.errors import Conflict

        session = uow.session
        try:
            opening(store, env, deployment, self._clock.now())
        except Conflict:
            session.rollback()
            fresh = SqlDeployments(session)
            held = fresh.environment(env.service, env.name)
            held.refuse_held(fresh.holder(held))
            raise
        audit.append(
            uow,
            actor=deployment.requested_by,
            action=f"deployment.{deployment.state.value}",
            subject=f"deployment/{deployment.number}",
            at=deployment.created_at,
            after={
                "service": deployment.service,
                "environment": deployment.environment,
                "version": deployment.release.version,
                "kind": deployment.kind.value,
                "reason": deployment.reason,
            },
        )
        return store.row(deployment)

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
        from relgate.promotion.anchors import stable_release
        from relgate.promotion.gates import (
            ApprovalItem,
            EvidenceItem,
            GateContext,
            PerformanceGate,
            evaluate_gates,
        )
        from relgate.promotion.migration_gate import MigrationsGate
        from relgate.promotion.rehearsal_store import rehearsal_facts
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
            rehearsal=rehearsal_facts(session, svc.id, env_spec, release.id, release.version),
            stable=stable_release(session, svc.id, env_spec.name)
            if any(isinstance(gate, MigrationsGate) for gate in env_spec.gates)
            else None,
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

    def _current_spec(
        self, session: Session, service: str, environment: str
    ) -> EnvironmentSpec | None:
        """The rules of ``environment`` in the pipeline in force (None without one)."""
        svc = queries.service_by_name(session, service)
        try:
            spec, _ = self._pipeline(session, svc)
        except NotFound:
            return None
        return spec.environment(environment)

    # ------------------------------------------------------------------ views

    @staticmethod
    def _scoped_deployment(
        session: Session, principal: Principal, action: Action, deployment_id: int
    ) -> DeploymentRow:
        row = queries.deployment(session, deployment_id)
        service = session.scalar(select(ServiceRow.name).where(ServiceRow.id == row.service_id))
        principal.require(action, service=service, environment=row.environment)
        return row

    def _view(
        self, session: Session, row: DeploymentRow, *, service: str | None = None
    ) -> DeploymentView:
        return self._views(session, [row], service=service)[0]

    def _views(
        self, session: Session, rows: list[DeploymentRow], *, service: str | None = None
    ) -> list[DeploymentView]:
        """Render deployments with four queries in all, however many there are."""
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
        deployers = self._deployers_of(session, rows)
        return [
            self._render(
                row,
                releases,
                approvals[row.id],
                service or names.get(row.service_id, "?"),
                deployers.get((row.service_id, row.pipeline_revision, row.environment)),
            )
            for row in rows
        ]

    @staticmethod
    def _deployers_of(
        session: Session, rows: list[DeploymentRow]
    ) -> dict[tuple[int, int, str], str]:
        """(service, revision, environment) -> how it deployed, from the revisions the rows ran."""
        from sqlalchemy import tuple_

        from relgate.store.tables import PipelineRow

        pairs = {(r.service_id, r.pipeline_revision) for r in rows}
        if not pairs:
            return {}
        labels: dict[tuple[int, int, str], str] = {}
        for service_id, revision, spec in session.execute(
            select(PipelineRow.service_id, PipelineRow.revision, PipelineRow.spec).where(
                tuple_(PipelineRow.service_id, PipelineRow.revision).in_(sorted(pairs))
            )
        ):
            try:
                pipeline = PipelineSpec.model_validate(spec)
            except ValueError:
                continue
            for env in pipeline.environments:
                labels[(service_id, revision, env.name)] = deployer_label(env)
        return labels

    @staticmethod
    def _render(
        row: DeploymentRow,
        releases: dict[int, ReleaseRow],
        approvals: list[dict[str, Any]],
        service: str,
        deployer: str | None = None,
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
            deployer=deployer,
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
