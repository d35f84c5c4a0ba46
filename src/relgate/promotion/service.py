"""Use cases of promotion: gate checks, promote, auto-promote; approve, roll back and read.

Applying pipelines lives in relgate.promotion.pipelines. PromotionService is
assembled from relgate.promotion.core (gates, opening a deployment, views),
approvals, rollback and status; this module holds promoting.

A release enters an environment only when every gate passes; there is no skip
switch. An environment is held by at most one active deployment: the rules
live in relgate.promotion.lifecycle and the store takes the environment with a
conditional UPDATE in the transaction that creates the deployment, so two
requests (or two replicas) can never both hold it. Every change hands the
events its objects recorded to the outbox in the same transaction.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.model import Action, Principal, Role
from relgate.errors import Conflict, GateFailed, NotFound
from relgate.limits import check_text
from relgate.promotion.approvals import Approvals
from relgate.promotion.core import GateRefusal, _env_spec, _gate_check
from relgate.promotion.lifecycle import Deployment, FollowUp, ReleaseRef
from relgate.promotion.model import DeploymentKind
from relgate.promotion.overview import OverviewViews
from relgate.promotion.repository import SqlDeployments, apply_spec
from relgate.promotion.rollback import Rollbacks
from relgate.promotion.status import StatusViews
from relgate.promotion.views import DeploymentView
from relgate.store import queries
from relgate.store.tables import DeploymentRow, ReleaseRow, ServiceRow

__all__ = ["GateRefusal", "PromotionService"]

log = logging.getLogger("relgate.promotion")

ROBOT = Principal(name="relgate", role=Role.ADMIN)

# how many releases, newest first, an environment tries when it becomes free:
# each costs a gate evaluation, and an older one is rarely what is wanted
AUTO_PROMOTE_TRIES = 20


class PromotionService(Approvals, Rollbacks, StatusViews, OverviewViews):
    """Promotion's use cases; the API and the CLI call these and nothing below."""

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
            store = SqlDeployments(session)
            env = store.environment_of(queries.environment(session, svc, environment))
            ref = store.release(release.id)
            assert ref is not None
            env.refuse_pinned(ref)
            env.refuse_held(store.holder(env))
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
            deployment = Deployment.request(
                service=svc.name,
                environment=environment,
                release=ref,
                kind=kind,
                actor=principal.name,
                actor_identity=principal.identity,
                now=now,
                pipeline_revision=revision,
                previous=env.current,
                waiting_for_approval=check.waiting_for_approval,
                reason=reason,
                gate_results=[g.__dict__ for g in gates],
            )
            row = self._open(uow, store, env, deployment)
            self._publish(uow, store)
            uow.commit()
            view = self._view(session, row)
        if not check.waiting_for_approval:
            self._queued()
        return view

    # ------------------------------------------------------------------ auto-promotion

    def auto_promote(self, service: str, version: str) -> None:
        """Apply the auto-promotion rule to every auto_promote environment of ``service``.

        Called after a release is created or evidence is added (``version`` is
        that release: it may now pass gates) and whenever an environment became
        free. Each free, unpinned auto_promote environment takes the NEWEST
        eligible release (gates passing, newer than what runs there, never
        deployed there before), once; a failing gate is not an error here.
        """
        with self._uow() as uow:
            svc = uow.session.scalar(select(ServiceRow).where(ServiceRow.name == service))
            if svc is None:
                return
            try:
                spec, _ = self._pipeline(uow.session, svc)
            except NotFound:
                return
            names = [env.name for env in spec.environments if env.auto_promote]
        for name in names:
            self.auto_promote_environment(service, name)

    def auto_promote_environment(self, service: str, environment: str) -> DeploymentView | None:
        """The auto-promotion rule for one environment; return the deployment it opened."""
        with self._auto_lock:
            picked = self._pick_auto_promotion(service, environment)
            if picked is None:
                return None
            try:
                return self.promote(
                    ROBOT, service, picked, environment, kind=DeploymentKind.AUTO_PROMOTE
                )
            except (GateFailed, Conflict, NotFound):
                return None

    def _pick_auto_promotion(self, service: str, environment: str) -> str | None:
        """The newest release ``environment`` takes on its own now, if any."""
        with self._uow() as uow:
            session = uow.session
            svc = session.scalar(select(ServiceRow).where(ServiceRow.name == service))
            if svc is None:
                return None
            try:
                spec, _ = self._pipeline(session, svc)
                env_spec = _env_spec(spec, environment, svc.name)
                store = SqlDeployments(session)
                env = apply_spec(store.environment(service, environment), env_spec)
            except NotFound:
                return None
            if not env.auto_promote or not env.free or env.pinned is not None:
                return None
            releases = [
                ReleaseRef(id_, version, artifact)
                for id_, version, artifact in session.execute(
                    select(ReleaseRow.id, ReleaseRow.version, ReleaseRow.artifact).where(
                        ReleaseRow.service_id == svc.id
                    )
                )
            ]
            tried = session.scalars(
                select(DeploymentRow.release_id)
                .where(
                    DeploymentRow.service_id == svc.id,
                    DeploymentRow.environment == environment,
                )
                .distinct()
            ).all()
            for candidate in env.auto_promotion_candidates(releases, tried)[:AUTO_PROMOTE_TRIES]:
                release = session.get(ReleaseRow, candidate.id)
                assert release is not None
                gates = self._evaluate(session, svc, spec, env_spec, release, ROBOT.name, None)
                check = _gate_check(f"{service}@{candidate.version}", environment, gates)
                if check.passed or check.waiting_for_approval:
                    return candidate.version
            return None

    def after(self, service: str, environment: str, follow_up: FollowUp | None) -> None:
        """Act on what a finished deployment asks for: the auto-promotion rule.

        An auto-rollback is the worker's to start (it logs why one is not possible).
        """
        if follow_up is None or not follow_up.auto_promote:
            return
        try:
            self.auto_promote(service, "")
        except Exception:  # a follow-up must never undo or hide the change it follows
            log.exception("auto-promotion of %s after %s became free failed", service, environment)
