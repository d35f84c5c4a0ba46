"""Lookups shared by the services, each raising NotFound with a message a person can act on."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from relgate.errors import NotFound
from relgate.limits import id_in_range
from relgate.store.tables import (
    DeploymentRow,
    EnvironmentRow,
    PipelineRow,
    ReleaseRow,
    ServiceRow,
)


def service_by_name(session: Session, name: str) -> ServiceRow:
    row = session.scalar(select(ServiceRow).where(ServiceRow.name == name))
    if row is None:
        raise NotFound(f"no service {name!r}: apply its relgate.yaml first (`relgate apply`)")
    return row


def deployment(session: Session, deployment_id: int) -> DeploymentRow:
    """Return deployment ``deployment_id``; NotFound also for an id no row can have."""
    row = session.get(DeploymentRow, deployment_id) if id_in_range(deployment_id) else None
    if row is None:
        raise NotFound(f"no deployment {deployment_id}")
    return row


def latest_pipeline(session: Session, service: ServiceRow) -> PipelineRow:
    """Return the revision in force: the newest active one (never a pending one)."""
    row = session.scalar(
        select(PipelineRow)
        .where(PipelineRow.service_id == service.id, PipelineRow.status == "active")
        .order_by(PipelineRow.revision.desc())
        .limit(1)
    )
    if row is None:
        raise NotFound(
            f"service {service.name!r} has no pipeline: `relgate apply` its relgate.yaml"
        )
    return row


def pipeline_revision(session: Session, service_id: int, revision: int) -> PipelineRow:
    row = session.scalar(
        select(PipelineRow).where(
            PipelineRow.service_id == service_id, PipelineRow.revision == revision
        )
    )
    if row is None:
        raise NotFound(f"pipeline revision {revision} not found")
    return row


def release_by_version(session: Session, service: ServiceRow, version: str) -> ReleaseRow:
    row = session.scalar(
        select(ReleaseRow).where(ReleaseRow.service_id == service.id, ReleaseRow.version == version)
    )
    if row is None:
        raise NotFound(
            f"no release {service.name}@{version}: create it with `relgate release create`"
        )
    return row


def environment(
    session: Session, service: ServiceRow, name: str, *, lock: bool = False
) -> EnvironmentRow:
    query = select(EnvironmentRow).where(
        EnvironmentRow.service_id == service.id,
        EnvironmentRow.name == name,
        EnvironmentRow.active.is_(True),
    )
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        names = session.scalars(
            select(EnvironmentRow.name)
            .where(EnvironmentRow.service_id == service.id, EnvironmentRow.active.is_(True))
            .order_by(EnvironmentRow.position)
        ).all()
        raise NotFound(
            f"service {service.name!r} has no environment {name!r}"
            + (f" (it has: {', '.join(names)})" if names else "")
        )
    return row


def release_version(session: Session, release_id: int | None) -> str | None:
    """Return the version of release ``release_id`` (None for None or an unknown id)."""
    if release_id is None:
        return None
    row = session.get(ReleaseRow, release_id)
    return row.version if row else None


def free_environment(session: Session, deployment: DeploymentRow) -> None:
    """Let go of the environment ``deployment`` holds; nothing when it holds none.

    Conditional on the holder, like taking it (PromotionService._create_deployment).
    """
    session.execute(
        update(EnvironmentRow)
        .where(
            EnvironmentRow.service_id == deployment.service_id,
            EnvironmentRow.name == deployment.environment,
            EnvironmentRow.holder_deployment_id == deployment.id,
        )
        .values(holder_deployment_id=None)
    )
