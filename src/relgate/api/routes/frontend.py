"""The Unleash frontend API (``/api/frontend``) for browser and mobile SDKs, with its CORS.

A frontend token (role ``frontend``) is public: it ships in a web page. It
reads the flags of its one environment *evaluated* for the context the client
sends, only those that are on, and may call nothing else. Its token comes in
``Authorization: <token>`` (``Bearer`` optional).

CORS is per token: ``FrontendCors`` (installed in front of the app) answers a
preflight for an origin that some live frontend token lists (a preflight
carries no token), and lets a request with an ``Origin`` through only when
its token lists that origin; other origins get no ``Access-Control-*``
header, so the browser refuses the answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relgate.api.errors import error_body, status_of
from relgate.api.routes.unleash import FlagClientsDep
from relgate.auth.model import Principal, Role
from relgate.auth.origins import ANY_ORIGIN, allows
from relgate.bootstrap import Services
from relgate.errors import BadInput, Forbidden, RelgateError
from relgate.flags.frontend import (
    MAX_FIELDS,
    MAX_VALUE,
    FrontendAuthenticator,
    body_context,
    document_etag,
    frontend_environment,
    query_context,
    toggles,
)
from relgate.flags.metrics import parse_metrics, parse_registration
from relgate.flags.model import Context
from relgate.flags.serving import etag_matches

PREFIX: Final = "/api/frontend"
router = APIRouter(prefix=PREFIX, tags=["unleash frontend API"])

TOKEN_CACHE_SECONDS: Final = 5.0
# how long the origins of all frontend tokens (for preflights) are trusted
ORIGINS_CACHE_SECONDS: Final = 5.0
PREFLIGHT_MAX_AGE: Final = "600"
ALLOWED_METHODS: Final = "GET, POST, OPTIONS"
MAX_REQUESTED_HEADERS: Final = 1_000
_HEADER_LIST: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*\Z"
)

_state_lock = threading.Lock()


class KnownOrigins:
    """The origins of every live frontend token, read at most every ``ttl`` seconds."""

    def __init__(self, read: Callable[[], frozenset[str]], ttl: float) -> None:
        self._read = read
        self._ttl = ttl
        self._known: tuple[frozenset[str], float] | None = None

    def get(self) -> frozenset[str]:
        known = self._known
        now = time.monotonic()
        if known is not None and now - known[1] < self._ttl:
            return known[0]
        origins = self._read()
        self._known = (origins, now)
        return origins

    def forget(self) -> None:
        self._known = None


@dataclass
class Frontend:
    """Per-application state of the frontend API: token cache and known origins."""

    auth: FrontendAuthenticator
    origins: KnownOrigins


def frontend_state(app: FastAPI) -> Frontend:
    """Return the app's Frontend state, built on first use."""
    state = app.state
    found: Frontend | None = getattr(state, "frontend_api", None)
    if found is not None:
        return found
    with _state_lock:
        found = getattr(state, "frontend_api", None)
        if found is None:
            services: Services = state.services
            found = Frontend(
                auth=FrontendAuthenticator(services.tokens.authenticate, TOKEN_CACHE_SECONDS),
                origins=KnownOrigins(services.tokens.frontend_origins, ORIGINS_CACHE_SECONDS),
            )
            state.frontend_api = found
    return found


async def frontend_principal(request: Request) -> Principal:
    """Return the frontend principal of the request's token (Unauthorized, Forbidden)."""
    auth = frontend_state(request.app).auth
    authorization = request.headers.get("authorization")
    cached = auth.cached(authorization)
    if cached is not None:
        frontend_environment(cached)
        return cached
    return await run_in_threadpool(auth.frontend, authorization)


FrontendDep = Annotated[Principal, Depends(frontend_principal)]


def _peer(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


async def _answer(
    request: Request, clients: FlagClientsDep, environment: str, context: Context
) -> Response:
    serving = clients.serving
    snapshot = serving.cached_snapshot(environment)
    if snapshot is None:
        snapshot = await run_in_threadpool(serving.snapshot, environment)
    document = toggles(snapshot, context)
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    etag = document_etag(body)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": '{"toggles": [{"name", "enabled", "variant", "impressionData"}]}'},
    304: {"description": "Not modified since the ETag given in If-None-Match."},
}


def _query_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "maxLength": MAX_VALUE},
    }


_QUERY: Final = {
    "parameters": [
        _query_parameter("userId", "The user."),
        _query_parameter("sessionId", "The session."),
        _query_parameter("remoteAddress", "The client's address (default: the caller's)."),
        _query_parameter("appName", "The app (default: the unleash-appname header)."),
        _query_parameter("currentTime", "The time to evaluate at, ISO 8601 (default: now)."),
        {
            "name": "properties",
            "in": "query",
            "required": False,
            "style": "deepObject",
            "explode": True,
            "description": "Properties as properties[name]=value; any other parameter is a "
            "property too.",
            "schema": {
                "type": "object",
                "maxProperties": MAX_FIELDS,
                "additionalProperties": {"type": "string", "maxLength": MAX_VALUE},
            },
        },
    ]
}


@router.get("", responses=_RESPONSES, openapi_extra=_QUERY)
async def get_toggles(request: Request, clients: FlagClientsDep, me: FrontendDep) -> Response:
    """The flags that are on for the query's context, in the token's environment.

    Context: ``userId``, ``sessionId``, ``remoteAddress`` (default: the caller's
    address), ``appName``, ``currentTime``, ``properties[name]=value``; any other
    parameter is a property. Honours ``If-None-Match`` (304).
    """
    environment = frontend_environment(me)
    context = query_context(
        request.query_params.multi_items(),
        environment,
        remote_address=_peer(request),
        app_name=request.headers.get("unleash-appname"),
    )
    return await _answer(request, clients, environment, context)


@router.post("", responses=_RESPONSES)
async def post_toggles(request: Request, clients: FlagClientsDep, me: FrontendDep) -> Response:
    """The flags that are on for the body's context ``{"context": {...}}``, as GET gives them."""
    environment = frontend_environment(me)
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise BadInput(f"the request body is not JSON: {exc}") from None
    context = body_context(
        body,
        environment,
        remote_address=_peer(request),
        app_name=request.headers.get("unleash-appname"),
    )
    return await _answer(request, clients, environment, context)


@router.post("/client/metrics", status_code=202, response_class=Response)
async def frontend_metrics(request: Request, clients: FlagClientsDep, me: FrontendDep) -> Response:
    """Add a browser SDK's bucket of yes/no/variant counts, stored as the client API stores them."""
    environment = frontend_environment(me)
    body = await run_in_threadpool(parse_metrics, await request.body())
    clients.ingestion.submit_metrics(environment, body)
    return Response(status_code=202)


@router.post("/client/register", status_code=202, response_class=Response)
async def frontend_register(request: Request, clients: FlagClientsDep, me: FrontendDep) -> Response:
    """Record a browser SDK instance, as the client API's register does."""
    environment = frontend_environment(me)
    body = await run_in_threadpool(parse_registration, await request.body())
    clients.ingestion.submit_registration(environment, body)
    return Response(status_code=202)


# ---------------------------------------------------------------------------- CORS


def _headers_of(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


class FrontendCors:
    """ASGI middleware: CORS of ``/api/frontend``, per frontend token. Install with ``install``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        headers = _headers_of(scope)
        origin = headers.get("origin")
        state = frontend_state(scope["app"])
        if origin is None:
            await self.app(scope, receive, _vary(send, None))
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(state, origin, headers, send)
            return
        allowed: str | None
        try:
            principal = state.auth.cached(headers.get("authorization"))
            if principal is None:
                principal = await run_in_threadpool(
                    state.auth.principal, headers.get("authorization")
                )
        except RelgateError:
            principal = None  # the route reports it; readable from origins some token lists
        if principal is not None and principal.role is Role.FRONTEND:
            if not allows(principal.origins, origin):
                await _refuse(
                    send,
                    Forbidden(
                        f"origin {origin[:100]!r} is not one of the origins of frontend token "
                        f"{principal.name!r}"
                    ),
                )
                return
            allowed = _allow_value(principal.origins, origin)
        else:
            try:
                known = await run_in_threadpool(state.origins.get)
            except RelgateError:
                known = frozenset()
            allowed = _allow_value(known, origin) if allows(known, origin) else None
        await self.app(scope, receive, _vary(send, allowed))

    @staticmethod
    async def _preflight(state: Frontend, origin: str, headers: dict[str, str], send: Send) -> None:
        try:
            known = await run_in_threadpool(state.origins.get)
        except RelgateError as exc:
            await _refuse(send, exc)
            return
        if not allows(known, origin):
            await _refuse(
                send,
                Forbidden(f"origin {origin[:100]!r} is not an origin of any frontend token"),
            )
            return
        response = [
            (b"access-control-allow-origin", _allow_value(known, origin).encode("latin-1")),
            (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            (b"vary", b"Origin, Access-Control-Request-Headers"),
            (b"content-length", b"0"),
        ]
        requested = headers.get("access-control-request-headers", "").strip()
        if requested and len(requested) <= MAX_REQUESTED_HEADERS and _HEADER_LIST.match(requested):
            response.append((b"access-control-allow-headers", requested.encode("latin-1")))
        await send({"type": "http.response.start", "status": 204, "headers": response})
        await send({"type": "http.response.body", "body": b""})


def _allow_value(origins: frozenset[str], origin: str) -> str:
    """Return the Access-Control-Allow-Origin of an allowed ``origin``.

    A listed origin is echoed as the browser sent it (with ``Vary: Origin``);
    only one admitted by ``*`` alone gets ``*``. Credentials are never allowed.
    """
    if allows(origins - {ANY_ORIGIN}, origin):
        return origin
    return ANY_ORIGIN


def _vary(send: Send, allowed: str | None) -> Send:
    """Return a send adding ``Vary: Origin`` and, when ``allowed``, the CORS headers."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            extra = [(b"vary", b"Origin")]
            if allowed is not None:
                extra += [
                    (b"access-control-allow-origin", allowed.encode("latin-1")),
                    (b"access-control-expose-headers", b"ETag"),
                ]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


async def _refuse(send: Send, exc: RelgateError) -> None:
    payload = json.dumps(error_body(exc)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"vary", b"Origin"),
    ]
    await send({"type": "http.response.start", "status": status_of(exc), "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def install(app: FastAPI) -> None:
    """Put ``FrontendCors`` in front of ``app`` (outermost: also around body-limit refusals)."""
    app.add_middleware(FrontendCors)
