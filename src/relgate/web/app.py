"""install(app, services): the web UI's static files, pages, and how their errors look."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from relgate import errors
from relgate.web.render import HERE, page
from relgate.web.session import SignInRequired

# the paths that are not the UI's: their errors stay JSON
API_PREFIXES = ("/api/", "/ofrep/", "/metrics", "/healthz")


def install(app: FastAPI) -> None:
    """Mount ``/static`` and the pages; answer errors of pages with a page."""
    from relgate.web.pages import audit, delivery, deployments, flags, overview, signin
    from relgate.web.pages import releases as release_pages

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(signin.router)
    app.include_router(overview.router)
    app.include_router(deployments.router)
    app.include_router(delivery.router)
    app.include_router(release_pages.router)
    app.include_router(flags.router)
    app.include_router(audit.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        target = f"/sign-in?next={exc.next_path}"
        if request.headers.get("hx-request"):
            # htmx follows HX-Redirect with a full page load
            return Response(status_code=401, headers={"HX-Redirect": target})
        if request.method == "GET":
            response = RedirectResponse(target, status_code=303)
            response.set_cookie("relgate_flash", exc.why[:200], max_age=30, httponly=True)
            return response
        return error_page(request, errors.Unauthorized(exc.why), 401)


def is_page(request: Request) -> bool:
    """Whether ``request`` is for the UI (its errors are rendered as a page)."""
    if getattr(request.state, "web", False):
        return True
    path = request.url.path
    return not path.startswith(API_PREFIXES) and "text/html" in request.headers.get("accept", "")


def error_page(request: Request, exc: errors.RelgateError, status_code: int) -> HTMLResponse:
    """The page (or, for htmx, the fragment) that says what went wrong."""
    name = "_error_fragment.html" if request.headers.get("hx-request") else "error.html"
    response = page(
        request,
        name,
        {"message": exc.message, "status_code": status_code},
        status_code=status_code,
    )
    if request.headers.get("hx-request"):
        # htmx swaps only 2xx answers by default: show the error where the result would go
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    return response
