"""Generic webhooks: CloudEvents 1.0 structured JSON, signed with HMAC-SHA256 (pure).

The body is the ``cloudevents`` library's structured-mode JSON. The signature
header is ``Relgate-Signature: t=<unix seconds>,v1=<hex>``, where ``hex`` is
HMAC-SHA256 with the subscriber's secret over ``"<t>." + body`` (the exact
bytes sent). The timestamp is the attempt's: a receiver that refuses
signatures older than a few minutes cannot be replayed an old body. See
docs/notifications.md for a receiver's check.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC
from typing import Any

from relgate.notify.events import DomainEvent

SIGNATURE_HEADER = "Relgate-Signature"
EVENT_ID_HEADER = "Relgate-Event-Id"
ATTEMPT_HEADER = "Relgate-Delivery-Attempt"
TYPE_PREFIX = "dev.relgate."


def cloudevent(event: DomainEvent, source: str) -> tuple[dict[str, str], bytes]:
    """Return the headers and body of ``event`` as a structured-mode CloudEvent.

    ``id`` is the event's id (what receivers de-duplicate on), ``source`` the
    server's public URL (or "relgate"), ``type`` ``dev.relgate.<event type>``.
    """
    from cloudevents.core.bindings.http import to_structured_event
    from cloudevents.core.v1.event import CloudEvent

    attributes: dict[str, Any] = {
        "id": event.id,
        "source": source or "relgate",
        "type": TYPE_PREFIX + event.type.value,
        "subject": event.subject,
        "time": event.time.astimezone(UTC),
        "datacontenttype": "application/json",
    }
    data = {
        "service": event.service,
        "environment": event.environment,
        "actor": event.actor,
        **event.data,
    }
    structured = to_structured_event(CloudEvent(attributes=attributes, data=data))
    return dict(structured.headers), structured.body


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``Relgate-Signature`` value of ``body`` signed at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of ``now``.

    What a receiver does; relgate uses it in its tests and ``notify test``.
    """
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
