"""Routes of the control plane: pipelines, releases, evidence, gates, deployments, rollback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from relgate import limits
from relgate.api.deps import PrincipalDep, ServicesDep
from relgate.api.downloads import report_response
from relgate.api.params import (
    DeploymentIdPath,
    EnvironmentPath,
    EnvironmentQuery,
    EvidenceIdPath,
    RequiredEnvironmentQuery,
    ServicePath,
    ServiceQuery,
    VersionPath,
)
from relgate.api.schemas import (
    CancelBody,
    Decision,
    DeploymentCreate,
    PipelineApply,
    ReleaseCreate,
    RollbackCreate,
)
from relgate.auth.model import Action
from relgate.manifest.pipeline import parse_pipeline
from relgate.promotion.pipelines import ApplyResult, RevisionStatus
from relgate.promotion.views import DeploymentView, EnvironmentStatus, GateCheck, RollbackTarget
from relgate.releases.changes import WhatChanges
from relgate.releases.model import Release
from relgate.releases.service import REPORT_MEDIA_TYPES, Evidence

router = APIRouter(prefix="/api/v1")


@router.post(
    "/pipelines",
    status_code=201,
    tags=["pipelines"],
    responses={
        200: {"description": "Unchanged: the same text as the revision in force or pending."},
        202: {"description": "Pending review: it weakens a protected environment."},
    },
)
def apply_pipeline(
    body: PipelineApply, response: Response, services: ServicesDep, me: PrincipalDep
) -> ApplyResult:
    """Validate relgate.yaml and store it as the service's next pipeline revision.

    201 in force, 202 pending review (it weakens a protected environment), 200 unchanged.
    """
    me.require(Action.APPLY_PIPELINE)
    result = services.pipelines.apply(
        me, parse_pipeline(body.source, body.file), author=body.author
    )
    if result.status is RevisionStatus.PENDING:
        response.status_code = 202
    elif not result.changed:
        response.status_code = 200
    return result


@router.get("/services/{service}/pipeline", tags=["pipelines"])
def get_pipeline(service: ServicePath, services: ServicesDep, me: PrincipalDep) -> dict[str, Any]:
    """The revision in force, with the numbers of the revisions pending review."""
    return services.pipelines.pipeline(me, service)


@router.post("/releases", status_code=201, tags=["releases"])
def create_release(
    body: ReleaseCreate, response: Response, services: ServicesDep, me: PrincipalDep
) -> Release:
    """Register a release; 200 when the same binding exists, 409 for another digest."""
    release, created = services.releases.create(
        me,
        service=body.service,
        version=body.version,
        artifact=body.artifact,
        commit=body.commit,
        changelog=body.changelog,
        author=body.author,
        author_email=body.author_email,
        co_authors=body.co_authors,
        commits=None if body.commits is None else [(c.sha, c.committed_at) for c in body.commits],
        commit_count=body.commit_count,
        committed_at=body.committed_at,
    )
    if not created:
        response.status_code = 200
    return release


@router.get("/services/{service}/releases", tags=["releases"])
def list_releases(
    service: ServicePath,
    services: ServicesDep,
    me: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[Release]:
    return services.releases.list_releases(me, service, limit)


@router.get("/releases/{service}/{version}", tags=["releases"])
def get_release(
    service: ServicePath, version: VersionPath, services: ServicesDep, me: PrincipalDep
) -> Release:
    return services.releases.get(me, service, version)


@router.post("/releases/{service}/{version}/evidence", status_code=201, tags=["evidence"])
async def add_evidence(
    service: ServicePath,
    version: VersionPath,
    request: Request,
    services: ServicesDep,
    me: PrincipalDep,
    kind: Annotated[str, Query(max_length=limits.EVIDENCE_KIND)],
    filename: Annotated[str, Query(max_length=limits.EVIDENCE_FILENAME)] = "report",
    environment: EnvironmentQuery = None,
) -> Evidence:
    """Attach a report (the raw file as the request body, at most 50 MiB)."""
    data = await request.body()
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(
        services.releases.add_evidence,
        me,
        service=service,
        version=version,
        kind=kind,
        filename=filename,
        data=data,
        environment=environment,
    )


@router.get("/releases/{service}/{version}/evidence", tags=["evidence"])
def list_evidence(
    service: ServicePath, version: VersionPath, services: ServicesDep, me: PrincipalDep
) -> list[Evidence]:
    return services.releases.list_evidence(me, service, version)


@router.get(
    "/releases/{service}/{version}/evidence/{evidence_id}/report",
    tags=["evidence"],
    response_class=Response,
    responses={
        200: {
            "description": "The report as uploaded, typed by its format.",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in sorted({*REPORT_MEDIA_TYPES.values(), "application/octet-stream"})
            },
        }
    },
)
def evidence_report(
    service: ServicePath,
    version: VersionPath,
    evidence_id: EvidenceIdPath,
    services: ServicesDep,
    me: PrincipalDep,
) -> Response:
    """The stored report's bytes, as uploaded, as an attachment (JSON, XML or octet-stream)."""
    evidence, content = services.releases.evidence_report(me, service, version, evidence_id)
    return report_response(evidence, content)


@router.get("/releases/{service}/{version}/gates", tags=["gates"])
def check_gates(
    service: ServicePath,
    version: VersionPath,
    environment: RequiredEnvironmentQuery,
    services: ServicesDep,
    me: PrincipalDep,
) -> GateCheck:
    """Evaluate every gate of ``environment`` for the release, without promoting it."""
    return services.promotion.check_gates(me, service, version, environment)


@router.get("/releases/{service}/{version}/changes", tags=["releases"])
def what_changes(
    service: ServicePath,
    version: VersionPath,
    environment: RequiredEnvironmentQuery,
    services: ServicesDep,
    me: PrincipalDep,
) -> WhatChanges:
    """What promoting the release into ``environment`` changes there, from the stored changelogs.

    The releases between the version running there and this one, their entries
    grouped by section (breaking changes first); ``direction`` says first
    deployment, upgrade, rollback (the release is older) or same.
    """
    return services.releases.what_changes(me, service, version, environment)


@router.post("/deployments", status_code=201, tags=["deployments"])
def promote(body: DeploymentCreate, services: ServicesDep, me: PrincipalDep) -> DeploymentView:
    """Promote a release: 201 requested or waiting for approval; 409 when a gate fails."""
    from relgate.promotion.model import DeploymentKind

    return services.promotion.promote(
        me,
        body.service,
        body.version,
        body.environment,
        reason=body.reason,
        kind=DeploymentKind.HOTFIX if body.hotfix else DeploymentKind.PROMOTE,
    )


@router.get("/deployments/{deployment_id}", tags=["deployments"])
def get_deployment(
    deployment_id: DeploymentIdPath, services: ServicesDep, me: PrincipalDep
) -> DeploymentView:
    return services.promotion.deployment(me, deployment_id)


@router.get(
    "/deployments/{deployment_id}/log",
    tags=["deployments"],
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def deployment_log(
    deployment_id: DeploymentIdPath, services: ServicesDep, me: PrincipalDep
) -> PlainTextResponse:
    """What the deploy and verify commands printed; for roles that may deploy there."""
    return PlainTextResponse(services.promotion.deployment_log(me, deployment_id))


@router.post("/deployments/{deployment_id}/cancel", tags=["deployments"])
def cancel(
    deployment_id: DeploymentIdPath, body: CancelBody, services: ServicesDep, me: PrincipalDep
) -> DeploymentView:
    return services.promotion.cancel(me, deployment_id, body.reason)


@router.post("/approvals", tags=["approvals"])
def decide(body: Decision, services: ServicesDep, me: PrincipalDep) -> DeploymentView:
    """Approve or reject the deployment waiting for approval."""
    return services.promotion.decide(
        me,
        body.service,
        body.version,
        body.environment,
        approve=body.decision == "approve",
        comment=body.comment,
    )


@router.post("/rollbacks", status_code=201, tags=["deployments"])
def rollback(body: RollbackCreate, services: ServicesDep, me: PrincipalDep) -> DeploymentView:
    """Redeploy the stable anchor (or an earlier known-good version) at once."""
    return services.promotion.rollback(
        me, body.service, body.environment, reason=body.reason, to_version=body.to_version
    )


@router.get("/services/{service}/environments/{environment}/rollback-target", tags=["deployments"])
def rollback_target(
    service: ServicePath, environment: EnvironmentPath, services: ServicesDep, me: PrincipalDep
) -> RollbackTarget:
    """What a rollback of the environment would redeploy now (nothing is changed)."""
    return services.promotion.rollback_target(me, service, environment)


@router.post("/services/{service}/environments/{environment}/unpin", tags=["deployments"])
def unpin(
    service: ServicePath, environment: EnvironmentPath, services: ServicesDep, me: PrincipalDep
) -> dict[str, str]:
    services.promotion.unpin(me, service, environment)
    return {"service": service, "environment": environment, "pinned": ""}


@router.get("/status", tags=["status"], response_model=list[EnvironmentStatus])
def status(services: ServicesDep, me: PrincipalDep, service: ServiceQuery = None) -> Response:
    """Every environment of every (or one) service: current, stable, pinned, last deployment."""
    # thousands of rows of plain values: serialised once per change of state
    return Response(services.promotion.status_json(me, service), media_type="application/json")


@router.get("/services/{service}/history", tags=["status"])
def history(
    service: ServicePath,
    services: ServicesDep,
    me: PrincipalDep,
    environment: EnvironmentQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[DeploymentView]:
    return services.promotion.history(me, service, environment, limit)
