"""The release page, its promote view (what changes, gates, promote) and approving.

Every read and change goes through the services with the session's principal:
the release, its evidence and gates (``releases``, ``promotion.check_gates``),
what changes (``releases.what_changes``), whether and why the viewer may not
approve (``promotion.approval_refusal``), promote and decide. Nothing here
decides a rule: what may not be done is not rendered as a button, and the line
in its place is the service's own reason.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from relgate import limits
from relgate.api.deps import ServicesDep
from relgate.api.downloads import report_response
from relgate.api.params import EvidenceIdPath, ServicePath, VersionPath
from relgate.auth.model import Action, Principal
from relgate.bootstrap import Services
from relgate.errors import Forbidden
from relgate.promotion.core import GateRefusal
from relgate.promotion.model import FINAL_STATES, DeploymentState
from relgate.promotion.views import DeploymentView, EnvironmentStatus
from relgate.releases.changes import parse_changelog
from relgate.web.render import page
from relgate.web.session import Changing, Viewer, mark_web

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

EnvironmentParam = Annotated[str, Query(min_length=1, max_length=limits.ENVIRONMENT)]
EnvironmentField = Annotated[str, Form(min_length=1, max_length=limits.ENVIRONMENT)]
# how many deployments of an environment are searched for this release's latest
RECENT = 50


def _base(service: str, version: str) -> str:
    from urllib.parse import quote

    return f"/releases/{quote(service, safe='')}/{quote(version, safe='')}"


@router.get("/releases/{service}/{version}")
def release_page(
    request: Request,
    service: ServicePath,
    version: VersionPath,
    services: ServicesDep,
    session: Viewer,
) -> Response:
    me = session.principal
    release = services.releases.get(me, service, version)
    evidence = services.releases.list_evidence(me, service, version)
    environments = [
        (status, services.promotion.check_gates(me, service, version, status.environment))
        for status in services.promotion.status(me, service)
    ]
    return page(
        request,
        "release.html",
        {
            "release": release,
            "base": _base(service, version),
            "changelog": parse_changelog(release.changelog, release.version),
            "evidence": evidence,
            "environments": environments,
        },
        session=session,
    )


@router.get("/releases/{service}/{version}/evidence/{evidence_id}")
def evidence_report(
    service: ServicePath,
    version: VersionPath,
    evidence_id: EvidenceIdPath,
    services: ServicesDep,
    session: Viewer,
) -> Response:
    """The stored report as a download (never rendered as a page)."""
    evidence, content = services.releases.evidence_report(
        session.principal, service, version, evidence_id
    )
    return report_response(evidence, content)


@router.get("/releases/{service}/{version}/promote")
def promote_view(
    request: Request,
    service: ServicePath,
    version: VersionPath,
    environment: EnvironmentParam,
    services: ServicesDep,
    session: Viewer,
) -> Response:
    return page(
        request,
        "promote.html",
        _promote_context(services, session.principal, service, version, environment),
        session=session,
    )


@router.get("/releases/{service}/{version}/promote/state")
def deployment_state(
    request: Request,
    service: ServicePath,
    version: VersionPath,
    environment: EnvironmentParam,
    services: ServicesDep,
    session: Viewer,
) -> Response:
    """The fragment showing this release's latest deployment in ``environment`` (polled)."""
    me = session.principal
    services.releases.get(me, service, version)
    return page(
        request,
        "_release_deployment.html",
        {
            "deployment": _latest(services, me, service, version, environment),
            "base": _base(service, version),
            "environment": environment,
            "final": [s.value for s in FINAL_STATES],
        },
        session=session,
    )


@router.post("/releases/{service}/{version}/promote")
def promote(
    request: Request,
    service: ServicePath,
    version: VersionPath,
    services: ServicesDep,
    session: Changing,
    environment: EnvironmentField,
    reason: Annotated[str, Form(max_length=limits.REASON)] = "",
) -> Response:
    me = session.principal
    try:
        services.promotion.promote(me, service, version, environment, reason=reason)
    except GateRefusal as refused:
        context = _promote_context(services, me, service, version, environment)
        context.update(refused=refused.message, refused_gates=refused.gates, reason=reason)
        return page(request, "promote.html", context, session=session, status_code=409)
    return _back(service, version, environment)


@router.post("/releases/{service}/{version}/decision")
def decide(
    service: ServicePath,
    version: VersionPath,
    services: ServicesDep,
    session: Changing,
    environment: EnvironmentField,
    decision: Annotated[Literal["approve", "reject"], Form()],
    comment: Annotated[str, Form(max_length=limits.COMMENT)] = "",
) -> Response:
    services.promotion.decide(
        session.principal,
        service,
        version,
        environment,
        approve=decision == "approve",
        comment=comment,
    )
    return _back(service, version, environment)


def _back(service: str, version: str, environment: str) -> Response:
    from urllib.parse import urlencode

    target = f"{_base(service, version)}/promote?{urlencode({'environment': environment})}"
    return RedirectResponse(target, status_code=303)


def _refusal(me: Principal, action: Action, service: str, environment: str) -> str | None:
    try:
        me.require(action, service=service, environment=environment)
    except Forbidden as refused:
        return refused.message
    return None


def _latest(
    services: Services, me: Principal, service: str, version: str, environment: str
) -> DeploymentView | None:
    """This release's newest deployment in ``environment``, if one is recent."""
    history = services.promotion.history(me, service, environment, RECENT)
    return next((d for d in history if d.version == version), None)


def _promote_context(
    services: Services, me: Principal, service: str, version: str, environment: str
) -> dict[str, Any]:
    release = services.releases.get(me, service, version)
    changes = services.releases.what_changes(me, service, version, environment)
    gates = services.promotion.check_gates(me, service, version, environment)
    statuses = services.promotion.status(me, service)
    status: EnvironmentStatus | None = next(
        (s for s in statuses if s.environment == environment), None
    )
    waiting = (
        status is not None
        and status.deploying == version
        and status.deploying_state == DeploymentState.WAITING_FOR_APPROVAL.value
    )
    return {
        "release": release,
        "base": _base(service, version),
        "environment": environment,
        "environments": [s.environment for s in statuses],
        "status": status,
        "changes": changes,
        "check": gates,
        "deployment": _latest(services, me, service, version, environment),
        "final": [s.value for s in FINAL_STATES],
        # None when the viewer may promote here, else the reason (role or scope)
        "promote_refusal": _refusal(me, Action.PROMOTE, service, environment),
        "waiting": waiting,
        # the reason decide() would give, or None: then the Approve / Reject form
        "refusal": (
            services.promotion.approval_refusal(me, service, version, environment)
            if waiting
            else None
        ),
    }
