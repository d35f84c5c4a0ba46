"""The audit page: the trail filtered by service, environment, actor and action, paged,
with whether the chain verifies and its head.

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
from relgate.audit.reading import ACTION_MAX, ACTOR_MAX, AuditFilter, AuditTrail
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
    trail = AuditTrail(services.uow, services.checkpointer)
    wanted = AuditFilter(service=service, environment=environment, actor=actor, action=action)
    events = trail.events(session.principal, wanted, before=before, limit=PAGE_SIZE)
    status = trail.status(session.principal)
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
            "status": status,
            "older": older,
            "newest": newest if before else None,
        },
        session=session,
    )
