"""Use cases of delivery: the measures from the store, and incidents linked to deployments.

The measures themselves are pure (relgate.delivery.measures); this module reads
one service's history in one environment and hands it over. Incidents are
opened against one deployment by its id, resolved, and re-linked when they were
attributed to the wrong deployment; every change is audited. Who may: the roles
of ``Action.MANAGE_INCIDENTS`` (admin, ci, approver), within their scope: the
deployment's service and environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.model import Action, Principal
from relgate.clock import Clock
from relgate.delivery import measures
from relgate.delivery.model import (
    CommitTime,
    DeliveryReport,
    DeploymentRecord,
    History,
    IncidentRecord,
    ReleaseRecord,
)
from relgate.errors import BadInput, Conflict, NotFound
from relgate.limits import check_text, id_in_range
from relgate.store import queries
from relgate.store.tables import (
    DeploymentRow,
    EnvironmentRow,
    IncidentRow,
    ReleaseRow,
    ServiceRow,
)
from relgate.store.uow import UnitOfWorkFactory, as_utc


@dataclass(frozen=True)
class IncidentView:
    id: int
    deployment_id: int
    service: str
    environment: str
    version: str | None
    summary: str
    opened_by: str
    opened_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class Choice:
    """A service and the environments of it the principal may read (for a form)."""

    service: str
    environments: list[str]


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _check_time(name: str, value: datetime | None) -> datetime | None:
    from relgate.delivery.period import utc

    return None if value is None else utc(name, value)


class DeliveryService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    # ------------------------------------------------------------------ measures

    def report(
        self,
        principal: Principal,
        service: str,
        environment: str,
        since: datetime,
        until: datetime,
    ) -> DeliveryReport:
        """The delivery measures of ``service`` in ``environment`` over [since, until).

        Raises NotFound for an unknown service or environment, Forbidden outside
        the token's scope, BadInput for an empty period.
        """
        principal.require(Action.READ, service=service, environment=environment)
        if until <= since:
            raise BadInput("the period must end after it starts")
        with self._uow() as uow:
            session = uow.session
            svc = queries.service_by_name(session, service)
            queries.environment(session, svc, environment)
            history = self._history(session, svc, environment)
        return measures.compute(history, since, until)

    @staticmethod
    def _history(session: Session, svc: ServiceRow, environment: str) -> History:
        """The whole history here: what shipped before the period decides what a deployment
        shipped first, and a failure of the period may recover after it."""
        rows = session.scalars(
            select(DeploymentRow)
            .where(DeploymentRow.service_id == svc.id, DeploymentRow.environment == environment)
            .order_by(DeploymentRow.id)
        ).all()
        versions = dict(
            session.execute(
                select(ReleaseRow.id, ReleaseRow.version).where(ReleaseRow.service_id == svc.id)
            ).all()
        )
        deployments = tuple(
            DeploymentRecord(
                id=r.id,
                environment=r.environment,
                release_id=r.release_id,
                version=r.version or versions.get(r.release_id, "?"),
                kind=r.kind,
                state=r.state,
                created_at=as_utc(r.created_at),
                previous_version=versions.get(r.previous_release_id)
                if r.previous_release_id
                else None,
                outcome=r.outcome,
                started_at=_utc(r.started_at),
                finished_at=_utc(r.finished_at),
                verified_at=_utc(r.verified_at),
                replaces=r.replaces_deployment_id,
            )
            for r in rows
        )
        newest = max((d.release_id for d in deployments), default=0)
        releases = tuple(
            ReleaseRecord(
                id=r.id,
                version=r.version,
                commit=r.commit_sha,
                committed_at=_utc(r.committed_at),
                commits=None
                if r.commits is None
                else tuple(
                    CommitTime(c["sha"], as_utc(datetime.fromisoformat(c["committed_at"])))
                    for c in r.commits
                ),
                commit_count=r.commit_count,
            )
            for r in session.scalars(
                select(ReleaseRow).where(ReleaseRow.service_id == svc.id, ReleaseRow.id <= newest)
            )
        )
        incidents = tuple(
            IncidentRecord(
                id=i.id,
                deployment_id=i.deployment_id,
                opened_at=as_utc(i.opened_at),
                summary=i.summary,
                resolved_at=_utc(i.resolved_at),
            )
            for i in session.scalars(
                select(IncidentRow).where(
                    IncidentRow.service == svc.name, IncidentRow.environment == environment
                )
            )
        )
        return History(svc.name, environment, deployments, releases, incidents)

    def choices(self, principal: Principal) -> list[Choice]:
        """Every service and environment the principal may read, in pipeline order."""
        principal.require(Action.READ)
        with self._uow() as uow:
            found: dict[str, list[str]] = {}
            for service, environment in uow.session.execute(
                select(ServiceRow.name, EnvironmentRow.name)
                .join(EnvironmentRow, EnvironmentRow.service_id == ServiceRow.id)
                .where(EnvironmentRow.active.is_(True))
                .order_by(ServiceRow.name, EnvironmentRow.position)
            ):
                if principal.may_touch_service(service) and principal.may_touch_environment(
                    environment
                ):
                    found.setdefault(service, []).append(environment)
        return [Choice(s, envs) for s, envs in found.items()]

    # ------------------------------------------------------------------ incidents

    def open_incident(
        self,
        principal: Principal,
        deployment_id: int,
        *,
        summary: str = "",
        opened_at: datetime | None = None,
    ) -> IncidentView:
        """Open an incident against deployment ``deployment_id``.

        ``opened_at`` (default now) is when the failure began; it may not be in
        the future nor before the deployment was requested. Raises NotFound,
        Forbidden (role or scope), BadInput.
        """
        principal.require(Action.MANAGE_INCIDENTS)
        check_text("summary", summary, limits.INCIDENT_SUMMARY)
        now = self._clock.now()
        began = _check_time("opened_at", opened_at) or now
        with self._uow() as uow:
            session = uow.session
            deployment, service = self._deployment(session, principal, deployment_id)
            if began > now:
                raise BadInput("opened_at is in the future")
            if began < as_utc(deployment.created_at):
                raise BadInput(
                    f"opened_at is before deployment {deployment_id} was requested "
                    f"({as_utc(deployment.created_at):%Y-%m-%d %H:%M:%S} UTC): link the "
                    "incident to the deployment that caused it"
                )
            row = IncidentRow(
                deployment_id=deployment.id,
                service=service,
                environment=deployment.environment,
                summary=summary.strip(),
                opened_by=principal.name,
                opened_at=began,
            )
            session.add(row)
            session.flush()
            audit.append(
                uow,
                actor=principal.name,
                action="incident.opened",
                subject=f"incident/{row.id}",
                at=now,
                after={
                    "deployment": deployment.id,
                    "service": service,
                    "environment": deployment.environment,
                    "version": deployment.version,
                    "summary": row.summary,
                    "opened_at": began.isoformat(),
                },
            )
            uow.commit()
            return self._view(row, deployment.version)

    def resolve_incident(
        self, principal: Principal, incident_id: int, *, resolved_at: datetime | None = None
    ) -> IncidentView:
        """Mark an incident resolved (``resolved_at``, default now). Conflict when it is."""
        principal.require(Action.MANAGE_INCIDENTS)
        now = self._clock.now()
        when = _check_time("resolved_at", resolved_at) or now
        with self._uow() as uow:
            session = uow.session
            row = self._incident(session, principal, incident_id, lock=True)
            if row.resolved_at is not None:
                raise Conflict(
                    f"incident {incident_id} was resolved by {row.resolved_by} "
                    f"at {as_utc(row.resolved_at):%Y-%m-%d %H:%M:%S} UTC"
                )
            if when > now:
                raise BadInput("resolved_at is in the future")
            if when < as_utc(row.opened_at):
                raise BadInput("resolved_at is before the incident was opened")
            row.resolved_at = when
            row.resolved_by = principal.name
            audit.append(
                uow,
                actor=principal.name,
                action="incident.resolved",
                subject=f"incident/{row.id}",
                at=now,
                before={"resolved_at": None},
                after={"resolved_at": when.isoformat(), "deployment": row.deployment_id},
            )
            uow.commit()
            return self._view(row, self._version(session, row.deployment_id))

    def link_incident(
        self, principal: Principal, incident_id: int, deployment_id: int, *, reason: str
    ) -> IncidentView:
        """Move an incident to the deployment that really caused it (same service).

        The caller must be allowed both where it was and where it goes. Raises
        BadInput without a reason or for another service's deployment.
        """
        principal.require(Action.MANAGE_INCIDENTS)
        check_text("reason", reason, limits.REASON)
        if not reason.strip():
            raise BadInput("re-linking an incident needs a reason")
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            row = self._incident(session, principal, incident_id, lock=True)
            target, service = self._deployment(session, principal, deployment_id)
            if service != row.service:
                raise BadInput(
                    f"deployment {deployment_id} is of {service}, incident {incident_id} "
                    f"of {row.service}: an incident moves only within its service"
                )
            if as_utc(row.opened_at) < as_utc(target.created_at):
                raise BadInput(
                    f"incident {incident_id} began before deployment {deployment_id} "
                    "was requested: it cannot have caused it"
                )
            before = {"deployment": row.deployment_id, "environment": row.environment}
            row.deployment_id = target.id
            row.environment = target.environment
            audit.append(
                uow,
                actor=principal.name,
                action="incident.relinked",
                subject=f"incident/{row.id}",
                at=now,
                before=before,
                after={
                    "deployment": target.id,
                    "environment": target.environment,
                    "reason": reason.strip(),
                },
            )
            uow.commit()
            return self._view(row, target.version)

    def incidents(
        self,
        principal: Principal,
        *,
        service: str | None = None,
        environment: str | None = None,
        open_only: bool = False,
        limit: int = 100,
    ) -> list[IncidentView]:
        """Incidents newest first, within the token's scope."""
        principal.require(Action.READ, service=service, environment=environment)
        with self._uow() as uow:
            query = select(IncidentRow, DeploymentRow.version).join(
                DeploymentRow, DeploymentRow.id == IncidentRow.deployment_id
            )
            if service is not None:
                query = query.where(IncidentRow.service == service)
            if environment is not None:
                query = query.where(IncidentRow.environment == environment)
            if principal.services is not None:
                query = query.where(IncidentRow.service.in_(sorted(principal.services)))
            if principal.environments is not None:
                query = query.where(IncidentRow.environment.in_(sorted(principal.environments)))
            if open_only:
                query = query.where(IncidentRow.resolved_at.is_(None))
            rows = uow.session.execute(query.order_by(IncidentRow.id.desc()).limit(limit)).all()
            return [self._view(row, version) for row, version in rows]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _deployment(
        session: Session, principal: Principal, deployment_id: int
    ) -> tuple[DeploymentRow, str]:
        row = queries.deployment(session, deployment_id)
        service = session.scalar(select(ServiceRow.name).where(ServiceRow.id == row.service_id))
        assert service is not None
        principal.require(Action.MANAGE_INCIDENTS, service=service, environment=row.environment)
        return row, service

    @staticmethod
    def _incident(
        session: Session, principal: Principal, incident_id: int, *, lock: bool = False
    ) -> IncidentRow:
        row = None
        if id_in_range(incident_id):
            query = select(IncidentRow).where(IncidentRow.id == incident_id)
            row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        principal.require(Action.MANAGE_INCIDENTS, service=row.service, environment=row.environment)
        return row

    @staticmethod
    def _version(session: Session, deployment_id: int) -> str | None:
        return session.scalar(
            select(DeploymentRow.version).where(DeploymentRow.id == deployment_id)
        )

    @staticmethod
    def _view(row: IncidentRow, version: str | None) -> IncidentView:
        return IncidentView(
            id=row.id,
            deployment_id=row.deployment_id,
            service=row.service,
            environment=row.environment,
            version=version,
            summary=row.summary,
            opened_by=row.opened_by,
            opened_at=as_utc(row.opened_at),
            resolved_by=row.resolved_by,
            resolved_at=_utc(row.resolved_at),
        )
