"""Serving flag definitions to SDKs fast: cached payloads, ETags, gzip and change notification.

The Unleash client API and OFREP routes are thin: they ask ``FlagServing``
for the payload of an environment in a format and answer from memory. A
payload is built once per (environment, revision, format) from the flag
source (``FlagService``), serialized and, on the first request that accepts
gzip, compressed; both byte strings are kept until the revision moves on.

The revision of an environment is read from the store at most once per
``revision_ttl`` seconds (a primary-key read of one or two rows), so a
``304 Not Modified`` costs no query at all most of the time, and a change made
on any replica is seen within that time. Changes made through this process
are seen at once: the source's change listeners (when it has them) reset the
revision cache and wake the event streams.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol

from relgate.auth.model import Action, Principal, Role
from relgate.auth.token_cache import TokenCache, token_of
from relgate.clock import Clock, SystemClock
from relgate.errors import Forbidden, InvalidFlagContext
from relgate.flags.evaluate import get_variant, is_enabled
from relgate.flags.model import Context, Snapshot

# Unleash SDKs understand top-level segments from client specification 4.2.0 on.
SEGMENTS_SPEC: Final = (4, 2, 0)

ALL_ENVIRONMENTS: Final = "*"

_SYSTEM_CLOCK: Final = SystemClock()


class FlagSource(Protocol):
    """What serving needs of the flag service (``relgate.flags.service.FlagService``)."""

    def client_features(self, environment: str, *, segments_inline: bool) -> dict[str, Any]:
        """Return the Unleash client API v2 document of ``environment``."""
        ...

    def revision(self, environment: str) -> int:
        """Return a number that grows with every change affecting ``environment``."""
        ...

    def snapshot(self, environment: str) -> Snapshot:
        """Return the compiled snapshot of ``environment``."""
        ...


class PayloadFormat(StrEnum):
    """How segments are given to a client."""

    SEGMENTS = "v2"  # top-level "segments", strategies reference them by id
    INLINE = "v2-inline"  # segments' constraints copied into each strategy


def payload_format(client_spec: str | None) -> PayloadFormat:
    """Return the format an SDK sending ``Unleash-Client-Spec: client_spec`` understands.

    A missing or unreadable header means an SDK older than 4.2.0, which gets
    segments inlined. Never raises.
    """
    if not client_spec:
        return PayloadFormat.INLINE
    parts: list[int] = []
    for piece in client_spec.strip().split("-", 1)[0].split(".")[:3]:
        if not piece.isdigit():
            return PayloadFormat.INLINE
        parts.append(int(piece))
    while len(parts) < 3:
        parts.append(0)
    return PayloadFormat.SEGMENTS if tuple(parts) >= SEGMENTS_SPEC else PayloadFormat.INLINE


@dataclass(frozen=True)
class FeaturesPayload:
    """One environment's features document at one revision, serialized once."""

    environment: str
    revision: int
    format: PayloadFormat
    etag: str
    body: bytes
    document: dict[str, Any]
    _gzipped: list[bytes] = field(default_factory=list, repr=False, compare=False)

    def gzipped(self) -> bytes:
        """Return ``body`` gzip-compressed; compressed on the first call, then kept."""
        if not self._gzipped:
            # mtime=0: the same body always gives the same bytes
            self._gzipped.append(gzip.compress(self.body, compresslevel=6, mtime=0))
        return self._gzipped[0]


def make_etag(environment: str, revision: int, kind: str) -> str:
    """Return a strong ETag (quoted) for ``environment`` at ``revision`` in ``kind``."""
    # the environment is hashed: its name may hold characters an ETag may not
    digest = hashlib.sha256(environment.encode()).hexdigest()[:12]
    return f'"rg-{kind}-{revision}-{digest}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Return whether an ``If-None-Match`` header names ``etag`` (weak comparison, or ``*``)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Return whether an ``Accept-Encoding`` header accepts gzip (not with ``q=0``)."""
    if not accept_encoding:
        return False
    for entry in accept_encoding.lower().split(","):
        name, _, params = entry.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            quality = params.strip()
            return quality.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class RevisionCache:
    """The revisions of environments, read from the source at most every ``ttl`` seconds."""

    def __init__(
        self,
        read: Callable[[str], int],
        ttl: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._ttl = ttl
        self._monotonic = monotonic
        self._known: dict[str, tuple[int, float]] = {}

    def get(self, environment: str) -> int:
        """Return the revision of ``environment``, from memory while younger than ``ttl``."""
        now = self._monotonic()
        known = self._known.get(environment)
        if known is not None and now - known[1] < self._ttl:
            return known[0]
        revision = self._read(environment)
        self._known[environment] = (revision, now)
        return revision

    def peek(self, environment: str) -> int | None:
        """Return the revision of ``environment`` if known and younger than ``ttl``, else None."""
        known = self._known.get(environment)
        if known is not None and self._monotonic() - known[1] < self._ttl:
            return known[0]
        return None

    def note(self, environment: str, revision: int) -> None:
        """Remember ``revision`` of ``environment`` when it is newer than the one known."""
        known = self._known.get(environment)
        if known is None or known[0] < revision:
            self._known[environment] = (revision, self._monotonic())

    def forget(self, environments: Iterable[str]) -> None:
        """Make the next ``get`` of these environments (``"*"``: all) read the source."""
        names = set(environments)
        if ALL_ENVIRONMENTS in names:
            self._known.clear()
            return
        for name in names:
            self._known.pop(name, None)


class ChangeHub:
    """Wakes the event streams of this process when environments change.

    ``notify`` may be called from any thread; each listener is an asyncio
    event on its own loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Event, str]] = {}
        self._next = 0

    def listen(self, environment: str) -> tuple[int, asyncio.Event]:
        """Register a listener for ``environment`` on the running loop; return its id and event."""
        event = asyncio.Event()
        loop = asyncio.get_running_loop()
        with self._lock:
            self._next += 1
            self._listeners[self._next] = (loop, event, environment)
            return self._next, event

    def unlisten(self, listener_id: int) -> None:
        """Remove a listener; unknown ids are ignored."""
        with self._lock:
            self._listeners.pop(listener_id, None)

    def notify(self, environments: Iterable[str]) -> None:
        """Wake the listeners of ``environments`` (``"*"``: every listener)."""
        names = frozenset(environments)
        with self._lock:
            targets = [
                (loop, event)
                for loop, event, environment in self._listeners.values()
                if ALL_ENVIRONMENTS in names or environment in names
            ]
        for loop, event in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    @property
    def listeners(self) -> int:
        """How many streams listen now."""
        with self._lock:
            return len(self._listeners)


class ClientAuthenticator(TokenCache):
    """Authenticates flag-client tokens, remembering accepted ones (relgate.auth.token_cache)."""

    def cached(self, authorization: str | None) -> Principal | None:
        """Return the client principal of a token accepted less than ``ttl`` ago, else None."""
        known = self._recent(token_of(authorization))
        return None if known is None else self._check_client(known)

    def client(self, authorization: str | None) -> Principal:
        """Return the client principal of an ``Authorization`` header (``Bearer`` optional).

        Raises Unauthorized for a missing or unknown token, Forbidden for a
        token whose role is not ``client`` or that has no environment.
        """
        principal = self._principal(
            authorization,
            "a flag client token is required: pass `Authorization: <token>` "
            "(create one with `relgate token create --name NAME --role client --env ENV`)",
        )
        return self._check_client(principal)

    @staticmethod
    def _check_client(principal: Principal) -> Principal:
        client_environment(principal)
        return principal


def client_environment(principal: Principal) -> str:
    """Return the one environment whose flags ``principal`` (a client token) may read.

    Every client read (Unleash, OFREP, the cached fast path) takes its environment
    from here, never from the request. Raises Forbidden for a token that is not a
    client token of one environment.
    """
    if principal.role is not Role.CLIENT or not principal.environment:
        raise Forbidden(
            f"the flag client API needs a token with the role client; token "
            f"{principal.name!r} has the role {principal.role}"
        )
    principal.require(Action.EVALUATE_FLAGS, environment=principal.environment)
    return principal.environment


class FlagServing:
    """Payloads of the client APIs, cached per (environment, revision, format)."""

    def __init__(self, source: FlagSource, *, revision_ttl: float = 0.2) -> None:
        self.source = source
        self.revisions = RevisionCache(source.revision, revision_ttl)
        self.hub = ChangeHub()
        self._lock = threading.Lock()
        self._payloads: dict[tuple[str, PayloadFormat], FeaturesPayload] = {}
        self._snapshots: dict[str, tuple[FeaturesPayload, Snapshot]] = {}
        # FlagService calls its listeners after each commit in this process
        on_change = getattr(source, "on_change", None)
        if callable(on_change):
            on_change(self.changed)
        versioned = getattr(source, "versioned_client_features", None)
        self._versioned: Callable[..., tuple[int, dict[str, Any]]] | None = (
            versioned if callable(versioned) else None
        )

    def changed(self, environments: Iterable[str]) -> None:
        """Tell serving that ``environments`` (``"*"``: all) changed in this process."""
        names = frozenset(environments)
        self.revisions.forget(names)
        self.hub.notify(names)

    def revision(self, environment: str) -> int:
        """Return the revision of ``environment`` (from the revision cache)."""
        return self.revisions.get(environment)

    def etag(self, environment: str, fmt: PayloadFormat) -> str:
        """Return the ETag of ``environment``'s features payload in ``fmt``, as of now."""
        return make_etag(environment, self.revision(environment), fmt.value)

    def features(self, environment: str, fmt: PayloadFormat) -> FeaturesPayload:
        """Return the features payload of ``environment`` in ``fmt`` at its current revision.

        Built from the source only when the revision changed since the last
        call. Raises what the source raises (ExternalError when the store is down).
        """
        revision = self.revision(environment)
        key = (environment, fmt)
        cached = self._payloads.get(key)
        if cached is not None and cached.revision == revision:
            return cached
        inline = fmt is PayloadFormat.INLINE
        if self._versioned is not None:
            # the revision read with the document, in one transaction
            revision, document = self._versioned(environment, segments_inline=inline)
            self.revisions.note(environment, revision)
        else:
            # the revision was read before the document: the document is then at
            # least as new as the ETag says, and a later poll catches up
            document = self.source.client_features(environment, segments_inline=inline)
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        payload = FeaturesPayload(
            environment=environment,
            revision=revision,
            format=fmt,
            etag=make_etag(environment, revision, fmt.value),
            body=body,
            document=document,
        )
        with self._lock:
            current = self._payloads.get(key)
            if current is None or current.revision <= revision:
                self._payloads[key] = payload
        return payload

    def cached_features(self, environment: str, fmt: PayloadFormat) -> FeaturesPayload | None:
        """Return the payload from memory when the revision cache is fresh and matches, else None.

        Never touches the store: the async routes answer from it without a thread hop.
        """
        revision = self.revisions.peek(environment)
        if revision is None:
            return None
        cached = self._payloads.get((environment, fmt))
        if cached is None or cached.revision != revision:
            return None
        return cached

    def snapshot(self, environment: str) -> Snapshot:
        """Return the compiled snapshot of ``environment`` at its current revision.

        Compiled from the same payload the Unleash route serves, once per
        revision. Raises what the source raises.
        """
        payload = self.features(environment, PayloadFormat.SEGMENTS)
        return self._compiled(payload)

    def cached_snapshot(self, environment: str) -> Snapshot | None:
        """Return the snapshot from memory when the revision cache is fresh, else None."""
        payload = self.cached_features(environment, PayloadFormat.SEGMENTS)
        if payload is None:
            return None
        compiled = self._snapshots.get(environment)
        if compiled is None or compiled[0] is not payload:
            return None
        return compiled[1]

    def _compiled(self, payload: FeaturesPayload) -> Snapshot:
        compiled = self._snapshots.get(payload.environment)
        if compiled is not None and compiled[0] is payload:
            return compiled[1]
        snapshot = Snapshot.from_unleash_features(payload.document)
        self._snapshots[payload.environment] = (payload, snapshot)
        return snapshot


def feature_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], event_id: int
) -> list[dict[str, Any]]:
    """Return Unleash delta events turning document ``before`` into ``after``.

    With no ``before`` (a new stream), one ``hydration`` event with the whole
    document; otherwise ``feature-updated``/``feature-removed`` and
    ``segment-updated``/``segment-removed`` events for what differs. Never raises.
    """
    features = list(after.get("features") or [])
    segments = list(after.get("segments") or [])
    if before is None:
        return [
            {"type": "hydration", "eventId": event_id, "features": features, "segments": segments}
        ]
    events: list[dict[str, Any]] = []
    old_segments = {s.get("id"): s for s in before.get("segments") or []}
    new_segments = {s.get("id"): s for s in segments}
    # segments first: an updated feature may reference a new segment
    for segment_id, segment in new_segments.items():
        if old_segments.get(segment_id) != segment:
            events.append({"type": "segment-updated", "eventId": event_id, "segment": segment})
    old_features = {f.get("name"): f for f in before.get("features") or []}
    new_features = {f.get("name"): f for f in features}
    for name, feature in new_features.items():
        if old_features.get(name) != feature:
            events.append({"type": "feature-updated", "eventId": event_id, "feature": feature})
    for name in old_features:
        if name not in new_features:
            events.append(
                {
                    "type": "feature-removed",
                    "eventId": event_id,
                    "featureName": name,
                    "project": "default",
                }
            )
    for segment_id in old_segments:
        if segment_id not in new_segments:
            events.append({"type": "segment-removed", "eventId": event_id, "segmentId": segment_id})
    return events


# ---------------------------------------------------------------------------
# OpenFeature Remote Evaluation Protocol (OFREP)


class OfrepError(Exception):
    """An OFREP evaluation error: its ``error_code`` is OpenFeature's (FLAG_NOT_FOUND...)."""

    def __init__(self, key: str | None, error_code: str, details: str) -> None:
        super().__init__(details)
        self.key = key
        self.error_code = error_code
        self.details = details

    def body(self) -> dict[str, Any]:
        """Return the OFREP error document."""
        body: dict[str, Any] = {"errorCode": self.error_code, "errorDetails": self.details}
        if self.key is not None:
            body = {"key": self.key, **body}
        return body


# fields of one OFREP context, properties included: far more than targeting needs
MAX_CONTEXT_FIELDS: Final = 1_000


def ofrep_context(body: object, environment: str, key: str | None = None) -> Context:
    """Return the evaluation context of an OFREP request body ``{"context": {...}}``.

    ``targetingKey`` becomes ``userId`` (an explicit ``userId`` wins); other
    fields are read as an Unleash context (``sessionId``, ``remoteAddress``,
    ``properties``..., anything else becomes a property); the environment is
    the token's. Raises OfrepError INVALID_CONTEXT naming what is wrong, or
    for more than MAX_CONTEXT_FIELDS fields.
    """
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise OfrepError(key, "INVALID_CONTEXT", "the request body must be a JSON object")
    raw = body.get("context", {})
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise OfrepError(
            key, "INVALID_CONTEXT", f"context: expected an object, got {type(raw).__name__}"
        )
    properties = raw.get("properties")
    fields = len(raw) + (len(properties) if isinstance(properties, Mapping) else 0)
    if fields > MAX_CONTEXT_FIELDS:
        raise OfrepError(
            key,
            "INVALID_CONTEXT",
            f"context: {fields} fields, at most {MAX_CONTEXT_FIELDS} are taken",
        )
    data = dict(raw)
    targeting_key = data.pop("targetingKey", None)
    if targeting_key is not None and not isinstance(targeting_key, str | int | float):
        raise OfrepError(key, "INVALID_CONTEXT", "context.targetingKey: expected a string")
    if targeting_key is not None and data.get("userId") is None:
        data["userId"] = targeting_key
    data["environment"] = environment
    try:
        return Context.from_dict(data)
    except InvalidFlagContext as exc:
        raise OfrepError(key, "INVALID_CONTEXT", exc.message) from None


def _typed_payload(payload: Mapping[str, str]) -> Any:
    kind = payload.get("type")
    text = payload.get("value", "")
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return text
        return (
            int(number)
            if number.is_integer() and "." not in text and "e" not in text.lower()
            else number
        )
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text  # string, csv


def ofrep_evaluate(
    snapshot: Snapshot, key: str, context: Context, *, clock: Clock | None = None
) -> dict[str, Any]:
    """Return the OFREP evaluation of flag ``key``: ``{key, value, reason, variant, metadata}``.

    A flag without variants is boolean (value: whether it is on; variant
    ``on``/``off``). A flag with variants gives the chosen variant's payload,
    typed (``number`` -> a number, ``json`` -> the parsed JSON, ``string`` and
    ``csv`` -> the text; no payload -> the variant's name), with ``variant``
    its name; when no variant applies the value is whether the flag is on and
    the variant is ``disabled``. Reasons: ``DISABLED`` (the flag is off in the
    environment), ``SPLIT`` (a variant was chosen), ``TARGETING_MATCH`` (on
    for this context), ``DEFAULT`` (on in the environment, not for this context).
    Raises OfrepError FLAG_NOT_FOUND.
    """
    flag = snapshot.flag(key)
    if flag is None:
        raise OfrepError(key, "FLAG_NOT_FOUND", f"no flag {key!r} in this environment")
    clock = clock or _SYSTEM_CLOCK
    metadata: dict[str, Any] = {"environment": context.environment or ""}
    has_variants = flag.variants is not None or any(s.variants for s in flag.strategies)
    if has_variants:
        variant = get_variant(snapshot, key, context, clock=clock)
        if variant.enabled:
            value = variant.name if variant.payload is None else _typed_payload(variant.payload)
            return {
                "key": key,
                "value": value,
                "reason": "SPLIT",
                "variant": variant.name,
                "metadata": metadata,
            }
        on = variant.feature_enabled
        variant_name = variant.name
    else:
        on = is_enabled(snapshot, key, context, clock=clock)
        variant_name = "on" if on else "off"
    reason = "DISABLED" if not flag.enabled else "TARGETING_MATCH" if on else "DEFAULT"
    return {
        "key": key,
        "value": on,
        "reason": reason,
        "variant": variant_name,
        "metadata": metadata,
    }


def ofrep_bulk(
    snapshot: Snapshot, context: Context, *, clock: Clock | None = None
) -> dict[str, Any]:
    """Return the OFREP bulk answer ``{"flags": [...]}``: every flag of ``snapshot``, by name."""
    return {
        "flags": [ofrep_evaluate(snapshot, name, context, clock=clock) for name in sorted(snapshot)]
    }


def context_etag(environment: str, revision: int, body: bytes) -> str:
    """Return the ETag of a bulk evaluation: the environment's revision and the request body."""
    digest = hashlib.sha256(environment.encode() + b"\0" + body).hexdigest()[:16]
    return f'"rg-ofrep-{revision}-{digest}"'


OFREP_CONFIGURATION: Final[dict[str, Any]] = {
    "name": "relgate",
    "capabilities": {
        "cacheInvalidation": {"polling": {"enabled": True, "minPollingIntervalMs": 1000}},
        "flagEvaluation": {"supportedTypes": ["boolean", "string", "int", "float", "object"]},
    },
}
