"""Routes of pipeline review and registered deployers (thin: parse, call a service, render)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from relgate import limits
from relgate.api.deps import PrincipalDep, ServicesDep
from relgate.api.params import ServicePath, ServiceQuery
from relgate.api.schemas import DeployerCreate, PipelineDecision
from relgate.deploy.registered import RegisteredDeployer
from relgate.errors import BadInput
from relgate.promotion.pipelines import PipelineRevision

router = APIRouter(prefix="/api/v1")

Revision = Annotated[int, Path(ge=1, le=limits.MAX_ID, description="A pipeline revision.")]
DeployerName = Annotated[str, Path(max_length=63, description="A registered deployer's name.")]


@router.get("/pipelines/pending", tags=["pipelines"])
def pending_revisions(
    services: ServicesDep, me: PrincipalDep, service: ServiceQuery = None
) -> list[PipelineRevision]:
    """Revisions that weaken a protected environment and wait for an approver."""
    return services.pipelines.pending(me, service)


@router.get("/services/{service}/pipeline/revisions/{revision}", tags=["pipelines"])
def get_revision(
    service: ServicePath, revision: Revision, services: ServicesDep, me: PrincipalDep
) -> PipelineRevision:
    """One stored revision with its status, review, protection diff and source."""
    return services.pipelines.revision(me, service, revision)


@router.post("/services/{service}/pipeline/revisions/{revision}/approve", tags=["pipelines"])
def approve_revision(
    service: ServicePath,
    revision: Revision,
    body: PipelineDecision,
    services: ServicesDep,
    me: PrincipalDep,
) -> PipelineRevision:
    """Approve a pending revision: it takes effect. Not by its applier or its author (403)."""
    return services.pipelines.decide(me, service, revision, approve=True, comment=body.comment)


@router.post("/services/{service}/pipeline/revisions/{revision}/reject", tags=["pipelines"])
def reject_revision(
    service: ServicePath,
    revision: Revision,
    body: PipelineDecision,
    services: ServicesDep,
    me: PrincipalDep,
) -> PipelineRevision:
    """Reject a pending revision: the revision in force stays."""
    return services.pipelines.decide(me, service, revision, approve=False, comment=body.comment)


@router.post("/deployers", status_code=201, tags=["deployers"])
def add_deployer(body: DeployerCreate, services: ServicesDep, me: PrincipalDep) -> dict[str, Any]:
    """Register a deployer (admin); the answer lists secret names, never their values."""
    from pydantic import ValidationError

    try:
        definition = RegisteredDeployer.model_validate(body.model_dump())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadInput(f"{where}: {first['msg']}" if where else first["msg"]) from None
    return services.deployers.add(me, definition)


@router.get("/deployers", tags=["deployers"])
def list_deployers(services: ServicesDep, me: PrincipalDep) -> list[dict[str, Any]]:
    """Every registered deployer (admin), secret names only."""
    return services.deployers.list_deployers(me)


@router.get("/deployers/{name}", tags=["deployers"])
def show_deployer(name: DeployerName, services: ServicesDep, me: PrincipalDep) -> dict[str, Any]:
    """One registered deployer (admin), secret names only."""
    return services.deployers.show(me, name)


@router.delete("/deployers/{name}", tags=["deployers"])
def remove_deployer(name: DeployerName, services: ServicesDep, me: PrincipalDep) -> dict[str, str]:
    """Remove a deployer registered through the API (admin)."""
    services.deployers.remove(me, name)
    return {"removed": name}
