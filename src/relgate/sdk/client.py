"""``FlagClient``: relgate's Python flag client, compatible with the Unleash client API.

It keeps an immutable, compiled ``Snapshot`` of the flags in memory and
evaluates them locally with relgate's pure evaluator, so ``is_enabled`` costs
a dictionary lookup and a few comparisons, no I/O and no lock on the
snapshot (a new one is swapped in by reference). Definitions come from, in
order: the cache file or the bootstrap document, then the server
(``GET /api/client/features`` with ETag), then polling every
``refresh_interval`` seconds and, when asked, the server-sent-events stream.

Nothing that the network, the server or the definitions do can make
``is_enabled`` or ``variant`` raise: they give the fallback and log a warning
(at most once a minute per flag and per kind of failure).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import socket
import ssl
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, TypedDict

import httpx

from relgate import __version__
from relgate.errors import BadInput, InvalidFlagDefinition
from relgate.flags.evaluate import Variant, get_variant
from relgate.flags.evaluate import is_enabled as evaluate_is_enabled
from relgate.flags.model import Context, Snapshot
from relgate.sdk.cache import FeatureCache, default_cache_dir
from relgate.sdk.metrics import Toggle, UsageMetrics
from relgate.sdk.poller import EventStream, PeriodicTask

logger = logging.getLogger("relgate.sdk")

SDK_NAME: Final = "relgate-python"
SDK_VERSION: Final = f"{SDK_NAME}:{__version__}"
# the Unleash client specification whose cases relgate's evaluator passes
CLIENT_SPEC_VERSION: Final = "6.1.0"
SUPPORTED_STRATEGIES: Final = (
    "default",
    "userWithId",
    "flexibleRollout",
    "gradualRolloutUserId",
    "gradualRolloutSessionId",
    "gradualRolloutRandom",
    "remoteAddress",
    "applicationHostname",
)
WARNING_INTERVAL_SECONDS: Final = 60.0
CONTEXT_CACHE_SIZE: Final = 4096
_OWN_HEADERS: Final = frozenset(
    {"authorization", "unleash-appname", "unleash-instanceid", "unleash-sdk", "unleash-client-spec"}
)

DISABLED_VARIANT: Final = Variant("disabled", enabled=False, feature_enabled=False)

ContextInput = Mapping[str, Any] | Context | None


class ImpressionEvent(TypedDict):
    """One evaluation, as given to the impression callback."""

    event_type: Literal["isEnabled", "getVariant"]
    flag: str
    enabled: bool
    variant: str | None
    user_id: str | None
    app_name: str
    environment: str | None
    time: str


ImpressionCallback = Callable[[ImpressionEvent], None]


class ImpressionLogger:
    """An impression callback that writes one structured log line per evaluation.

    ``style="json"`` writes the event as a JSON object; ``style="logfmt"``
    writes ``key=value`` pairs (``event=flag_impression flag=checkout
    enabled=true variant=blue user_id=42 ...``). The event is also attached to
    the log record as ``record.relgate_impression`` for structured handlers.
    Lines go to the ``relgate.sdk.impressions`` logger unless another is given.
    """

    def __init__(
        self,
        target: logging.Logger | None = None,
        *,
        style: Literal["json", "logfmt"] = "json",
        level: int = logging.INFO,
    ) -> None:
        self.logger = target or logging.getLogger("relgate.sdk.impressions")
        self.style = style
        self.level = level

    def __call__(self, event: ImpressionEvent) -> None:
        """Log ``event`` as one line; never raises for a well-formed event."""
        if not self.logger.isEnabledFor(self.level):
            return
        self.logger.log(
            self.level, "%s", self.format(event), extra={"relgate_impression": dict(event)}
        )

    def format(self, event: ImpressionEvent) -> str:
        """Return the line written for ``event``."""
        if self.style == "json":
            return json.dumps({"event": "flag_impression", **event}, separators=(",", ":"))
        fields = {"event": "flag_impression", **event}
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields.items())


def _logfmt_value(value: object) -> str:
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if not text or any(ch in text for ch in ' ="\\') or not text.isprintable():
        return json.dumps(text)
    return text


log_impression: Final = ImpressionLogger()
"""A ready-made impression callback: one JSON log line per evaluation."""


class _RateLimitedWarnings:
    """Logs a warning at most once per ``interval`` seconds for each key."""

    def __init__(self, interval: float = WARNING_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def warn(self, key: str, message: str, *args: object) -> bool:
        """Log ``message % args`` unless ``key`` was logged less than ``interval`` ago.

        Returns whether it was logged.
        """
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return False
            if len(self._last) > 10_000:
                self._last.clear()
            self._last[key] = now
        logger.warning(message, *args)
        return True

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()


# The hot path builds contexts without the frozen dataclass's __init__
# (which sets each of seven fields through object.__setattr__): the slot
# descriptors set them directly, about twice as fast. Used only while
# Context has exactly these slotted fields; otherwise the ordinary
# constructor is used.
_CONTEXT_FIELDS: Final = (
    "user_id",
    "session_id",
    "remote_address",
    "environment",
    "app_name",
    "current_time",
    "properties",
)
_FAST_CONTEXT: Final = (
    tuple(f.name for f in dataclasses.fields(Context)) == _CONTEXT_FIELDS
    and getattr(Context, "__slots__", None) is not None
)
_EMPTY_PROPERTIES: Final[Mapping[str, str]] = Context().properties
_new_object = object.__new__


def _slot_setter(name: str) -> Callable[[Context, object], None]:
    setter: Callable[[Context, object], None] | None = getattr(
        getattr(Context, name, None), "__set__", None
    )
    if setter is None or not _FAST_CONTEXT:

        def through_setattr(context: Context, value: object) -> None:
            object.__setattr__(context, name, value)

        return through_setattr
    return setter


_set_user_id = _slot_setter("user_id")
_set_session_id = _slot_setter("session_id")
_set_remote_address = _slot_setter("remote_address")
_set_environment = _slot_setter("environment")
_set_app_name = _slot_setter("app_name")
_set_current_time = _slot_setter("current_time")
_set_properties = _slot_setter("properties")


def _make_context(
    user_id: str | None,
    session_id: str | None,
    remote_address: str | None,
    environment: str | None,
    app_name: str | None,
    current_time: datetime | None,
    properties: Mapping[str, str],
) -> Context:
    if not _FAST_CONTEXT:
        return Context(
            user_id, session_id, remote_address, environment, app_name, current_time, properties
        )
    context: Context = _new_object(Context)
    _set_user_id(context, user_id)
    _set_session_id(context, session_id)
    _set_remote_address(context, remote_address)
    _set_environment(context, environment)
    _set_app_name(context, app_name)
    _set_current_time(context, current_time)
    _set_properties(context, properties)
    return context


def cache_file_name(url: str, token: str, environment: str | None) -> str:
    """Return the cache file's name for one server, token and environment.

    Processes of one application that talk to different servers or
    environments (staging and production on one host) must not start from
    each other's flags; the token is hashed, never written in clear.
    """
    digest = hashlib.sha256(f"{url}\n{token}\n{environment or ''}".encode()).hexdigest()
    return f"features-{digest[:16]}"


def _all_text(mapping: Mapping[Any, Any]) -> bool:
    for key, value in mapping.items():
        if type(key) is not str or type(value) is not str:
            return False
    return True


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@functools.cache
def _shared_ssl_context() -> ssl.SSLContext:
    # loading the CA bundle takes tens of milliseconds: once per process,
    # not once per client (an SSLContext holds no connection, so a forked
    # child may keep using it)
    return httpx.create_ssl_context()


def _features_document(snapshot: Snapshot) -> dict[str, Any]:
    # A snapshot keeps the raw definitions it was compiled from (a delta from
    # the stream is applied to them); they are what the cache file stores.
    return {
        "version": 2,
        "features": list(snapshot._features.values()),
        "segments": list(snapshot._segments.values()),
    }


def _load_bootstrap(bootstrap: str | os.PathLike[str] | Mapping[str, Any]) -> Snapshot:
    if isinstance(bootstrap, Mapping):
        return Snapshot.from_unleash_features(bootstrap)
    path = Path(bootstrap)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the flag bootstrap file: {exc.strerror}") from exc
    except ValueError as exc:
        raise BadInput(f"{path}: the flag bootstrap file is not JSON: {exc}") from exc
    try:
        return Snapshot.from_unleash_features(document)
    except InvalidFlagDefinition as exc:
        raise InvalidFlagDefinition(f"{path}: {exc}") from exc


_LIVE_CLIENTS: weakref.WeakSet[FlagClient] = weakref.WeakSet()


def _restart_clients_in_child() -> None:
    for client in list(_LIVE_CLIENTS):
        client._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_clients_in_child)


class FlagClient:
    """Evaluates relgate (or Unleash) feature flags locally, kept up to date in the background.

    ``url`` is the server's base URL (``https://relgate.example.com``), ``token``
    a client token (scoped to one environment), ``app_name`` the application's
    name. The client starts at once (``start=False`` defers it to ``start()``):
    it loads the cache file (or, without one, ``bootstrap``), fetches the flags
    once, then polls. Use it as a context manager or call ``close()``.

    Raises ``BadInput`` / ``InvalidFlagDefinition`` only for a ``bootstrap``
    that cannot be read or used; the server being down is never an error.
    """

    def __init__(
        self,
        url: str,
        token: str,
        app_name: str,
        *,
        environment: str | None = None,
        instance_id: str | None = None,
        refresh_interval: float = 15.0,
        metrics_interval: float = 60.0,
        cache_dir: str | os.PathLike[str] | None = None,
        bootstrap: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        timeout: float = 5.0,
        custom_headers: Mapping[str, str] | None = None,
        impression_callback: ImpressionCallback | None = None,
        impressions_for_all_flags: bool = False,
        disable_metrics: bool = False,
        stream: bool = False,
        start: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.app_name = app_name
        self.environment = environment
        self._instance_id_given = instance_id is not None
        self.instance_id = instance_id or _default_instance_id()
        self.refresh_interval = refresh_interval
        self.metrics_interval = metrics_interval
        self._timeout = timeout
        self._token = token
        self._custom_headers = dict(custom_headers or {})
        self._impression_callback = impression_callback
        self._impressions_for_all = impressions_for_all_flags
        self._stream_wanted = stream
        self._features_url = f"{self.url}/api/client/features"
        self._warnings = _RateLimitedWarnings()
        self._update_lock = threading.Lock()
        self._metrics: UsageMetrics | None = None if disable_metrics else UsageMetrics()
        self._registered = False
        self._started = False
        self._closed = False
        self._started_at = datetime.now(UTC)
        self._base_context = _make_context(
            None, None, None, environment, app_name, None, _EMPTY_PROPERTIES
        )
        self._context_cache: dict[tuple[tuple[str, Any], ...], Context] = {}
        self._static_context: dict[str, str] = {"appName": app_name}
        if environment is not None:
            self._static_context["environment"] = environment

        self._snapshot = Snapshot.empty()
        self._etag: str | None = None
        self._ready = threading.Event()
        self._cache = FeatureCache(
            Path(cache_dir) if cache_dir is not None else default_cache_dir(app_name),
            cache_file_name(self.url, token, environment),
        )
        cached = self._cache.load()
        if cached is not None:
            try:
                self._snapshot = Snapshot.from_unleash_features(cached.payload)
                self._etag = cached.etag
                self._ready.set()
            except InvalidFlagDefinition as exc:
                logger.warning("relgate: the flag cache %s is unusable: %s", self._cache.path, exc)
        if not self._ready.is_set() and bootstrap is not None:
            self._snapshot = _load_bootstrap(bootstrap)
            self._ready.set()

        self._http = self._new_http()
        self._poll_task = PeriodicTask("relgate-poll", refresh_interval, self._poll)
        self._metrics_task = PeriodicTask(
            "relgate-metrics", metrics_interval, self._report, initial_delay=0.0
        )
        self._stream = EventStream(
            f"{self.url}/api/client/streaming",
            self._headers(),
            self._on_stream_event,
            timeout=timeout,
            verify=_shared_ssl_context(),
        )
        _LIVE_CLIENTS.add(self)
        if start:
            self.start()

    # ------------------------------------------------------------------
    # Life cycle

    def start(self) -> None:
        """Fetch the flags once (waiting up to ``timeout``), then start the background threads.

        Calling it again does nothing. Never raises for network failures.
        """
        if self._started or self._closed:
            return
        self._started = True
        self.refresh()
        self._start_threads()

    def _start_threads(self) -> None:
        self._poll_task.start()
        if self._metrics is not None:
            self._metrics_task.start()
        if self._stream_wanted:
            self._stream.start()

    def close(self) -> None:
        """Stop the background threads and send the metrics counted so far.

        Idempotent; the client still answers afterwards, from its last flags.
        """
        if self._closed:
            return
        self._closed = True
        self._stream.stop()
        self._poll_task.stop()
        self._metrics_task.stop()
        if self._started and self._metrics is not None:
            self.flush_metrics()
        self._http.close()
        _LIVE_CLIENTS.discard(self)

    def __enter__(self) -> FlagClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _after_fork_in_child(self) -> None:
        # Only the forking thread survives a fork: the poller, metrics and
        # stream threads must be started again, locks may have been copied
        # while held, and the parent's pooled connections must not be shared.
        self._update_lock = threading.Lock()
        self._warnings.reset_after_fork()
        if not self._instance_id_given:
            self.instance_id = _default_instance_id()
            self._registered = False
        self._http = self._new_http()
        if self._metrics is not None:
            self._metrics.reset_after_fork()
        self._poll_task.forget_after_fork()
        self._metrics_task.forget_after_fork()
        self._stream.forget_after_fork()
        self._stream = EventStream(
            self._stream.url,
            self._headers(),
            self._on_stream_event,
            timeout=self._timeout,
            verify=_shared_ssl_context(),
        )
        if self._started and not self._closed:
            self._start_threads()

    # ------------------------------------------------------------------
    # Evaluation: the hot path

    def is_enabled(self, key: str, context: ContextInput = None, default: bool = False) -> bool:
        """Return whether flag ``key`` is on for ``context``; ``default`` when it cannot tell.

        ``context`` is a mapping with Unleash's camelCase keys (``userId``,
        ``sessionId``, ``remoteAddress``, ``properties``...) or a
        ``relgate.flags.Context``; the client's ``appName`` and
        ``environment`` fill in what it lacks. Never raises: an unknown flag,
        a bad context or any failure gives ``default`` and a logged warning.
        """
        try:
            snapshot = self._snapshot
            # Snapshot.flag(key), inlined as relgate.flags.evaluate does: the hot path
            flag = snapshot._flags.get(key)
            if flag is None:
                self._warnings.warn(
                    "unknown:" + key, "relgate: unknown flag %r: returning %r", key, default
                )
                return default
            if context is None:
                ctx = self._base_context
            elif type(context) is dict:
                # the context cache's hit, inlined; a miss builds it. A context with
                # properties holds a dict, which cannot be a key: no probe at all
                cached = None
                if "properties" not in context:
                    try:  # noqa: SIM105 - contextlib.suppress costs more than the lookup
                        cached = self._context_cache.get(tuple(context.items()))
                    except TypeError:
                        pass
                ctx = cached if cached is not None else self._context_from_dict(context)
            else:
                ctx = self._context(context)
            enabled = evaluate_is_enabled(snapshot, key, ctx, default)
            metrics = self._metrics
            if metrics is not None:
                # UsageMetrics.count, inlined: a method call is a tenth of this path
                with metrics.lock:
                    toggle = metrics.toggles.get(key)
                    if toggle is None:
                        toggle = metrics.toggles[key] = Toggle()
                    toggle.counts[enabled] += 1
            if self._impression_callback is not None and (
                flag.impression_data or self._impressions_for_all
            ):
                self._impress("isEnabled", key, enabled, None, ctx)
            return enabled
        except Exception as exc:
            self._warnings.warn(
                "failed:" + key,
                "relgate: evaluating flag %r failed (%s): returning %r",
                key,
                exc,
                default,
            )
            return default

    def variant(
        self, key: str, context: ContextInput = None, default: Variant | None = None
    ) -> Variant:
        """Return the variant of flag ``key`` for ``context``.

        A flag that is off, or on without variants, gives the ``disabled``
        variant (``enabled=False``); an unknown flag or any failure gives
        ``default`` (the ``disabled`` variant when ``None``) and a logged
        warning. Never raises.
        """
        fallback = DISABLED_VARIANT if default is None else default
        try:
            snapshot = self._snapshot
            flag = snapshot.flag(key)
            if flag is None:
                self._warnings.warn(
                    "unknown:" + key, "relgate: unknown flag %r: returning its default variant", key
                )
                return fallback
            ctx = self._context(context)
            result = get_variant(snapshot, key, ctx)
            if self._metrics is not None:
                self._metrics.count_variant(key, result.name, result.feature_enabled)
            if self._impression_callback is not None and (
                flag.impression_data or self._impressions_for_all
            ):
                self._impress("getVariant", key, result.feature_enabled, result.name, ctx)
            return result
        except Exception as exc:
            self._warnings.warn(
                "failed:" + key,
                "relgate: evaluating the variant of flag %r failed (%s): returning the default",
                key,
                exc,
            )
            return fallback

    def has_flag(self, key: str) -> bool:
        """Return whether the current flags define ``key``."""
        return self._snapshot.flag(key) is not None

    def _context(self, context: ContextInput) -> Context:
        if context is None:
            return self._base_context
        if isinstance(context, Context):
            if context.app_name is not None and (
                context.environment is not None or self.environment is None
            ):
                return context
            return _make_context(
                context.user_id,
                context.session_id,
                context.remote_address,
                context.environment if context.environment is not None else self.environment,
                context.app_name if context.app_name is not None else self.app_name,
                context.current_time,
                context.properties,
            )
        if isinstance(context, Mapping):
            return self._context_from_dict(context)
        raise TypeError(f"context: expected a dict or a Context, got {type(context).__name__}")

    def _context_from_dict(self, data: Mapping[str, Any]) -> Context:
        # Contexts repeat (one request asks about several flags for one user),
        # so contexts of the common shape (standard keys, string values) are
        # kept by content: a hit costs a tuple and a dict lookup. Only that
        # shape is stored, since 1, 1.0 and True are equal keys that would
        # give different contexts.
        cache = self._context_cache
        signature: tuple[tuple[str, Any], ...] | None = None
        if "properties" not in data:
            try:
                signature = tuple(data.items())
                cached = cache.get(signature)
            except TypeError:  # an unhashable value
                signature = cached = None
            if cached is not None:
                return cached
        if _FAST_CONTEXT:
            user_id = session_id = remote_address = None
            environment = self.environment
            app_name = self.app_name
            properties = _EMPTY_PROPERTIES
            for key, value in data.items():
                if type(value) is str:
                    if key == "userId":
                        user_id = value
                    elif key == "sessionId":
                        session_id = value
                    elif key == "environment":
                        environment = value
                    elif key == "remoteAddress":
                        remote_address = value
                    elif key == "appName":
                        app_name = value
                    else:
                        break
                elif key == "properties" and type(value) is dict and _all_text(value):
                    if value:
                        # a context with properties is never cached (above), so a
                        # read-only view of the caller's dict serves this one call
                        properties = MappingProxyType(value)
                else:
                    break
            else:
                context = _make_context(
                    user_id,
                    session_id,
                    remote_address,
                    environment,
                    app_name,
                    None,
                    properties,
                )
                if signature is not None:
                    if len(cache) >= CONTEXT_CACHE_SIZE:
                        cache.clear()
                    cache[signature] = context
                return context
        return Context.from_dict({**self._static_context, **data})

    def _impress(
        self,
        event_type: Literal["isEnabled", "getVariant"],
        key: str,
        enabled: bool,
        variant: str | None,
        context: Context,
    ) -> None:
        callback = self._impression_callback
        if callback is None:
            return
        event: ImpressionEvent = {
            "event_type": event_type,
            "flag": key,
            "enabled": enabled,
            "variant": variant,
            "user_id": context.user_id,
            "app_name": self.app_name,
            "environment": context.environment,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        try:
            callback(event)
        except Exception as exc:
            self._warnings.warn(
                "impression", "relgate: the impression callback failed: %s: %s", type(exc), exc
            )

    # ------------------------------------------------------------------
    # State

    @property
    def snapshot(self) -> Snapshot:
        """The compiled flags in use now (immutable)."""
        return self._snapshot

    @property
    def etag(self) -> str | None:
        """The ETag of the flags in use, as the server sent it."""
        return self._etag

    @property
    def ready(self) -> bool:
        """Whether flags were loaded from the server, the cache or the bootstrap."""
        return self._ready.is_set()

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        """Wait until flags are loaded; return whether they are."""
        return self._ready.wait(timeout)

    # ------------------------------------------------------------------
    # Fetching

    def _new_http(self) -> httpx.Client:
        return httpx.Client(
            timeout=self._timeout, headers=self._headers(), verify=_shared_ssl_context()
        )

    def _headers(self) -> dict[str, str]:
        # header names are case-insensitive: a custom "authorization" must not
        # travel beside the client's own
        custom = {
            name: value
            for name, value in self._custom_headers.items()
            if name.lower() not in _OWN_HEADERS
        }
        return {
            **custom,
            "Authorization": self._token,
            "UNLEASH-APPNAME": self.app_name,
            "UNLEASH-INSTANCEID": self.instance_id,
            "UNLEASH-SDK": SDK_VERSION,
            "Unleash-Client-Spec": CLIENT_SPEC_VERSION,
        }

    def _poll(self) -> None:
        self.refresh()

    def refresh(self) -> bool:
        """Fetch the flags now (with the last ETag); return whether new flags were loaded.

        Never raises: an unreachable server, an error status or a payload
        that cannot be used is logged, and the flags in use are kept.
        """
        if self._closed:
            return False
        headers = {"UNLEASH-INTERVAL": str(int(self.refresh_interval * 1000))}
        etag = self._etag
        if etag is not None:
            headers["If-None-Match"] = etag
        try:
            response = self._http.get(self._features_url, headers=headers)
        except httpx.HTTPError as exc:
            self._warnings.warn(
                "fetch",
                "relgate: cannot reach %s (%s): using the last known flags",
                self._features_url,
                exc or type(exc).__name__,
            )
            return False
        if response.status_code == 304:
            return False
        if response.status_code != 200:
            hint = " (is the token a client token of this environment?)"
            self._warnings.warn(
                "fetch",
                "relgate: %s answered %s%s: using the last known flags",
                self._features_url,
                response.status_code,
                hint if response.status_code in (401, 403) else "",
            )
            return False
        try:
            payload = response.json()
            snapshot = Snapshot.from_unleash_features(payload)
        except (ValueError, InvalidFlagDefinition) as exc:
            self._warnings.warn(
                "payload",
                "relgate: %s sent flags that cannot be used (%s): keeping the last good ones",
                self._features_url,
                exc,
            )
            return False
        self._install(snapshot, payload, response.headers.get("ETag"))
        return True

    def _on_stream_event(self, event: str, data: str) -> None:
        try:
            document = json.loads(data)
            if isinstance(document, Mapping) and "events" in document:
                snapshot = self._snapshot.apply_unleash_delta(document)
            else:
                snapshot = Snapshot.from_unleash_features(document)
        except (ValueError, InvalidFlagDefinition) as exc:
            self._warnings.warn(
                "stream",
                "relgate: the flag stream sent %s that cannot be used (%s): keeping the last flags",
                event,
                exc,
            )
            return
        # the stream has no ETag: the next poll fetches the whole document once
        self._install(snapshot, _features_document(snapshot), None)

    def _install(self, snapshot: Snapshot, payload: Mapping[str, Any], etag: str | None) -> None:
        with self._update_lock:
            self._snapshot = snapshot
            self._etag = etag
            self._ready.set()
            self._cache.save(payload, etag)

    # ------------------------------------------------------------------
    # Registration and metrics

    def _report(self) -> None:
        if not self._registered:
            self._registered = self.register()
        self.flush_metrics()

    def register(self) -> bool:
        """Announce this instance to the server (``POST /api/client/register``).

        Returns whether the server accepted it; failures are logged, never raised.
        """
        body = {
            "appName": self.app_name,
            "instanceId": self.instance_id,
            "sdkVersion": SDK_VERSION,
            "strategies": list(SUPPORTED_STRATEGIES),
            "started": self._started_at.isoformat(),
            "interval": int(self.metrics_interval * 1000),
            "environment": self.environment or "default",
            "specVersion": CLIENT_SPEC_VERSION,
        }
        return self._post("/api/client/register", body, "register")

    def flush_metrics(self) -> bool:
        """Send the usage counts gathered since the last send (``POST /api/client/metrics``).

        Returns whether they were sent (``True`` when there was nothing to
        send). On failure the counts are kept for the next try and a warning
        is logged; never raises.
        """
        if self._metrics is None:
            return True
        bucket = self._metrics.take_bucket()
        if bucket is None:
            return True
        body = {
            "appName": self.app_name,
            "instanceId": self.instance_id,
            "environment": self.environment or "default",
            "sdkVersion": SDK_VERSION,
            "bucket": bucket,
        }
        if self._post("/api/client/metrics", body, "metrics"):
            return True
        self._metrics.restore(bucket)
        return False

    def _post(self, path: str, body: Mapping[str, Any], what: str) -> bool:
        if self._http.is_closed:
            return False
        url = self.url + path
        try:
            response = self._http.post(url, json=body)
        except httpx.HTTPError as exc:
            self._warnings.warn(what, "relgate: cannot send %s to %s (%s)", what, url, exc)
            return False
        if response.status_code >= 300:
            self._warnings.warn(
                what, "relgate: %s answered %s to %s", url, response.status_code, what
            )
            return False
        return True
