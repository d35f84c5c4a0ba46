"""Rendering pages: one Jinja2 environment (autoescaped), the filters pages share.

Nothing here decides a rule: filters only format values (an age, a short digest).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from relgate import __version__
from relgate.auth.sessions import WebSession

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
env = templates.env
env.autoescape = True
env.trim_blocks = True
env.lstrip_blocks = True

# what every page's <head> loads; vendored files, served from /static (no CDN)
HTMX = "htmx-2.0.11.min.js"
HTMX_SSE = "htmx-ext-sse-2.2.4.min.js"


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """``"3 min ago"``-style text for a time; an empty string for none."""
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 0:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def short_digest(digest: str | None) -> str:
    """``sha256:0123456789ab`` for a full digest (12 hex digits, as registries show)."""
    if not digest:
        return ""
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}" if value else digest[:19]


def when(value: datetime | None) -> str:
    """An ISO time in UTC to the second, for a ``<time datetime=...>`` and its title."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


env.filters["ago"] = ago
env.filters["short_digest"] = short_digest
env.filters["when"] = when
env.globals["relgate_version"] = __version__
env.globals["htmx"] = HTMX
env.globals["htmx_sse"] = HTMX_SSE


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    session: WebSession | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render template ``name`` for ``request``; ``session`` gives ``me`` and the CSRF token."""
    values: dict[str, Any] = {
        "request": request,
        "session": session,
        "me": session.principal if session else None,
        "csrf": session.csrf if session else "",
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, values, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


# every page: scripts and styles only from this server (no inline script can run), never
# framed, not cached (a page may show what the next person at the computer should not see)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
