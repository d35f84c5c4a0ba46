"""The audit page: the trail filtered by service, environment, actor and action, paged,
with whether the chain verifies and its head (a fragment the page loads after it shows:
verifying a long chain the first time takes seconds).

Thin: parse the GET form, call ``AuditTrail`` (the read use case the API uses;
who may read the trail is its rule), render.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from relgate import limits
from relgate.api.deps import ServicesDep
from relgate.audit.reading import ACTION_MAX, ACTOR_MAX, AuditFilter
from relgate.web.render import page
from relgate.web.session import Viewer, mark_web

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

PAGE_SIZE = 50


@router.get("/audit")
def audit_page(
    request: Request,
    services: ServicesDep,
    session: Viewer,
    service: Annotated[str, Query(max_length=limits.SERVICE)] = "",
    environment: Annotated[str, Query(max_length=limits.ENVIRONMENT)] = "",
    actor: Annotated[str, Query(max_length=ACTOR_MAX)] = "",
    action: Annotated[str, Query(max_length=ACTION_MAX)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    trail = services.audit
    wanted = AuditFilter(service=service, environment=environment, actor=actor, action=action)
    events = trail.events(session.principal, wanted, before=before, limit=PAGE_SIZE)
    chosen = events.filter
    kept = {
        name: value
        for name, value in (
            ("service", chosen.service),
            ("environment", chosen.environment),
            ("actor", chosen.actor),
            ("action", chosen.action),
        )
        if value
    }
    older = "/audit?" + urlencode({**kept, "before": events.older}) if events.older else None
    newest = ("/audit?" + urlencode(kept)) if kept else "/audit"
    return page(
        request,
        "audit.html",
        {
            "page": events,
            "chosen": chosen,
            "older": older,
            "newest": newest if before else None,
        },
        session=session,
    )


@router.get("/audit/chain")
def chain_status(
    request: Request, services: ServicesDep, session: Viewer, full: bool = False
) -> Response:
    """The chain's verification and head (the page loads it after it shows the events)."""
    status = services.audit.status(session.principal, full=full)
    name = "_audit_chain.html" if request.headers.get("hx-request") else "audit_chain.html"
    return page(request, name, {"status": status}, session=session)
