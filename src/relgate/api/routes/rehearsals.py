"""Routes of rollback rehearsals: where one stands, and recording a finished one."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from relgate import limits
from relgate.api.deps import PrincipalDep, ServicesDep
from relgate.api.params import RequiredEnvironmentQuery, ServicePath, VersionPath
from relgate.api.schemas import _Body
from relgate.promotion.rehearsals import RehearsalView

router = APIRouter(prefix="/api/v1")


class RehearsalRecord(_Body):
    service: str = Field(max_length=limits.SERVICE)
    version: str = Field(max_length=limits.VERSION)
    environment: str = Field(max_length=limits.ENVIRONMENT)


@router.get("/rehearsals/{service}/{version}", tags=["deployments"])
def rehearsal(
    service: ServicePath,
    version: VersionPath,
    environment: RequiredEnvironmentQuery,
    services: ServicesDep,
    me: PrincipalDep,
) -> RehearsalView:
    """Where the rollback rehearsal of a release in an environment stands, from its history."""
    return services.rehearsals.finding(me, service, version, environment)


@router.post("/rehearsals", status_code=201, tags=["deployments"])
def record_rehearsal(
    body: RehearsalRecord, services: ServicesDep, me: PrincipalDep
) -> RehearsalView:
    """Audit the rehearsal the deployment history holds; 409 when it holds no complete one.

    Needs the rights to promote and to roll back in the environment.
    """
    return services.rehearsals.record(me, body.service, body.version, body.environment)
