"""Reading what a rollback rehearsal is judged on from the store: deployments that ran.

The pure rules are in relgate.promotion.rehearsal; this module only selects the
rows. A rehearsal of a release lies between the last healthy deployment before
the release's first deployment in the environment (the stable release it rolls
back to) and the newest deployment there; at most ``HISTORY_LIMIT`` of the
newest of those are read, so a rehearsal older than that many deployments in
the environment is not found.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relgate.promotion.model import DeploymentKind, DeploymentState
from relgate.promotion.pipeline import EnvironmentSpec
from relgate.promotion.rehearsal import RanDeployment, RehearsalFacts, RollbackRehearsedGate
from relgate.store.tables import DeploymentRow, EnvironmentRow, ReleaseRow
from relgate.store.uow import as_utc

HISTORY_LIMIT = 500


def ran_history(
    session: Session, service_id: int, environment: str, release_id: int
) -> list[RanDeployment]:
    """The deployments that ran in ``environment`` from the one a rehearsal of the release
    would roll back to, oldest first (see the module's docstring)."""
    here = (DeploymentRow.service_id == service_id, DeploymentRow.environment == environment)
    first = session.scalar(
        select(func.min(DeploymentRow.id)).where(*here, DeploymentRow.release_id == release_id)
    )
    anchor_query = select(func.max(DeploymentRow.id)).where(
        *here, DeploymentRow.verified_at.is_not(None)
    )
    if first is not None:
        anchor_query = anchor_query.where(DeploymentRow.id < first)
    anchor = session.scalar(anchor_query)
    start = anchor if anchor is not None else first
    if start is None:
        return []
    rows = session.execute(
        select(DeploymentRow, ReleaseRow.version)
        .join(ReleaseRow, ReleaseRow.id == DeploymentRow.release_id)
        .where(*here, DeploymentRow.id >= start, DeploymentRow.started_at.is_not(None))
        .order_by(DeploymentRow.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    from relgate.promotion.core import PromotionCore

    deployers = PromotionCore._deployers_of(session, [row for row, _ in rows])
    return [
        _ran(row, version, deployers.get((row.service_id, row.pipeline_revision, environment), ""))
        for row, version in reversed(rows)
    ]


def rehearsal_facts(
    session: Session, service_id: int, env_spec: EnvironmentSpec, release_id: int, version: str
) -> RehearsalFacts | None:
    """What the rollback_rehearsed gates of ``env_spec`` read; None when it has none."""
    wanted = sorted({g.in_ for g in env_spec.gates if isinstance(g, RollbackRehearsedGate)})
    if not wanted:
        return None
    stable = session.scalar(
        select(EnvironmentRow.stable_version).where(
            EnvironmentRow.service_id == service_id, EnvironmentRow.name == env_spec.name
        )
    )
    return RehearsalFacts(
        version=version,
        stable=stable,
        histories={name: ran_history(session, service_id, name, release_id) for name in wanted},
    )


def _ran(row: DeploymentRow, version: str, deployer: str) -> RanDeployment:
    assert row.started_at is not None
    return RanDeployment(
        id=row.id,
        version=version,
        kind=DeploymentKind(row.kind),
        state=DeploymentState(row.state),
        requested_by=row.requested_by,
        started_at=as_utc(row.started_at),
        verified_at=as_utc(row.verified_at) if row.verified_at else None,
        replaces=row.replaces_deployment_id,
        outcome=row.outcome or "",
        deployer=deployer,
    )
