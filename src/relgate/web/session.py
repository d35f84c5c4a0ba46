"""Who is looking at a page: the session cookie, the CSRF check, the sign-in redirect.

``Viewer`` is the dependency of every page: the live session, or a redirect to
the sign-in page (``SignInRequired``). ``Changing`` is the dependency of every
form post and htmx request that changes something: a live session *and* its
CSRF token (the form field ``csrf_token`` or the ``X-CSRF-Token`` header that
htmx sends), and, when the browser says where the request comes from, this
server's own origin.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from relgate.api.deps import ServicesDep
from relgate.auth.sessions import WebSession
from relgate.errors import Forbidden, Unauthorized

COOKIE = "relgate_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """No live session: the page answers with the sign-in page (``why`` says what happened)."""

    def __init__(self, why: str, next_path: str) -> None:
        super().__init__(why)
        self.why = why
        self.next_path = next_path


def mark_web(request: Request) -> None:
    """Router dependency: errors of this request are rendered as a page, not as JSON."""
    request.state.web = True


def viewer(request: Request, services: ServicesDep) -> WebSession:
    try:
        return services.sessions.resolve(request.cookies.get(COOKIE))
    except Unauthorized as exc:
        raise SignInRequired(exc.message, _next_of(request)) from None


Viewer = Annotated[WebSession, Depends(viewer)]


async def changing(request: Request, session: Viewer) -> WebSession:
    """The session of a request that changes something, after its origin and CSRF checks."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if urlsplit(origin)._replace(path="").geturl() != expected:
            raise Forbidden(f"a form of another site ({origin[:100]}) may not change relgate")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    from relgate.auth.sessions import SessionService

    SessionService.check_csrf(session, presented)
    return session


Changing = Annotated[WebSession, Depends(changing)]


def _next_of(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return quote(path, safe="/?=&")


def safe_next(value: str | None) -> str:
    """Return where to go after signing in: a path on this server, never another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value
