"""Routes of delivery: the DORA measures of a service in an environment, and incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from relgate import limits
from relgate.api.deps import PrincipalDep, ServicesDep
from relgate.api.params import EnvironmentQuery, ServiceQuery
from relgate.api.schemas import _Body
from relgate.delivery.model import DeliveryReport
from relgate.delivery.period import period
from relgate.delivery.service import IncidentView

router = APIRouter(prefix="/api/v1")


DateQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        description="A date (2026-10-01, UTC; an `until` date is included whole) or a time "
        "with its offset.",
    ),
]


class IncidentOpen(_Body):
    deployment_id: int = Field(description="The deployment that caused the failure.")
    summary: str = Field(default="", max_length=limits.INCIDENT_SUMMARY)
    opened_at: datetime | None = Field(
        default=None, description="When the failure began (default: now); with its offset."
    )


class IncidentResolve(_Body):
    resolved_at: datetime | None = Field(default=None, description="Default: now.")


class IncidentLink(_Body):
    deployment_id: int = Field(description="The deployment that really caused it.")
    reason: str = Field(min_length=1, max_length=limits.REASON)


@router.get("/metrics/delivery", tags=["delivery"])
def delivery_metrics(
    services: ServicesDep,
    me: PrincipalDep,
    service: Annotated[str, Query(max_length=limits.SERVICE)],
    environment: Annotated[str, Query(max_length=limits.ENVIRONMENT)] = "production",
    since: DateQuery = None,
    until: DateQuery = None,
) -> DeliveryReport:
    """The delivery measures over [since, until) with the rows behind every number.

    Defaults: the last 28 days, production. Durations are in seconds, rates 0..1
    (null when the period has no deployment).
    """
    start, end = period(since, until, services.clock.now())
    return services.delivery.report(me, service, environment, start, end)


@router.post("/incidents", status_code=201, tags=["delivery"])
def open_incident(body: IncidentOpen, services: ServicesDep, me: PrincipalDep) -> IncidentView:
    """Open an incident linked to the deployment that caused it (admin, ci, approver)."""
    return services.delivery.open_incident(
        me, body.deployment_id, summary=body.summary, opened_at=body.opened_at
    )


@router.post("/incidents/{incident_id}/resolve", tags=["delivery"])
def resolve_incident(
    incident_id: int,
    services: ServicesDep,
    me: PrincipalDep,
    body: IncidentResolve | None = None,
) -> IncidentView:
    """Resolve an incident; 409 when it is resolved already."""
    return services.delivery.resolve_incident(
        me, incident_id, resolved_at=body.resolved_at if body else None
    )


@router.post("/incidents/{incident_id}/link", tags=["delivery"])
def link_incident(
    incident_id: int, body: IncidentLink, services: ServicesDep, me: PrincipalDep
) -> IncidentView:
    """Move an incident to the deployment that really caused it (same service), with why."""
    return services.delivery.link_incident(me, incident_id, body.deployment_id, reason=body.reason)


@router.get("/incidents", tags=["delivery"])
def list_incidents(
    services: ServicesDep,
    me: PrincipalDep,
    service: ServiceQuery = None,
    environment: EnvironmentQuery = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[IncidentView]:
    """Incidents newest first, within the token's scope."""
    return services.delivery.incidents(
        me, service=service, environment=environment, open_only=open_only, limit=limit
    )
