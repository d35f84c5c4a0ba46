"""The one place that knows HTTP status codes of relgate's errors."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from relgate import errors

STATUS: list[tuple[type[errors.RelgateError], int]] = [
    (errors.NotFound, 404),
    (errors.TooLarge, 413),
    (errors.BadInput, 400),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.Conflict, 409),
    (errors.GateFailed, 409),
    (errors.ExternalError, 502),
]


def status_of(exc: errors.RelgateError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(exc: errors.RelgateError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    gates = getattr(exc, "gates", None)
    if gates is not None:
        body["gates"] = [g.__dict__ for g in gates]
    return {"error": body}


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.RelgateError)
    async def _relgate_error(request: Request, exc: errors.RelgateError) -> Response:
        if _is_page(request):
            return _page(request, exc, status_of(exc))
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, errors.Unauthorized) else None
        return JSONResponse(error_body(exc), status_code=status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        body = validation_body(exc.errors())
        if _is_page(request):
            return _page(request, errors.BadInput(body["error"]["message"]), 400)
        return JSONResponse(body, status_code=400)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        # routing's own answers (no such route, a method it does not take) in relgate's shape
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = f"{request.method} {request.url.path}: {exc.detail}"
        if _is_page(request):
            return _page(request, errors.BadInput(message), exc.status_code)
        body = {"error": {"code": code, "message": message}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def _is_page(request: Request) -> bool:
    from relgate.web.app import is_page

    return is_page(request)


def _page(request: Request, exc: errors.RelgateError, status_code: int) -> Response:
    from relgate.web.app import error_page

    return error_page(request, exc, status_code)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_input"}
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def validation_body(problems: Any) -> dict[str, Any]:
    """Return relgate's error body for pydantic/FastAPI validation errors, naming each field.

    ``{"error": {"code": "bad_input", "message": "commit: String should have at most
    64 characters"}}``: the field is written as its path in the body (``gates.0.min``)
    or the name of the query or path parameter.
    """
    messages = []
    for error in problems:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in _LOCATIONS:
            loc = loc[1:]
        where = ".".join(loc)
        messages.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return {"error": {"code": "bad_input", "message": "; ".join(messages)}}
