"""Rolling back: redeploy a known-good release at once, pin the environment, unpin it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.model import Action, Principal
from relgate.errors import Conflict
from relgate.limits import check_text
from relgate.promotion import transitions
from relgate.promotion.core import PromotionCore
from relgate.promotion.model import DeploymentKind, DeploymentState
from relgate.promotion.repository import SqlDeployments
from relgate.promotion.views import DeploymentView, RollbackTarget
from relgate.store import queries
from relgate.store.tables import DeploymentRow, EnvironmentRow, ReleaseRow, ServiceRow


class Rollbacks(PromotionCore):
    """rollback(), rollback_target() and unpin() of PromotionService."""

    def rollback_target(
        self, principal: Principal, service: str, environment: str
    ) -> RollbackTarget:
        """Return the release a rollback of ``environment`` would redeploy now, changing nothing.

        The same choice as :meth:`rollback` without ``to_version``: the stable
        anchor, else the newest release that once succeeded there other than the
        one running. None (with the reason) when there is none; ``blocked`` names
        the running deployment that would make a rollback a Conflict now. Raises
        Forbidden outside the token's scope, NotFound for unknown names.
        """
        principal.require(Action.READ, service=service, environment=environment)
        with self._uow() as uow:
            session = uow.session
            svc = queries.service_by_name(session, service)
            env_row = queries.environment(session, svc, environment)
            blocked = ""
            store = SqlDeployments(session)
            env = store.environment_of(env_row)
            holder = store.holder(env)
            if holder is not None and holder.state in (
                DeploymentState.DEPLOYING,
                DeploymentState.VERIFYING,
            ):
                try:
                    env.refuse_held(holder)
                except Conflict as exc:
                    blocked = exc.message
            try:
                target = self._rollback_target(session, svc, env_row, None)
            except Conflict as exc:
                return RollbackTarget(svc.name, env_row.name, None, reason=exc.message)
            return RollbackTarget(
                svc.name,
                env_row.name,
                target.version,
                stable=target.id == env_row.stable_release_id,
                blocked=blocked,
            )

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
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            svc = queries.service_by_name(session, service)
            _, revision = self._pipeline(session, svc)
            env_row = queries.environment(session, svc, environment, lock=True)
            target = self._rollback_target(session, svc, env_row, to_version)
            store = SqlDeployments(session)
            env = store.environment_of(env_row)
            cancelled = transitions.make_room_for_rollback(store, env, reason, now)
            if cancelled is not None:
                audit.append(
                    uow,
                    actor="relgate",
                    action=f"deployment.{cancelled.state.value}",
                    subject=f"deployment/{cancelled.number}",
                    at=now,
                    before={"state": DeploymentState.REQUESTED.value},
                    after={"state": cancelled.state.value, "outcome": cancelled.outcome},
                )
            current = self._current_deployment(session, env_row)
            before = env.current.version if env.current else None
            target_ref = store.release(target.id)
            assert target_ref is not None
            deployment = transitions.new_rollback(
                env,
                target=target_ref,
                replaces=current.id if current is not None else None,
                kind=kind,
                actor=principal.name,
                actor_identity=principal.identity,
                reason=reason,
                revision=revision,
                now=now,
            )
            row = self._open(uow, store, env, deployment, transitions.open_rollback)
            audit.append(
                uow,
                actor=principal.name,
                action="rollback.requested",
                subject=f"environment/{service}/{environment}",
                at=self._clock.now(),
                before={"version": before},
                after={"version": target.version, "reason": reason, "deployment": row.id},
            )
            self._publish(uow, store)
            uow.commit()
            view = self._view(session, row)
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
            return _above_schema_floor(session, svc, env, release)
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
        return _above_schema_floor(session, svc, env, target)

    def unpin(self, principal: Principal, service: str, environment: str) -> None:
        """Let automatic promotion into ``environment`` resume after a rollback."""
        principal.require(Action.MANAGE_ENVIRONMENTS, service=service, environment=environment)
        with self._uow() as uow:
            store = SqlDeployments(uow.session)
            env = store.environment(service, environment)
            before = env.unpin()
            store.save(env)
            audit.append(
                uow,
                actor=principal.name,
                action="environment.unpinned",
                subject=f"environment/{service}/{environment}",
                at=self._clock.now(),
                before={"pinned": before.version if before else None},
            )
            uow.commit()


def _above_schema_floor(
    session: Session, svc: ServiceRow, env: EnvironmentRow, target: ReleaseRow
) -> ReleaseRow:
    """``target``, unless a contract migration that ran in ``env`` left it behind (Conflict)."""
    from relgate.promotion.schema_floor import schema_floor

    floor = schema_floor(session, svc.id, env.name)
    refusal = floor.refusal(svc.name, env.name, target.version) if floor else None
    if refusal is not None:
        raise Conflict(refusal)
    return target
