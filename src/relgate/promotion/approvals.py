"""Approving and rejecting a deployment that waits, and cancelling one."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.duties import check_may_approve
from relgate.auth.model import Action, Principal
from relgate.errors import Conflict, Forbidden
from relgate.limits import check_text
from relgate.promotion import attempts, transitions
from relgate.promotion.core import PromotionCore, _duties, _env_spec, _gate_check
from relgate.promotion.lifecycle import FollowUp
from relgate.promotion.model import DeploymentState
from relgate.promotion.repository import SqlDeployments
from relgate.promotion.views import DeploymentView
from relgate.store import queries
from relgate.store.tables import ApprovalRow, DeploymentRow, EnvironmentRow, ReleaseRow
from relgate.store.uow import UnitOfWork


class Approvals(PromotionCore):
    """decide() and cancel() of PromotionService."""

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
        follow_up: FollowUp | None = None
        with self._uow() as uow:
            session = uow.session
            svc = queries.service_by_name(session, service)
            spec, _ = self._pipeline(session, svc)
            env_spec = _env_spec(spec, environment, svc.name)
            release = queries.release_by_version(session, svc, version)
            env_row = queries.environment(session, svc, environment, lock=True)
            row = self._decidable(session, principal, release, env_row, service, environment)
            decision = "approved" if approve else "rejected"
            session.add(
                ApprovalRow(
                    release_id=release.id,
                    environment=environment,
                    deployment_id=row.id,
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
                subject=f"deployment/{row.id}",
                at=now,
                after={"comment": comment, "version": version, "environment": environment},
            )
            store = SqlDeployments(session)
            store.environment_of(env_row)
            deployment = store.deployment_of(row)
            if not approve:
                before = deployment.state
                follow_up = transitions.reject(
                    store, deployment, principal.name, comment, now, env_spec
                )
                self._audit_finished(uow, row.id, before.value, deployment.state.value, row.outcome)
            else:
                gates = self._evaluate(session, svc, spec, env_spec, release, row.requested_by, row)
                deployment.gate_results = [g.__dict__ for g in gates]
                check = _gate_check(f"{service}@{version}", environment, gates)
                queue = transitions.approve(
                    store, deployment, principal.name, comment, gates_pass=check.passed, now=now
                )
            self._publish(uow, store)
            uow.commit()
            view = self._view(session, row)
        if queue:
            self._queued()
        self.after(service, environment, follow_up)
        return view

    def approval_refusal(
        self, principal: Principal, service: str, version: str, environment: str
    ) -> str | None:
        """Why ``decide`` would refuse ``principal`` now, or None when it would take the decision.

        The same checks as ``decide`` (role and scope, a deployment waiting for
        approval, separation of duties, one decision per person), without a
        change: for a page to show the reason instead of the buttons. Raises
        NotFound for an unknown service, release or environment.
        """
        try:
            principal.require(Action.APPROVE, service=service, environment=environment)
            with self._uow() as uow:
                session = uow.session
                svc = queries.service_by_name(session, service)
                spec, _ = self._pipeline(session, svc)
                _env_spec(spec, environment, svc.name)
                release = queries.release_by_version(session, svc, version)
                env_row = queries.environment(session, svc, environment)
                self._decidable(session, principal, release, env_row, service, environment)
        except (Forbidden, Conflict) as refused:
            return refused.message
        return None

    def _decidable(
        self,
        session: Session,
        principal: Principal,
        release: ReleaseRow,
        env_row: EnvironmentRow,
        service: str,
        environment: str,
    ) -> DeploymentRow:
        """The deployment ``principal`` may decide on; Conflict or Forbidden saying why not."""
        ref = f"{service}@{release.version}"
        row = self._waiting_deployment(session, env_row, release)
        if row is None or row.state != DeploymentState.WAITING_FOR_APPROVAL:
            raise Conflict(f"no deployment of {ref} waits for approval in {environment}")
        check_may_approve(principal, _duties(release, row, ref))
        already = session.scalar(
            select(ApprovalRow.approver).where(
                ApprovalRow.deployment_id == row.id,
                or_(
                    ApprovalRow.approver_identity == principal.identity,
                    ApprovalRow.approver == principal.name,
                ),
            )
        )
        if already is not None:
            raise Conflict(
                f"{principal.identity!r} already decided on deployment {row.id} "
                f"(as token {already!r}); one person decides once"
            )
        return row

    def _audit_finished(
        self, uow: UnitOfWork, deployment_id: int, before: str, state: str, outcome: str
    ) -> None:
        audit.append(
            uow,
            actor="relgate",
            action=f"deployment.{state}",
            subject=f"deployment/{deployment_id}",
            at=self._clock.now(),
            before={"state": before},
            after={"state": state, "outcome": outcome},
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
            # a running deployment: the cancel reaches its deployer through the job
            running = (DeploymentState.DEPLOYING.value, DeploymentState.VERIFYING.value)
            if row.state in running and attempts.request_cancel(uow.session, deployment_id):
                row.outcome = f"cancelled by {principal.name}: {reason}"
                uow.commit()
                return self._view(uow.session, row)
            store = SqlDeployments(uow.session)
            deployment = store.deployment_of(row)
            before = deployment.state
            follow_up = transitions.cancel(
                store,
                deployment,
                f"cancelled by {principal.name}: {reason}",
                self._clock.now(),
                self._current_spec(uow.session, deployment.service, deployment.environment),
            )
            self._audit_finished(uow, row.id, before.value, deployment.state.value, row.outcome)
            self._publish(uow, store)
            uow.commit()
            view = self._view(uow.session, row)
        self.after(deployment.service, deployment.environment, follow_up)
        return view
