"""The overview: every service × environment, what runs there and what waits."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from relgate.api.deps import ServicesDep
from relgate.web.render import page
from relgate.web.session import Viewer, mark_web

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])


@router.get("/")
def overview(request: Request, services: ServicesDep, session: Viewer) -> Response:
    rows = services.promotion.status(session.principal)
    return page(request, "overview.html", {"rows": rows}, session=session)
