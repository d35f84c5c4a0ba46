"""The release stable in an environment, as the gates that look at it see it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from relgate.promotion.migration_gate import StableRelease
from relgate.promotion.model import DeploymentState
from relgate.store.tables import DeploymentRow, EnvironmentRow, ReleaseRow


def stable_release(session: Session, service_id: int, environment: str) -> StableRelease | None:
    """The stable release of ``environment`` and whether a deployment of it verified there.

    None when no release is stable there (or the environment does not exist yet).
    """
    row = session.execute(
        select(ReleaseRow.id, ReleaseRow.version)
        .join(EnvironmentRow, EnvironmentRow.stable_release_id == ReleaseRow.id)
        .where(EnvironmentRow.service_id == service_id, EnvironmentRow.name == environment)
    ).first()
    if row is None:
        return None
    release_id, version = row
    verified = session.scalar(
        select(DeploymentRow.id)
        .where(
            DeploymentRow.service_id == service_id,
            DeploymentRow.release_id == release_id,
            DeploymentRow.environment == environment,
            DeploymentRow.state == DeploymentState.SUCCEEDED.value,
            DeploymentRow.verified_at.is_not(None),
        )
        .limit(1)
    )
    return StableRelease(version=version, verified=verified is not None)


def stable_releases(
    session: Session, environments: set[tuple[int, str]]
) -> dict[tuple[int, str], StableRelease]:
    """``stable_release`` of many (service id, environment) pairs in two queries."""
    if not environments:
        return {}
    service_ids = sorted({service_id for service_id, _ in environments})
    stable: dict[tuple[int, str], tuple[int, str]] = {}
    for service_id, name, release_id, version in session.execute(
        select(EnvironmentRow.service_id, EnvironmentRow.name, ReleaseRow.id, ReleaseRow.version)
        .join(ReleaseRow, EnvironmentRow.stable_release_id == ReleaseRow.id)
        .where(EnvironmentRow.service_id.in_(service_ids))
    ):
        if (service_id, name) in environments:
            stable[(service_id, name)] = (release_id, version)
    verified = {
        (service_id, environment, release_id)
        for service_id, environment, release_id in session.execute(
            select(DeploymentRow.service_id, DeploymentRow.environment, DeploymentRow.release_id)
            .where(
                DeploymentRow.release_id.in_(sorted({r for r, _ in stable.values()})),
                DeploymentRow.state == DeploymentState.SUCCEEDED.value,
                DeploymentRow.verified_at.is_not(None),
            )
            .distinct()
        )
    }
    return {
        key: StableRelease(version=version, verified=(*key, release_id) in verified)
        for key, (release_id, version) in stable.items()
    }
