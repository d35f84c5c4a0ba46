"""Reading promotion state: one deployment, its log, the history, the status of environments."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from relgate import limits
from relgate.auth.model import Action, Principal
from relgate.promotion.core import PromotionCore
from relgate.promotion.model import DeploymentState
from relgate.promotion.pipeline import PipelineSpec, deployer_label
from relgate.promotion.views import DeploymentView, EnvironmentStatus, LogSlice
from relgate.store import queries
from relgate.store.tables import AuditRow, DeploymentRow, EnvironmentRow, PipelineRow, ServiceRow

# how much of a log one slice carries at most: a page shows the newest part of a long log
LOG_SLICE = 64_000
# how much of what a reader last had identifies where it was, once the stored log has
# reached its size limit and drops its head (offsets then shift)
LOG_ANCHOR = 200

_ACTIVE = frozenset(
    {
        DeploymentState.REQUESTED.value,
        DeploymentState.WAITING_FOR_APPROVAL.value,
        DeploymentState.DEPLOYING.value,
        DeploymentState.VERIFYING.value,
    }
)


class StatusViews(PromotionCore):
    """The reading use cases of PromotionService."""

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

    def deployment_log_since(
        self,
        principal: Principal,
        deployment_id: int,
        offset: int = 0,
        *,
        anchor: str = "",
        limit: int = LOG_SLICE,
    ) -> LogSlice:
        """Return the log after ``offset`` (what a reader already has), at most ``limit`` chars.

        Read for a live view: only the slice leaves the database. ``anchor`` is
        the end of what the reader has (up to LOG_ANCHOR characters): once the
        stored log is at its size limit it drops its head as it grows, offsets
        shift, and the new text is found after the anchor instead. The same
        roles and scope as :meth:`deployment_log`; raises Forbidden, NotFound.
        """
        principal.require(Action.PROMOTE)
        limit = max(1, limit)
        with self._uow() as uow:
            session = uow.session
            found = (
                session.execute(
                    select(
                        ServiceRow.name, DeploymentRow.environment, func.length(DeploymentRow.log)
                    )
                    .join(ServiceRow, ServiceRow.id == DeploymentRow.service_id)
                    .where(DeploymentRow.id == deployment_id)
                ).first()
                if limits.id_in_range(deployment_id)
                else None
            )
            if found is None:
                from relgate.errors import NotFound

                raise NotFound(f"no deployment {deployment_id}")
            service, environment, length = found
            principal.require(Action.PROMOTE, service=service, environment=environment)
            total = int(length or 0)
            capped = total >= limits.DEPLOYMENT_LOG
            if not capped and 0 <= offset <= total:
                start = max(offset, total - limit)
                text = _substr(session, deployment_id, start, total)
                return LogSlice(text, total, skipped=start > offset)
            tail_start = max(0, total - limit)
            tail = _substr(session, deployment_id, tail_start, total)
            at = tail.rfind(anchor[-LOG_ANCHOR:]) if anchor and capped else -1
            if at >= 0:
                return LogSlice(tail[at + len(anchor[-LOG_ANCHOR:]) :], total)
            return LogSlice(tail, total, skipped=True)

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
        """Return every (or one) service's environments: what runs, what is being deployed.

        ``current`` and ``stable`` are what runs; ``deploying`` (with its
        deployment and state) is the release on its way in, while one holds the
        environment. ``deployer`` is the type the pipeline in force names
        (``record`` where nothing is deployed).

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
                ServiceRow.id,
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
            deployers = _deployer_labels(uow.session, {row[10] for row in rows})
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
                deployer=deployers.get((row[10], row[1])),
                # what is being deployed, apart from what runs (current, stable)
                deploying=row[8] if _in_progress(row[9], row[6], row[7]) else None,
                deploying_deployment=row[6] if _in_progress(row[9], row[6], row[7]) else None,
                deploying_state=row[7] if _in_progress(row[9], row[6], row[7]) else None,
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


def _substr(session: Session, deployment_id: int, start: int, end: int) -> str:
    """Characters ``start`` to ``end`` (0-based, end excluded) of a deployment's log."""
    if end <= start:
        return ""
    text = session.scalar(
        select(func.substr(DeploymentRow.log, start + 1, end - start)).where(
            DeploymentRow.id == deployment_id
        )
    )
    return str(text or "")


def _in_progress(holder: int | None, last: int | None, state: str | None) -> bool:
    return holder is not None and holder == last and state in _ACTIVE


def _deployer_labels(session: Session, service_ids: set[int]) -> dict[tuple[int, str], str]:
    """(service id, environment) -> deployer label, from each service's pipeline in force."""
    if not service_ids:
        return {}
    rows = session.execute(
        select(PipelineRow.service_id, PipelineRow.spec)
        .where(PipelineRow.service_id.in_(sorted(service_ids)), PipelineRow.status == "active")
        .order_by(PipelineRow.service_id, PipelineRow.revision)
    ).all()
    newest: dict[int, object] = {}
    for service_id, spec in rows:
        newest[service_id] = spec  # ordered by revision: the last one is in force
    labels: dict[tuple[int, str], str] = {}
    for service_id, spec in newest.items():
        try:
            pipeline = PipelineSpec.model_validate(spec)
        except ValueError:
            continue
        for env in pipeline.environments:
            labels[(service_id, env.name)] = deployer_label(env)
    return labels
