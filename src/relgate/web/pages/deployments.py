"""The deployment page: its facts, its states as they happen, the deployer's output live,
Roll back and Cancel.

``GET /deployments/{id}/events`` is the page's server-sent event stream while the
deployment has not ended: ``log`` events carry the new output (escaped; the event
id is the log offset, so a reconnecting browser resumes where it was), ``state``
events the re-rendered state panel when the state changes, and ``end`` once the
deployment is finished (the page's ``sse-close``). A stream lives at most
STREAM_SECONDS; the browser then reconnects, which checks the session again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from relgate import limits
from relgate.api.deps import ServicesDep
from relgate.api.params import DeploymentIdPath
from relgate.auth.model import Action
from relgate.auth.sessions import WebSession
from relgate.bootstrap import Services
from relgate.errors import RelgateError
from relgate.promotion.model import FINAL_STATES, DeploymentState
from relgate.promotion.status import LOG_ANCHOR
from relgate.promotion.timeline import timeline
from relgate.promotion.views import DeploymentView, LogSlice
from relgate.web import sse
from relgate.web.render import SECURITY_HEADERS, env, page
from relgate.web.session import Changing, Viewer, mark_web

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

# how often a stream looks at the store, and how long one stream lives at most
POLL_SECONDS = 0.5
STREAM_SECONDS = 300.0
# the browser waits this long before reconnecting a stream that ended without `end`
RETRY_MS = 2000

_RUNNING = frozenset({DeploymentState.DEPLOYING, DeploymentState.VERIFYING})

# marks where earlier output was left out (the page's script drops what came before it)
GAP = '<span class="log-gap">… earlier output left out …\n</span>'

ReasonField = Annotated[str, Form(max_length=limits.REASON)]
VersionField = Annotated[str, Form(max_length=limits.VERSION)]


@router.get("/deployments/{deployment_id}")
def deployment_page(
    request: Request, deployment_id: DeploymentIdPath, services: ServicesDep, session: Viewer
) -> Response:
    view = services.promotion.deployment(session.principal, deployment_id)
    context = _state_context(services, session, view)
    log: LogSlice | None = None
    if context["may_log"]:
        log = services.promotion.deployment_log_since(session.principal, deployment_id, 0)
    context.update(d=view, log=log, log_html=_log_html(log) if log else Markup(""))
    return page(request, "deployment.html", context, session=session)


@router.get("/deployments/{deployment_id}/events")
async def deployment_events(
    request: Request,
    deployment_id: DeploymentIdPath,
    services: ServicesDep,
    session: Viewer,
    offset: Annotated[int, Query(ge=0, le=limits.DEPLOYMENT_LOG)] = 0,
    state: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    # the first read checks role and scope (a 4xx page, not a stream, when refused)
    view = await run_in_threadpool(services.promotion.deployment, session.principal, deployment_id)
    resumed = request.headers.get("last-event-id", "")
    if resumed.isascii() and resumed.isdigit() and len(resumed) <= 10:
        offset = min(int(resumed), limits.DEPLOYMENT_LOG)
    stream = _events(request, services, session, view, offset, state)
    headers = {**SECURITY_HEADERS, "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


@router.post("/deployments/{deployment_id}/rollback")
def roll_back(
    request: Request,
    deployment_id: DeploymentIdPath,
    services: ServicesDep,
    session: Changing,
    reason: ReasonField,
    to_version: VersionField = "",
) -> Response:
    view = services.promotion.deployment(session.principal, deployment_id)
    rollback = services.promotion.rollback(
        session.principal,
        view.service,
        view.environment,
        reason=reason,
        to_version=to_version or None,
    )
    return _go(request, f"/deployments/{rollback.id}")


@router.post("/deployments/{deployment_id}/cancel")
def cancel(
    request: Request,
    deployment_id: DeploymentIdPath,
    services: ServicesDep,
    session: Changing,
    reason: ReasonField = "",
) -> Response:
    services.promotion.cancel(session.principal, deployment_id, reason)
    return _go(request, f"/deployments/{deployment_id}")


def _go(request: Request, path: str) -> Response:
    """Send the browser to ``path``: htmx follows HX-Redirect, a plain form a 303."""
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": path})
    return RedirectResponse(path, status_code=303)


def _state_context(services: Services, session: WebSession, view: DeploymentView) -> dict[str, Any]:
    """What the state panel shows: the timeline and the buttons this person may use."""
    me = session.principal
    state = DeploymentState(view.state)
    may_rollback = _may(session, Action.ROLLBACK, view)
    return {
        "d": view,
        "steps": timeline(view),
        "finished": state in FINAL_STATES,
        "running": state in _RUNNING,
        "may_log": _may(session, Action.PROMOTE, view),
        "may_cancel": _may(session, Action.PROMOTE, view) and state not in FINAL_STATES,
        "may_rollback": may_rollback,
        "target": (
            services.promotion.rollback_target(me, view.service, view.environment)
            if may_rollback
            else None
        ),
        "me": me,
        "csrf": session.csrf,
    }


def _may(session: WebSession, action: Action, view: DeploymentView) -> bool:
    return session.principal.may(action, service=view.service, environment=view.environment)


def _log_html(piece: LogSlice) -> Markup:
    """A log slice as HTML: escaped text (the log is untrusted), a gap mark when it skips."""
    gap = Markup(GAP) if piece.skipped else ""
    return Markup("{}<span>{}</span>").format(gap, escape(piece.text))


async def _events(
    request: Request,
    services: Services,
    session: WebSession,
    view: DeploymentView,
    offset: int,
    shown_state: str,
) -> AsyncIterator[str]:
    """The stream of one page: new output and state changes until the deployment ends."""
    me, deployment_id = session.principal, view.id
    may_log = _may(session, Action.PROMOTE, view)
    template = env.get_template("_deployment_state.html")
    anchor = ""
    deadline = time.monotonic() + STREAM_SECONDS
    yield f"retry: {RETRY_MS}\n\n"
    try:
        while True:
            if may_log:
                piece = await run_in_threadpool(
                    services.promotion.deployment_log_since,
                    me,
                    deployment_id,
                    offset,
                    anchor=anchor,
                )
                if piece.text or piece.skipped:
                    yield sse.event("log", str(_log_html(piece)), piece.end)
                    anchor = (piece.text if piece.skipped else anchor + piece.text)[-LOG_ANCHOR:]
                offset = piece.end
            if view.state != shown_state:
                context = await run_in_threadpool(_state_context, services, session, view)
                yield sse.event("state", template.render(context))
                shown_state = view.state
            if DeploymentState(view.state) in FINAL_STATES:
                yield sse.event("end", "")
                return
            if time.monotonic() > deadline or await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)
            view = await run_in_threadpool(services.promotion.deployment, me, deployment_id)
    except RelgateError:
        # the deployment or the token's scope went away meanwhile: end this stream; the
        # browser's reconnect gets the error page
        return
