"""The Unleash client API (``/api/client/...``), so unmodified Unleash SDKs work against relgate.

Unleash SDKs send their token as ``Authorization: <token>`` without a scheme;
``Bearer <token>`` is accepted too. Only client tokens are served, and the
token's environment decides which definitions a client gets.

The hot routes are ``async`` and answer from memory when they can (a cached
token, a fresh revision, a serialized payload); only a cache miss goes to a
worker thread and the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from relgate.auth.model import Principal
from relgate.bootstrap import Services
from relgate.errors import ExternalError, RelgateError
from relgate.flags.ingestion import MetricsIngestion
from relgate.flags.metrics import ClientMetricsService, parse_metrics, parse_registration
from relgate.flags.serving import (
    ClientAuthenticator,
    FeaturesPayload,
    FlagServing,
    FlagSource,
    PayloadFormat,
    accepts_gzip,
    client_environment,
    etag_matches,
    feature_changes,
    payload_format,
)

router = APIRouter(prefix="/api/client", tags=["unleash client API"])

# how long an accepted client token is trusted without asking the store
TOKEN_CACHE_SECONDS: Final = 5.0
# how long a revision read is trusted: a change on another replica shows within it
REVISION_CACHE_SECONDS: Final = 0.2
# the streaming loop looks at the revision this often (changes in this process wake it at once)
STREAM_POLL_SECONDS: Final = 0.25
STREAM_KEEPALIVE_SECONDS: Final = 15.0
# a stream ends after this long and the SDK reconnects (getting a fresh hydration):
# an open stream would otherwise hold a graceful shutdown of the server forever
STREAM_MAX_SECONDS: Final = 300.0

_state_lock = threading.Lock()


@dataclass
class FlagClients:
    """Per-application state of the flag client APIs: caches, authentication, metrics."""

    serving: FlagServing
    auth: ClientAuthenticator
    metrics: ClientMetricsService
    ingestion: MetricsIngestion


def flag_clients(request: Request) -> FlagClients:
    """Return the app's FlagClients, built on first use from its services.

    Raises ExternalError when the server has no flag service wired.
    """
    state = request.app.state
    clients: FlagClients | None = getattr(state, "flag_clients", None)
    if clients is not None:
        return clients
    with _state_lock:
        clients = getattr(state, "flag_clients", None)
        if clients is None:
            services: Services = state.services
            source: FlagSource | None = getattr(services, "flags", None)
            if source is None:
                raise ExternalError("this relgate server has no flag service configured")
            clients = FlagClients(
                serving=FlagServing(source, revision_ttl=REVISION_CACHE_SECONDS),
                auth=ClientAuthenticator(services.tokens.authenticate, TOKEN_CACHE_SECONDS),
                metrics=services.client_metrics,
                ingestion=services.metrics_ingestion,
            )
            state.flag_clients = clients
    return clients


FlagClientsDep = Annotated[FlagClients, Depends(flag_clients)]


async def client_principal(request: Request, clients: FlagClientsDep) -> Principal:
    """Return the client principal of the request's token (Unauthorized, Forbidden)."""
    authorization = request.headers.get("authorization")
    cached = clients.auth.cached(authorization)
    if cached is not None:
        return cached
    return await run_in_threadpool(clients.auth.client, authorization)


ClientDep = Annotated[Principal, Depends(client_principal)]


def _environment(principal: Principal) -> str:
    # the token's one environment, checked again at each read: never the request's
    return client_environment(principal)


@router.get(
    "/features",
    responses={
        200: {"description": "The Unleash client API v2 features document."},
        304: {"description": "Not modified since the ETag given in If-None-Match."},
    },
)
async def get_features(request: Request, clients: FlagClientsDep, me: ClientDep) -> Response:
    """The flag definitions of the token's environment, in the Unleash client API v2 format.

    Segments are a top-level list for SDKs sending ``Unleash-Client-Spec`` >= 4.2.0 and
    inlined into strategies for older ones. Honours ``If-None-Match`` (304) and gzip.
    """
    headers = request.headers
    environment = _environment(me)
    fmt = payload_format(headers.get("unleash-client-spec"))
    serving = clients.serving
    payload = serving.cached_features(environment, fmt)
    if payload is None:
        payload = await run_in_threadpool(serving.features, environment, fmt)
    return features_response(payload, headers.get("if-none-match"), headers.get("accept-encoding"))


def features_response(
    payload: FeaturesPayload, if_none_match: str | None, accept_encoding: str | None
) -> Response:
    """Return the 200 (plain or gzip) or 304 response for ``payload``."""
    response_headers = {"ETag": payload.etag, "Vary": "Accept-Encoding"}
    if etag_matches(if_none_match, payload.etag):
        return Response(status_code=304, headers=response_headers)
    if accepts_gzip(accept_encoding):
        response_headers["Content-Encoding"] = "gzip"
        return Response(payload.gzipped(), media_type="application/json", headers=response_headers)
    return Response(payload.body, media_type="application/json", headers=response_headers)


@router.post("/register", status_code=202, response_class=Response)
async def register(request: Request, clients: FlagClientsDep, me: ClientDep) -> Response:
    """Record an SDK instance (app name, instance id, SDK version, strategies, interval).

    Validated here (400 naming the field); stored shortly after, off the request path.
    """
    body = await run_in_threadpool(parse_registration, await request.body())
    clients.ingestion.submit_registration(_environment(me), body)
    return Response(status_code=202)


@router.post("/metrics", status_code=202, response_class=Response)
async def metrics(request: Request, clients: FlagClientsDep, me: ClientDep) -> Response:
    """Add an SDK's bucket of yes/no/variant counts to the token environment's hourly totals.

    Validated here (400 naming the field or bound); stored shortly after, off the
    request path. Counts of unknown flags are dropped; so is the whole batch,
    still answered 202, when the ingestion queue is full.
    """
    body = await run_in_threadpool(parse_metrics, await request.body())
    clients.ingestion.submit_metrics(_environment(me), body)
    return Response(status_code=202)


@router.get(
    "/streaming",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def streaming(request: Request, clients: FlagClientsDep, me: ClientDep) -> StreamingResponse:
    """Server-sent events, as Unleash's streaming mode sends them.

    First ``unleash-connected`` with a ``hydration`` event holding the whole
    document, then ``unleash-updated`` with ``feature-updated``,
    ``feature-removed``, ``segment-updated`` and ``segment-removed`` events
    within a second of every change; a comment line keeps the connection alive
    every 15 seconds.
    """
    environment = _environment(me)
    fmt = payload_format(request.headers.get("unleash-client-spec"))
    first = await run_in_threadpool(clients.serving.features, environment, fmt)
    return StreamingResponse(
        _events(clients.serving, environment, fmt, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def sse_event(name: str, event_id: int, data: Any) -> bytes:
    """Return one server-sent event (``data`` as one line of JSON)."""
    line = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\nid: {event_id}\ndata: {line}\n\n".encode()


async def _events(
    serving: FlagServing, environment: str, fmt: PayloadFormat, first: FeaturesPayload
) -> AsyncIterator[bytes]:
    listener_id, wake = serving.hub.listen(environment)
    try:
        last = first
        yield sse_event(
            "unleash-connected",
            last.revision,
            {"events": feature_changes(None, last.document, last.revision)},
        )
        quiet_since = started = time.monotonic()
        while time.monotonic() - started < STREAM_MAX_SECONDS:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), STREAM_POLL_SECONDS)
            wake.clear()
            revision = serving.revisions.peek(environment)
            if revision is None:
                revision = await run_in_threadpool(serving.revision, environment)
            if revision != last.revision:
                payload = await run_in_threadpool(serving.features, environment, fmt)
                events = feature_changes(last.document, payload.document, payload.revision)
                last = payload
                if events:
                    yield sse_event("unleash-updated", payload.revision, {"events": events})
                    quiet_since = time.monotonic()
                    continue
            if time.monotonic() - quiet_since >= STREAM_KEEPALIVE_SECONDS:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()
    finally:
        serving.hub.unlisten(listener_id)


class FeaturesFastPath:
    """ASGI middleware answering ``GET /api/client/features`` from memory when it can.

    SDKs poll this route all the time, mostly to hear 304. When the token was
    accepted recently, the revision is fresh and the payload is serialized,
    the answer is written before FastAPI routes the request (routing alone
    walks every route of the app) and resolves dependencies: several times
    faster. Anything else (first call, an expired cache, an error to report)
    goes on to the documented route. Install with ``install_fast_path(app)``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/api/client/features"
            or scope["method"] != "GET"
        ):
            await self.app(scope, receive, send)
            return
        clients: FlagClients | None = getattr(scope["app"].state, "flag_clients", None)
        if clients is None or not await self._answer(clients, scope, send):
            await self.app(scope, receive, send)

    @staticmethod
    async def _answer(clients: FlagClients, scope: Scope, send: Send) -> bool:
        authorization = spec = if_none_match = accept_encoding = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"unleash-client-spec":
                spec = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"accept-encoding":
                accept_encoding = value.decode("latin-1")
        try:
            principal = clients.auth.cached(authorization)
        except RelgateError:
            return False  # the documented route reports it
        if principal is None:
            return False
        try:
            environment = client_environment(principal)
        except RelgateError:
            return False  # the documented route reports it
        payload = clients.serving.cached_features(environment, payload_format(spec))
        if payload is None:
            return False
        etag = payload.etag.encode()
        if etag_matches(if_none_match, payload.etag):
            headers = [(b"etag", etag), (b"vary", b"Accept-Encoding")]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        headers = [
            (b"content-type", b"application/json"),
            (b"etag", etag),
            (b"vary", b"Accept-Encoding"),
        ]
        if accepts_gzip(accept_encoding):
            body = payload.gzipped()
            headers.append((b"content-encoding", b"gzip"))
        else:
            body = payload.body
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True


def install_fast_path(app: FastAPI) -> None:
    """Put ``FeaturesFastPath`` in front of ``app``'s routing; call before the app starts."""
    app.add_middleware(FeaturesFastPath)
