"""Domain events: what happened, recorded by the model, handed to the outbox with the change.

An event is plain data. The model (relgate.promotion.lifecycle, the release and
flag services) records events; the service that saves the change passes them
to :func:`relgate.notify.outbox.append` in the same transaction, so an event
exists exactly when its change was committed. Delivery (Slack, webhooks) reads
the outbox later and never blocks the change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """Every event type relgate emits; subscribers filter on these names."""

    RELEASE_CREATED = "release.created"
    DEPLOYMENT_STARTED = "deployment.started"
    DEPLOYMENT_SUCCEEDED = "deployment.succeeded"
    DEPLOYMENT_FAILED = "deployment.failed"
    DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_GIVEN = "approval.given"
    APPROVAL_REJECTED = "approval.rejected"
    FLAG_CHANGED = "flag.changed"


@dataclass(frozen=True)
class DomainEvent:
    """One thing that happened, with what a receiver needs to act on it.

    ``subject`` names the object (``deployment/12``, ``release/payments@1.4.0``,
    ``flag/new-checkout``); ``data`` is JSON-ready (str, int, float, bool, None,
    lists and dicts of those). ``id`` is unique per event and is what a receiver
    de-duplicates on when a delivery is retried.
    """

    type: EventType
    subject: str
    time: datetime
    service: str | None = None
    environment: str | None = None
    actor: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
