"""OpenFeature Remote Evaluation Protocol (OFREP) under ``/ofrep/v1``.

The token (``Authorization: Bearer <token>``, ``Authorization: <token>`` or
``X-API-Key: <token>``) must be a flag client token; its environment decides
which definitions are evaluated. Evaluation errors answer in OFREP's shape
(``{"key", "errorCode", "errorDetails"}``); authentication errors in relgate's.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from relgate.api.routes.unleash import FlagClients, FlagClientsDep
from relgate.auth.model import Principal
from relgate.flags.model import Snapshot
from relgate.flags.serving import (
    OFREP_CONFIGURATION,
    OfrepError,
    client_environment,
    context_etag,
    etag_matches,
    ofrep_bulk,
    ofrep_context,
    ofrep_evaluate,
)

router = APIRouter(prefix="/ofrep/v1", tags=["OpenFeature remote evaluation (OFREP)"])

_CONFIGURATION_BODY: Final = json.dumps(OFREP_CONFIGURATION, separators=(",", ":")).encode()
_CONFIGURATION_ETAG: Final = (
    f'"rg-ofrep-conf-{hashlib.sha256(_CONFIGURATION_BODY).hexdigest()[:16]}"'
)


async def ofrep_principal(request: Request, clients: FlagClientsDep) -> Principal:
    """Return the client principal of ``Authorization`` or ``X-API-Key``.

    Raises Unauthorized (no or unknown token) or Forbidden (not a client token).
    """
    credentials = request.headers.get("authorization") or request.headers.get("x-api-key")
    cached = clients.auth.cached(credentials)
    if cached is not None:
        return cached
    return await run_in_threadpool(clients.auth.client, credentials)


OfrepClientDep = Annotated[Principal, Depends(ofrep_principal)]


def _environment(principal: Principal) -> str:
    # the token's one environment, checked again at each read: never the request's
    return client_environment(principal)


async def _snapshot(clients: FlagClients, environment: str) -> Snapshot:
    snapshot = clients.serving.cached_snapshot(environment)
    if snapshot is None:
        snapshot = await run_in_threadpool(clients.serving.snapshot, environment)
    return snapshot


async def _json_body(request: Request, key: str | None) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise OfrepError(key, "INVALID_CONTEXT", f"the request body is not JSON: {exc}") from None


def _error(exc: OfrepError) -> JSONResponse:
    status = 404 if exc.error_code == "FLAG_NOT_FOUND" else 400
    return JSONResponse(exc.body(), status_code=status)


@router.post(
    "/evaluate/flags/{key}",
    responses={
        200: {"description": "{key, value, reason, variant, metadata}"},
        400: {"description": "INVALID_CONTEXT"},
        404: {"description": "FLAG_NOT_FOUND"},
    },
)
async def evaluate_flag(
    key: str, request: Request, clients: FlagClientsDep, me: OfrepClientDep
) -> Response:
    """Evaluate one flag for the context in the body ``{"context": {"targetingKey": ...}}``."""
    environment = _environment(me)
    try:
        context = ofrep_context(await _json_body(request, key), environment, key)
        result = ofrep_evaluate(await _snapshot(clients, environment), key, context)
    except OfrepError as exc:
        return _error(exc)
    return JSONResponse(result)


@router.post(
    "/evaluate/flags",
    responses={
        200: {"description": '{"flags": [...]}, with an ETag'},
        304: {"description": "Not modified since the ETag given in If-None-Match."},
        400: {"description": "INVALID_CONTEXT"},
    },
)
async def evaluate_flags(request: Request, clients: FlagClientsDep, me: OfrepClientDep) -> Response:
    """Evaluate every flag of the token's environment for the body's context.

    The ETag is derived from the environment's revision and the request body:
    the same context asked again before any change gets 304.
    """
    environment = _environment(me)
    raw = await request.body()
    try:
        context = ofrep_context(await _json_body(request, None), environment)
    except OfrepError as exc:
        return _error(exc)
    serving = clients.serving
    revision = serving.revisions.peek(environment)
    if revision is None:
        revision = await run_in_threadpool(serving.revision, environment)
    etag = context_etag(environment, revision, raw)
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    result = ofrep_bulk(await _snapshot(clients, environment), context)
    return JSONResponse(result, headers={"ETag": etag})


@router.get("/configuration")
async def configuration(request: Request, me: OfrepClientDep) -> Response:
    """What relgate's OFREP supports: polling cache invalidation, the value types."""
    headers = {"ETag": _CONFIGURATION_ETAG}
    if etag_matches(request.headers.get("if-none-match"), _CONFIGURATION_ETAG):
        return Response(status_code=304, headers=headers)
    return Response(_CONFIGURATION_BODY, media_type="application/json", headers=headers)
