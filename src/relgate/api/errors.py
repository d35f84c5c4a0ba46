"""The one place that knows HTTP status codes of relgate's errors."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from relgate import errors

STATUS: list[tuple[type[errors.RelgateError], int]] = [
    (errors.NotFound, 404),
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
    async def _relgate_error(_request: Request, exc: errors.RelgateError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, errors.Unauthorized) else None
        return JSONResponse(error_body(exc), status_code=status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            loc = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
            problems.append(f"{loc}: {error.get('msg')}" if loc else str(error.get("msg")))
        return JSONResponse(
            {"error": {"code": "bad_input", "message": "; ".join(problems)}}, status_code=400
        )
