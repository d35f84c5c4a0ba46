"""What a request body may be: its size per route, its JSON depth, and a token before it is read.

``BodyLimits`` is a pure ASGI middleware in front of the routes. For a request
that carries a body it

1. checks the token first when the route needs one (every route under ``/api/``
   and ``/ofrep/`` but the OpenAPI document and its viewer), so nobody without a
   valid token gets a byte of their body read: 401 (403 for a token of the wrong
   kind on the flag client APIs) at once;
2. refuses a ``Content-Length`` above the route's limit with 413, then reads the
   body as a stream, counting, and refuses with 413 as soon as the count passes
   the limit (a chunked body with no length is bounded the same way);
3. refuses a JSON body that nests deeper than ``relgate.limits.JSON_DEPTH``
   levels with 400, before any parser recurses into it, and one with a NUL
   character (``\\u0000``), which PostgreSQL can store neither as text nor JSON;
   a NUL in the path or query is refused the same way, body or not.

Early refusals close the connection, so the rest of a large body is not even
received. The routes then get the body already read, as one message. Requests
without a body (every GET, including the fast path of ``GET
/api/client/features``) pass straight through without any of this.

The limits are one table, ``BODY_RULES``, which the OpenAPI document uses too
(the 413 of each operation, and the content types of bodies read raw).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relgate import errors, limits
from relgate.api.errors import error_body, status_of
from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services
from relgate.releases.service import MAX_EVIDENCE_BYTES

KIB: Final = 1024
MIB: Final = 1024 * KIB

# a JSON body of the REST API (a release, a decision, a flag, a strategy list)
DEFAULT_MAX_BYTES: Final = 1 * MIB


@dataclass(frozen=True)
class BodyRule:
    """The body one operation accepts: at most ``max_bytes``; ``raw`` content types if read raw.

    ``raw`` maps the content types of a body the route reads itself (not through
    a pydantic model) to their OpenAPI schema, for the document.
    """

    method: str
    path: str
    max_bytes: int
    raw: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    # False: the service checks the depth itself (evidence: only its JSON reports)
    check_depth: bool = True

    def pattern(self) -> re.Pattern[str]:
        """Return the regular expression matching request paths of this route template."""
        parts = re.split(r"(\{[^}]+\})", self.path)
        body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(f"^{body}$")


_BINARY: Final = {"schema": {"type": "string", "format": "binary"}}
_JSON_OBJECT: Final = {"schema": {"type": "object"}}

BODY_RULES: Final[tuple[BodyRule, ...]] = (
    BodyRule(
        "POST",
        "/api/v1/releases/{service}/{version}/evidence",
        MAX_EVIDENCE_BYTES,
        raw={
            "application/json": _BINARY,
            "application/xml": _BINARY,
            "text/xml": _BINARY,
            "application/octet-stream": _BINARY,
        },
        description="The report file itself: JUnit XML, coverage.py JSON, Cobertura XML, "
        "Trivy JSON, Grype JSON, SARIF, or the custom/performance JSON.",
        check_depth=False,
    ),
    BodyRule("POST", "/api/v1/pipelines", 1 * MIB),
    BodyRule("POST", "/api/v1/flags-import", 16 * MIB),
    BodyRule(
        "POST",
        "/api/client/register",
        1 * MIB,
        raw={"application/json": {"schema": {"$ref": "#/components/schemas/ClientRegistration"}}},
        description="What the SDK instance is (Unleash client API).",
    ),
    BodyRule(
        "POST",
        "/api/client/metrics",
        4 * MIB,
        raw={"application/json": {"schema": {"$ref": "#/components/schemas/ClientMetrics"}}},
        description="A bucket of yes/no/variant counts per flag (Unleash client API).",
    ),
    BodyRule(
        "POST",
        "/ofrep/v1/evaluate/flags/{key}",
        256 * KIB,
        raw={"application/json": _JSON_OBJECT},
        description='The evaluation context: {"context": {"targetingKey": "user-1", ...}}; '
        "an empty body is an empty context.",
    ),
    BodyRule(
        "POST",
        "/ofrep/v1/evaluate/flags",
        256 * KIB,
        raw={"application/json": _JSON_OBJECT},
        description='The evaluation context: {"context": {"targetingKey": "user-1", ...}}; '
        "an empty body is an empty context.",
    ),
    BodyRule(
        "POST",
        "/api/frontend",
        64 * KIB,
        raw={"application/json": _JSON_OBJECT},
        description='The evaluation context: {"context": {"userId": "u-1", "properties": '
        "{...}}}; an empty body is an empty context.",
    ),
    BodyRule(
        "POST",
        "/api/frontend/client/metrics",
        1 * MIB,
        raw={"application/json": {"schema": {"$ref": "#/components/schemas/ClientMetrics"}}},
        description="A browser SDK's bucket of yes/no/variant counts per flag.",
    ),
    BodyRule(
        "POST",
        "/api/frontend/client/register",
        64 * KIB,
        raw={"application/json": {"schema": {"$ref": "#/components/schemas/ClientRegistration"}}},
        description="What the browser SDK instance is.",
    ),
)

# routes that need no token: the OpenAPI document and its viewer
_OPEN: Final = ("/api/v1/openapi.json", "/api/v1/docs")
_PROTECTED_PREFIXES: Final = ("/api/", "/ofrep/")
_CLIENT_PREFIXES: Final = ("/api/client/", "/ofrep/")

# how long the middleware trusts a token it accepted; the route still authenticates
# itself, so a revoked token gains at most this long of having its body read
TOKEN_CACHE_SECONDS: Final = 5.0
_TOKEN_CACHE_SIZE: Final = 10_000


def rule_for(method: str, path: str) -> BodyRule | None:
    """Return the rule of the operation at ``method path``, or None (the default applies)."""
    for rule, pattern in _COMPILED:
        if rule.method == method and pattern.match(path):
            return rule
    return None


_COMPILED: Final = tuple((rule, rule.pattern()) for rule in BODY_RULES)


DEFAULT_RULE: Final = BodyRule("*", "*", DEFAULT_MAX_BYTES)


def needs_token(path: str) -> bool:
    """Whether a request to ``path`` must carry a valid token before its body is read."""
    return path.startswith(_PROTECTED_PREFIXES) and not path.startswith(_OPEN)


def credentials(path: str, headers: Mapping[str, str]) -> str | None:
    """Return the token a request carries (``Bearer`` optional; OFREP also takes X-API-Key)."""
    token = headers.get("authorization")
    if not token and path.startswith("/ofrep/"):
        token = headers.get("x-api-key")
    token = (token or "").strip()
    scheme, _, rest = token.partition(" ")
    if scheme.lower() == "bearer":
        token = rest.strip()
    return token or None


class _AcceptedTokens:
    """Tokens accepted less than ``TOKEN_CACHE_SECONDS`` ago, so a busy client costs no query."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        known = self._known.get(token)
        if known is None or time.monotonic() - known[1] >= TOKEN_CACHE_SECONDS:
            return None
        return known[0]

    def put(self, token: str, principal: Principal) -> None:
        with self._lock:
            if len(self._known) >= _TOKEN_CACHE_SIZE:  # bounded against token spraying
                self._known.clear()
            self._known[token] = (principal, time.monotonic())


class BodyLimits:
    """ASGI middleware: a token before the body, the body within its limit and depth."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._tokens = _AcceptedTokens()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
            await _refuse(
                send, errors.BadInput("the path and query may not contain the NUL character")
            )
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        length_header = headers.get("content-length")
        chunked = "transfer-encoding" in headers
        if not chunked and (length_header is None or length_header.strip() == "0"):
            await self.app(scope, receive, send)  # no body
            return
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            if needs_token(path):
                await self._authenticate(scope, path, headers)
            rule = rule_for(method, path) or DEFAULT_RULE
            limit = rule.max_bytes
            if length_header is not None and not chunked:
                length = _content_length(length_header)
                if length > limit:
                    raise errors.TooLarge(_too_large(length_header, limit))
            body = await _read(receive, limit)
            if body is None:
                return  # the client went away
            if rule.check_depth and _looks_like_json(body, headers):
                if limits.has_nul_escape(body):
                    raise errors.BadInput("the request body may not contain the NUL character")
                if len(body) > 256 * KIB:
                    await run_in_threadpool(limits.check_json_depth, body, "the request body")
                else:
                    limits.check_json_depth(body, "the request body")
        except errors.RelgateError as exc:
            await _refuse(send, exc)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _authenticate(self, scope: Scope, path: str, headers: Mapping[str, str]) -> None:
        token = credentials(path, headers)
        if token is None:
            raise errors.Unauthorized(
                "an API token is required before a request body is read: "
                "pass `Authorization: Bearer <token>`"
            )
        principal = self._tokens.get(token)
        if principal is None:
            services: Services = scope["app"].state.services
            principal = await run_in_threadpool(services.tokens.authenticate, token)
            self._tokens.put(token, principal)
        if path.startswith(_CLIENT_PREFIXES) and principal.role is not Role.CLIENT:
            raise errors.Forbidden(
                f"the flag client API needs a token with the role client; token "
                f"{principal.name!r} has the role {principal.role}"
            )
        if _is_frontend(path) and principal.role is not Role.FRONTEND:
            raise errors.Forbidden(
                f"the frontend API needs a token with the role frontend; token "
                f"{principal.name!r} has the role {principal.role}"
            )


def _is_frontend(path: str) -> bool:
    return path == "/api/frontend" or path.startswith("/api/frontend/")


def _content_length(value: str) -> int:
    try:
        length = int(value.strip())
    except ValueError:
        raise errors.BadInput(f"Content-Length {value!r} is not a number of bytes") from None
    if length < 0:
        raise errors.BadInput(f"Content-Length {value!r} is not a number of bytes")
    return length


def _too_large(size: str, limit: int) -> str:
    return (
        f"the request body ({size} bytes) is larger than this endpoint's limit "
        f"of {describe_size(limit)}"
    )


def describe_size(limit: int) -> str:
    if limit % MIB == 0:
        return f"{limit // MIB} MiB"
    if limit % KIB == 0:
        return f"{limit // KIB} KiB"
    return f"{limit} bytes"


async def _read(receive: Receive, limit: int) -> bytes | None:
    """Return the whole body; raise TooLarge as soon as it passes ``limit``; None on disconnect."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise errors.TooLarge(
                f"the request body is larger than this endpoint's limit of {describe_size(limit)}"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _looks_like_json(body: bytes, headers: Mapping[str, str]) -> bool:
    content_type = headers.get("content-type", "")
    if "json" in content_type:
        return True
    start = body.lstrip()[:1]
    return start in (b"[", b"{")


def _replay(body: bytes, receive: Receive) -> Receive:
    """Return a receive that gives the app ``body`` in one message, then the real events."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Send, exc: errors.RelgateError) -> None:
    """Answer ``exc`` in relgate's error shape and close the connection (the body is unread)."""
    import json

    payload = json.dumps(error_body(exc)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    if isinstance(exc, errors.Unauthorized):
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status_of(exc), "headers": headers})
    await send({"type": "http.response.body", "body": payload})
