"""Subscribers: who hears about which events, as plain data with their rules (pure).

A subscriber is a Slack incoming webhook or a generic webhook (CloudEvents JSON
signed with HMAC-SHA256). Its filters are lists of services, environments and
event types; an empty list admits everything. The rules that decide which
events a subscriber gets, and what a valid subscriber is, live here so the
service, the worker and the tests share them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from relgate.errors import BadInput
from relgate.notify.events import EventType

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}\Z")
MAX_URL = 2000
MAX_SECRET = 500
MAX_FILTER_ITEMS = 100


class SubscriberKind(StrEnum):
    SLACK = "slack"
    WEBHOOK = "webhook"


class DeliveryState(StrEnum):
    """Where one delivery (one event for one subscriber) stands."""

    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class Filters:
    """What a subscriber wants; an empty tuple admits every value."""

    services: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()

    def admits(self, event_type: str, service: str | None, environment: str | None) -> bool:
        """Whether an event of ``event_type`` about ``service``/``environment`` passes.

        An event without a service (or environment) passes a filter on services
        (environments) only when that filter is empty: a subscriber for
        ``payments`` does not hear about a flag changed in no service.
        """
        if self.event_types and event_type not in self.event_types:
            return False
        if self.services and service not in self.services:
            return False
        return not (self.environments and environment not in self.environments)


@dataclass(frozen=True)
class SubscriberSpec:
    """What an admin asks for: validated by ``validate`` before it is stored."""

    name: str
    kind: SubscriberKind
    url: str
    secret: str | None = None
    secret_env: str | None = None
    filters: Filters = field(default_factory=Filters)


def validate(spec: SubscriberSpec) -> SubscriberSpec:
    """Return ``spec`` when it is a subscriber relgate can deliver to.

    Raises BadInput naming the field: a name that is not lower-case letters,
    digits, ``.``, ``_``, ``-``; a URL that is not http(s) with a host; a
    secret for Slack (its URL is the secret) or both ``secret`` and
    ``secret_env``; an unknown event type; too many filter items.
    """
    if not NAME.match(spec.name):
        raise BadInput(
            f"name {spec.name!r}: use 1-100 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    check_url(spec.url)
    if spec.secret is not None and spec.secret_env is not None:
        raise BadInput("secret: give the secret or the server variable holding it, not both")
    if spec.secret is not None and not (1 <= len(spec.secret) <= MAX_SECRET):
        raise BadInput(f"secret: must be 1 to {MAX_SECRET} characters")
    if spec.secret is not None and not spec.secret.isprintable():
        raise BadInput("secret: may not contain control characters")
    if spec.secret_env is not None and not re.match(
        r"^[A-Za-z_][A-Za-z0-9_]{0,199}$", spec.secret_env
    ):
        raise BadInput(f"secret_env {spec.secret_env!r}: not an environment variable name")
    if spec.kind is SubscriberKind.SLACK and (spec.secret or spec.secret_env):
        raise BadInput(
            "secret: a Slack incoming webhook is not signed (its URL is the secret); "
            "give a secret to a webhook subscriber only"
        )
    known = {event.value for event in EventType}
    for event_type in spec.filters.event_types:
        if event_type not in known:
            raise BadInput(
                f"event {event_type!r} is not an event relgate sends (one of: "
                + ", ".join(sorted(known))
                + ")"
            )
    for label, values in (
        ("service", spec.filters.services),
        ("environment", spec.filters.environments),
        ("event", spec.filters.event_types),
    ):
        if len(values) > MAX_FILTER_ITEMS:
            raise BadInput(f"{label}: at most {MAX_FILTER_ITEMS} values")
        for value in values:
            if not value or len(value) > 100:
                raise BadInput(f"{label} {value!r}: must be 1 to 100 characters")
    return spec


def check_url(url: str) -> None:
    """Raise BadInput unless ``url`` is an http(s) URL with a host and no credentials in it."""
    if len(url) > MAX_URL:
        raise BadInput(f"url: at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadInput(f"url {url!r} is not a URL: {exc}") from None
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"url {url!r}: give an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise BadInput("url: user and password in the URL are not accepted")
    if any(ord(char) < 33 for char in url):
        raise BadInput("url: may not contain spaces or control characters")


def redacted_url(kind: SubscriberKind, url: str) -> str:
    """Return ``url`` as it may be shown: a Slack webhook's path is its secret, a query may be."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    if kind is SubscriberKind.SLACK:
        return base + "/…"
    return base + parts.path + ("?…" if parts.query else "")
