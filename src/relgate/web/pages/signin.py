"""Signing in with an API token, and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from relgate.api.deps import ServicesDep
from relgate.errors import Unauthorized
from relgate.web.render import page
from relgate.web.session import COOKIE, Changing, mark_web, safe_next

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

FLASH = "relgate_flash"


@router.get("/sign-in")
def sign_in_form(request: Request, next: str = "/") -> Response:
    response = page(
        request,
        "sign_in.html",
        {"next": safe_next(next), "why": request.cookies.get(FLASH, "")[:200]},
    )
    response.delete_cookie(FLASH)
    return response


@router.post("/sign-in")
def sign_in(
    request: Request,
    services: ServicesDep,
    token: Annotated[str, Form(max_length=400)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    try:
        cookie, _ = services.sessions.sign_in(token)
    except Unauthorized as exc:
        return page(
            request,
            "sign_in.html",
            {"next": safe_next(next), "error": exc.message},
            status_code=401,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(services.sessions.lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_https(request, services.settings.public_url),
        path="/",
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, services: ServicesDep, _session: Changing) -> Response:
    services.sessions.sign_out(request.cookies.get(COOKIE))
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _https(request: Request, public_url: str) -> bool:
    """Whether the browser reaches this server over HTTPS (then the cookie is Secure)."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return (
        request.url.scheme == "https"
        or public_url.startswith("https://")
        or forwarded.split(",")[0].strip() == "https"
    )
