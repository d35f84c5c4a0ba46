"""The flags page: every flag × environment, a toggle per cell, the kill switch; one flag's detail.

Thin: parse, call ``FlagService``, render. Who may toggle or kill, what a
protected or out-of-scope environment allows, and every audit event are the
service's; its refusals are shown as they come (``#flash`` for htmx requests).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from relgate.api.deps import ServicesDep
from relgate.api.params import EnvironmentPath, FlagKeyPath
from relgate.auth.sessions import WebSession
from relgate.errors import BadInput
from relgate.flags import describe
from relgate.web.render import page
from relgate.web.session import Changing, Viewer, mark_web

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

# what a person types as the reason of a kill: enough for a sentence or a ticket link
KILL_REASON_MAX = 500


@router.get("/flags")
def flags_page(
    request: Request, services: ServicesDep, session: Viewer, archived: bool = False
) -> Response:
    board = services.flags.board(session.principal, include_archived=archived)
    return page(
        request,
        "flags.html",
        {"board": board, "archived": archived, "describe": describe},
        session=session,
    )


@router.get("/flags/{key}")
def flag_page(
    request: Request, key: FlagKeyPath, services: ServicesDep, session: Viewer
) -> Response:
    board = services.flags.board(session.principal, key=key)
    return page(
        request,
        "flag.html",
        {"board": board, "row": board.rows[0], "describe": describe},
        session=session,
    )


@router.post("/flags/{key}/environments/{environment}/{change}")
def toggle(
    request: Request,
    key: FlagKeyPath,
    environment: EnvironmentPath,
    change: Annotated[Literal["enable", "disable"], Path()],
    services: ServicesDep,
    session: Changing,
) -> Response:
    if change == "enable":
        services.flags.enable(session.principal, key, environment)
    else:
        services.flags.disable(session.principal, key, environment)
    done = f"{key} turned {'on' if change == 'enable' else 'off'} in {environment}"
    return _row(request, services, session, key, done)


@router.post("/flags/{key}/kill")
def kill(
    request: Request,
    key: FlagKeyPath,
    services: ServicesDep,
    session: Changing,
    reason: Annotated[str, Form(min_length=1, max_length=KILL_REASON_MAX)],
) -> Response:
    if not reason.strip():
        raise BadInput("reason: say why the flag is killed (it goes into the audit trail)")
    killed = services.flags.kill(session.principal, key, reason=reason.strip())
    where = ", ".join(sorted(killed.environments)) or "no environment yet"
    return _row(request, services, session, key, f"{key} killed: off in {where}")


def _row(
    request: Request, services: ServicesDep, session: WebSession, key: str, done: str
) -> Response:
    """The flag's row again (htmx), or back to the page (a plain form post)."""
    if not request.headers.get("hx-request"):
        return RedirectResponse("/flags", status_code=303)
    board = services.flags.board(session.principal, key=key)
    return page(
        request,
        "_flag_row.html",
        {"board": board, "row": board.rows[0], "describe": describe, "done": done},
        session=session,
    )
