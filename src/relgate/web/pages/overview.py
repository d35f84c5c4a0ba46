"""The overview: every service × environment, what runs there and what waits.

``GET /`` renders the page; ``GET /fragments/overview`` the live part of it (the
approval queue and the matrix) again; ``GET /events/overview`` is a stream of
server-sent events that keeps an open page current:

- ``cells``: the rows of the services that changed (each an out-of-band swap of
  its ``<tbody>``), the approval queue, and the time of the change;
- ``refresh``: something changed that touches every row (a flag, a pipeline,
  or many changes at once): the page fetches the fragment again.

One task per process reads the change marker (the audit log's head) every
``POLL_SECONDS``, however many pages listen; a page's stream renders only when
the marker moved, and only the rows of its own scope. Each event carries the
marker as its id, so a browser that reconnects (EventSource does by itself)
gets what it missed. A stream ends after ``STREAM_MAX_SECONDS`` (the browser
reconnects) so that it never holds a server's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from relgate.api.deps import ServicesDep
from relgate.bootstrap import Services
from relgate.errors import Unauthorized
from relgate.promotion.overview import Overview, ServiceOverview
from relgate.web import sse
from relgate.web.render import SECURITY_HEADERS, page, templates
from relgate.web.session import COOKIE, Viewer, mark_web

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])
log = logging.getLogger("relgate.web")

POLL_SECONDS: Final = 0.25
KEEPALIVE_SECONDS: Final = 15.0
STREAM_MAX_SECONDS: Final = 300.0
# answers above this size are sent gzip-compressed to a browser that takes it
GZIP_ABOVE: Final = 4096

Since = Annotated[int | None, Query(ge=0, le=2**62)]

# a service's row, rendered once per read of it (its stamp): a page of 1,000 services
# renders again only the rows that changed
ROWS_KEPT: Final = 10_000
_rows: OrderedDict[tuple[str, int, tuple[str, ...]], Markup] = OrderedDict()
_rows_lock = threading.Lock()


def overview_row(svc: ServiceOverview, columns: tuple[str, ...]) -> Markup:
    """The ``<tbody>`` of ``svc`` under ``columns`` (the template global ``overview_row``)."""
    key = (svc.service, svc.stamp, tuple(columns))
    with _rows_lock:
        html = _rows.get(key)
    if html is None:
        macro: Any = templates.env.get_template("overview_macros.html").module.row  # type: ignore[attr-defined]
        html = Markup(macro(svc, columns))
        with _rows_lock:
            _rows[key] = html
            while len(_rows) > ROWS_KEPT:
                _rows.popitem(last=False)
    return html


templates.env.globals["overview_row"] = overview_row


@router.get("/")
def overview(request: Request, services: ServicesDep, session: Viewer) -> Response:
    ov = services.promotion.overview(session.principal)
    return _compressed(request, page(request, "overview.html", _context(ov), session=session))


@router.get("/fragments/overview")
def overview_fragment(request: Request, services: ServicesDep, session: Viewer) -> Response:
    ov = services.promotion.overview(session.principal)
    return _compressed(request, page(request, "overview_live.html", _context(ov), session=session))


@router.get("/events/overview")
async def overview_events(
    request: Request, services: ServicesDep, session: Viewer, since: Since = None
) -> StreamingResponse:
    principal = session.principal
    resumed = request.headers.get("last-event-id", "")
    start = int(resumed) if resumed.isdigit() and len(resumed) < 19 else since
    if start is None:
        start = await run_in_threadpool(services.promotion.change_marker)
    columns = await run_in_threadpool(services.promotion.overview_columns, principal)
    stream = _events(request, services, request.cookies.get(COOKIE), start, columns)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _context(ov: Overview) -> dict[str, object]:
    return {"ov": ov, "columns": ov.environments, "now": ov.read_at}


def _compressed(request: Request, response: Response) -> Response:
    """``response`` gzip-compressed when the browser takes it and it is large."""
    body = bytes(response.body)
    if len(body) < GZIP_ABOVE or "gzip" not in request.headers.get("accept-encoding", ""):
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    headers["Content-Encoding"] = "gzip"
    headers["Vary"] = "Accept-Encoding"
    return Response(
        gzip.compress(body, compresslevel=5),
        status_code=response.status_code,
        headers=headers,
    )


# ---------------------------------------------------------------------- the stream


class ChangeFeed:
    """One reader of the change marker per event loop, however many streams wait on it."""

    def __init__(self, read: Callable[[], int], poll_seconds: float = POLL_SECONDS) -> None:
        self._read = read
        self._poll = poll_seconds
        self._head: int | None = None
        self._changed = asyncio.Condition()
        self._waiting = 0
        self._task: asyncio.Task[None] | None = None
        self.loop = asyncio.get_running_loop()

    async def wait_beyond(self, seen: int, timeout: float) -> int:
        """Return the marker once it is beyond ``seen``, or after ``timeout`` seconds."""
        self._waiting += 1
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._run())
        try:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: (self._head or 0) > seen), timeout
                    )
            return max(self._head or 0, seen)
        finally:
            self._waiting -= 1

    async def _run(self) -> None:
        idle = 0
        while idle < 20:  # nobody listened for 20 polls: stop (the next stream starts it)
            try:
                head = await run_in_threadpool(self._read)
            except Exception:  # a store that does not answer now may answer at the next poll
                log.warning("reading the overview's change marker failed", exc_info=True)
                head = self._head or 0
            if head != self._head:
                self._head = head
                async with self._changed:
                    self._changed.notify_all()
            idle = idle + 1 if self._waiting == 0 else 0
            await asyncio.sleep(self._poll)


def _feed(request: Request, services: Services) -> ChangeFeed:
    state = request.app.state
    feed: ChangeFeed | None = getattr(state, "overview_feed", None)
    if feed is None or feed.loop is not asyncio.get_running_loop():
        feed = ChangeFeed(services.promotion.change_marker)
        state.overview_feed = feed
    return feed


async def _events(
    request: Request,
    services: Services,
    cookie: str | None,
    since: int,
    columns: tuple[str, ...],
) -> AsyncIterator[bytes]:
    feed = _feed(request, services)
    yield b"retry: 2000\n\n"
    started = quiet = time.monotonic()
    while time.monotonic() - started < STREAM_MAX_SECONDS:
        head = await feed.wait_beyond(since, KEEPALIVE_SECONDS)
        if head > since:
            event, since, html = await run_in_threadpool(
                _changes, request, services, cookie, since, columns
            )
            if event is not None:
                yield sse.event(event, html, since).encode()
                quiet = time.monotonic()
                if event == "refresh":
                    return  # the page fetches the fragment again, which connects again
        if time.monotonic() - quiet >= KEEPALIVE_SECONDS:
            yield b": keep-alive\n\n"
            quiet = time.monotonic()


def _changes(
    request: Request,
    services: Services,
    cookie: str | None,
    since: int,
    columns: tuple[str, ...],
) -> tuple[str | None, int, str]:
    """What a page that saw audit event ``since`` is sent: (event or None, new point, html)."""
    try:
        # the session as of now: a revoked token or an expired session stops the updates
        session = services.sessions.resolve(cookie)
    except Unauthorized:
        return "refresh", since, ""
    promotion = services.promotion
    changes = promotion.overview_changes(session.principal, since)
    if changes.services is None:
        return "refresh", changes.head, ""
    if not changes.services:
        return None, changes.head, ""
    ov = promotion.overview(session.principal, changes.services)
    html = templates.get_template("overview_changes.html").render(
        request=request,
        me=session.principal,
        ov=ov,
        columns=columns,
        now=ov.read_at,
        waiting=promotion.approval_queue(session.principal),
    )
    return "cells", changes.head, html
