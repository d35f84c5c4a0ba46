"""The Unleash frontend API's evaluation: a client's context in, its enabled flags out.

Browser and mobile SDKs (``unleash-proxy-client``, the React SDK) never see
flag definitions: they send their context (``GET /api/frontend?userId=...``
or ``POST /api/frontend`` with ``{"context": {...}}``) and get the flags that
are on for it, evaluated here with the SDK's own evaluator
(``relgate.flags.evaluate``). The context is bounded (:data:`MAX_FIELDS`
fields, :data:`MAX_KEY` and :data:`MAX_VALUE` characters) before anything is
built from it; a bad one is refused with BadInput naming the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from relgate.auth.model import Action, Principal, Role
from relgate.auth.token_cache import TokenCache, token_of
from relgate.errors import BadInput, Forbidden, InvalidFlagContext
from relgate.flags.evaluate import get_variant
from relgate.flags.model import Context, Snapshot

# far more than targeting needs, far less than what would cost a worker
MAX_FIELDS: Final = 100
MAX_KEY: Final = 100
MAX_VALUE: Final = 1_000

_KNOWN: Final = frozenset({"userId", "sessionId", "remoteAddress", "environment", "appName"})


def _text(where: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int | float):
        value = json.dumps(value)
    if not isinstance(value, str):
        raise BadInput(f"{where}: expected a string, number or boolean, got {type(value).__name__}")
    if len(value) > MAX_VALUE:
        raise BadInput(f"{where}: {len(value)} characters, at most {MAX_VALUE} are taken")
    return value


def _key(where: str, key: object) -> str:
    if not isinstance(key, str) or not key:
        raise BadInput(f"{where}: a context field needs a non-empty name")
    if len(key) > MAX_KEY:
        raise BadInput(
            f"{where} {key[:40]!r}...: a field name of {len(key)} characters, "
            f"at most {MAX_KEY} are taken"
        )
    return key


class _Fields:
    """A context being read: top-level fields and properties, counted against MAX_FIELDS."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.fields: dict[str, str] = {}
        self.properties: dict[str, str] = {}

    def _count(self) -> None:
        count = len(self.fields) + len(self.properties)
        if count > MAX_FIELDS:
            raise BadInput(
                f"{self.origin}: more than {MAX_FIELDS} context fields and properties; "
                f"at most {MAX_FIELDS} are taken"
            )

    def field(self, key: object, value: object) -> None:
        name = _key(f"{self.origin} field", key)
        text = _text(f"{self.origin} field {name!r}", value)
        if text is None:
            return
        if name in _KNOWN or name == "currentTime":
            self.fields[name] = text
        else:
            # unknown top-level fields are properties, as in Unleash
            self.properties[name] = text
        self._count()

    def property(self, key: object, value: object) -> None:
        name = _key(f"{self.origin} property", key)
        text = _text(f"{self.origin} property {name!r}", value)
        if text is not None:
            self.properties[name] = text
            self._count()

    def context(
        self, environment: str, remote_address: str | None, app_name: str | None
    ) -> Context:
        data: dict[str, Any] = dict(self.fields)
        data["environment"] = environment  # the token's, never the client's
        if not data.get("remoteAddress") and remote_address:
            data["remoteAddress"] = remote_address
        if not data.get("appName") and app_name:
            data["appName"] = app_name[:MAX_VALUE]
        data["properties"] = self.properties
        try:
            return Context.from_dict(data)
        except InvalidFlagContext as exc:
            raise BadInput(f"{self.origin}: {exc.message}") from None


def query_context(
    items: Iterable[tuple[str, str]],
    environment: str,
    *,
    remote_address: str | None = None,
    app_name: str | None = None,
) -> Context:
    """Return the context of a ``GET /api/frontend`` query string's (name, value) pairs.

    ``properties[name]=value`` (what unleash-proxy-client sends) and
    ``properties.name=value`` are properties, as is ``properties`` holding a JSON
    object; ``userId``, ``sessionId``, ``remoteAddress``, ``appName`` and
    ``currentTime`` are the context's fields; any other name is a property. The
    environment is the token's; ``remote_address`` (the peer) and ``app_name``
    (the ``unleash-appname`` header) fill what the query leaves out. A name
    given twice keeps its last value. Raises BadInput naming the field.
    """
    fields = _Fields("query")
    for index, (name, value) in enumerate(items):
        if index >= 2 * MAX_FIELDS:
            raise BadInput(f"query: more than {2 * MAX_FIELDS} parameters")
        if name.startswith("properties[") and name.endswith("]"):
            inner = name[len("properties[") : -1]
            if "[" in inner or "]" in inner:
                raise BadInput(f"query parameter {name[:60]!r}: properties do not nest")
            fields.property(inner, value)
        elif name.startswith("properties."):
            fields.property(name[len("properties.") :], value)
        elif name == "properties":
            fields_of_json(fields, value)
        else:
            fields.field(name, value)
    return fields.context(environment, remote_address, app_name)


def fields_of_json(fields: _Fields, value: str) -> None:
    """Add the properties of a ``properties`` query parameter holding a JSON object."""
    if len(value) > MAX_FIELDS * (MAX_KEY + MAX_VALUE):
        raise BadInput("query parameter 'properties': too long")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadInput(
            "query parameter 'properties': expected a JSON object; "
            "or pass each property as properties[name]=value"
        )
    for key, item in parsed.items():
        fields.property(key, item)


def body_context(
    body: object,
    environment: str,
    *,
    remote_address: str | None = None,
    app_name: str | None = None,
) -> Context:
    """Return the context of a ``POST /api/frontend`` body, ``{"context": {...}}``.

    A body without ``context`` is read as the context itself; an empty body is
    an empty context. Fields and properties are scalars (strings, numbers,
    booleans; ``null`` is dropped). Raises BadInput naming the field.
    """
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise BadInput('the request body must be a JSON object: {"context": {...}}')
    raw = body.get("context", body)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise BadInput(f"context: expected an object, got {type(raw).__name__}")
    fields = _Fields("context")
    if len(raw) > MAX_FIELDS + 1:
        raise BadInput(f"context: {len(raw)} fields, at most {MAX_FIELDS} are taken")
    for key, value in raw.items():
        if key == "properties":
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise BadInput(
                    f"context.properties: expected an object, got {type(value).__name__}"
                )
            if len(value) > MAX_FIELDS:
                raise BadInput(
                    f"context.properties: {len(value)} properties, at most {MAX_FIELDS} are taken"
                )
            for name, item in value.items():
                fields.property(name, item)
        else:
            fields.field(key, value)
    return fields.context(environment, remote_address, app_name)


def toggles(snapshot: Snapshot, context: Context) -> dict[str, Any]:
    """Return the frontend API document: the flags of ``snapshot`` that are on for ``context``.

    ``{"toggles": [{"name", "enabled": true, "variant": {"name", "enabled",
    "payload"?, "feature_enabled"}, "impressionData"}]}``, by name. Flags that
    are off are left out, as Unleash does: a browser learns nothing of them.
    """
    result = []
    for name in sorted(snapshot.flags):
        flag = snapshot.flags[name]
        variant = get_variant(snapshot, name, context)
        if not variant.feature_enabled:
            continue
        result.append(
            {
                "name": name,
                "enabled": True,
                "variant": variant.to_unleash_dict(),
                "impressionData": flag.impression_data,
            }
        )
    return {"toggles": result}


def document_etag(body: bytes) -> str:
    """Return the ETag of one evaluated document: a digest of its bytes.

    A digest, not the revision: the answer depends on the context, and on the
    time and chance too (date constraints, random stickiness), so only the
    bytes tell whether the client already has it.
    """
    return f'"rg-fe-{hashlib.sha256(body).hexdigest()[:32]}"'


def frontend_environment(principal: Principal) -> str:
    """Return the one environment a frontend token reads; Forbidden for any other token."""
    if principal.role is not Role.FRONTEND or not principal.environment:
        raise Forbidden(
            f"the frontend API needs a token with the role frontend; token "
            f"{principal.name!r} has the role {principal.role} (create one with "
            "`relgate token create --role frontend --env ENV --origin https://app.example`)"
        )
    principal.require(Action.EVALUATE_FRONTEND, environment=principal.environment)
    return principal.environment


class FrontendAuthenticator(TokenCache):
    """Authenticates frontend tokens, remembering accepted ones (relgate.auth.token_cache)."""

    def cached(self, authorization: str | None) -> Principal | None:
        """Return the principal of a token accepted less than ``ttl`` ago, else None."""
        return self._recent(token_of(authorization))

    def principal(self, authorization: str | None) -> Principal:
        """Return the principal of an ``Authorization`` header, of any role.

        Raises Unauthorized for a missing, unknown or revoked token.
        """
        return self._principal(
            authorization,
            "a frontend token is required: pass `Authorization: <token>` (create one with "
            "`relgate token create --role frontend --env ENV --origin https://app.example`)",
        )

    def frontend(self, authorization: str | None) -> Principal:
        """Return the frontend principal of the header (Unauthorized; Forbidden: another role)."""
        principal = self.principal(authorization)
        frontend_environment(principal)
        return principal
