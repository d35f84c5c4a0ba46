"""Routes for the audit trail: events, the chain, verification, signed checkpoints, the key."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from relgate import limits
from relgate.api.deps import PrincipalDep, ServicesDep
from relgate.audit import store as audit
from relgate.audit.checkpointer import SinkStatus
from relgate.audit.reading import ACTION_MAX, ACTOR_MAX, SUBJECT_MAX, AuditFilter
from relgate.auth.model import Action

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit")
def audit_events(
    services: ServicesDep,
    me: PrincipalDep,
    subject: Annotated[str | None, Query(max_length=SUBJECT_MAX)] = None,
    service: Annotated[str | None, Query(max_length=limits.SERVICE)] = None,
    environment: Annotated[str | None, Query(max_length=limits.ENVIRONMENT)] = None,
    actor: Annotated[str | None, Query(max_length=ACTOR_MAX)] = None,
    action: Annotated[str | None, Query(max_length=ACTION_MAX)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
) -> list[dict[str, Any]]:
    """Audit events, newest first, that match every filter given.

    ``subject``: subjects starting with it; ``service`` / ``environment``: events
    about them (their subject, their deployment, their before/after); ``actor``
    exactly; ``action`` exactly or, ending with ``.``, as a prefix (``flag.``);
    ``before``: only events older than that sequence number (the next page).
    Each event has its ``changes``, member by member.
    """
    wanted = AuditFilter(
        service=service, environment=environment, actor=actor, action=action, subject=subject
    )
    trail = services.audit
    page = trail.events(me, wanted, before=before, limit=limit)
    return [asdict(entry) for entry in page.events]


@router.get("/audit/chain")
def audit_chain(
    services: ServicesDep,
    me: PrincipalDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[dict[str, Any]]:
    """The chain oldest first from event ``after + 1``, with every hashed member, so a client
    can recompute it without trusting the server."""
    me.require(Action.READ, everywhere=True)  # events of every service and environment
    with services.uow() as uow:
        return [e.__dict__ for e in audit.chain(uow, after=after, limit=limit)]


@router.get("/audit/verify")
def audit_verify(
    services: ServicesDep, me: PrincipalDep, expect_head: str | None = None
) -> dict[str, Any]:
    """Recompute the hash chain and compare it with the checkpoints in the database; report
    changed, deleted or re-hashed events."""
    me.require(Action.READ, everywhere=True)  # events of every service and environment
    report = services.checkpointer.verify(expect_head)
    return {
        "intact": report.intact,
        "events": report.events,
        "head": report.head,
        "problems": report.problems,
    }


@router.get("/audit/public-key")
def audit_public_key(services: ServicesDep, me: PrincipalDep) -> dict[str, str]:
    """The Ed25519 public key that signs checkpoints (PEM) and its key id.

    A verifier should keep its own copy: a tampered server can hand out another key.
    """
    me.require(Action.READ, everywhere=True)  # events of every service and environment
    key = services.checkpointer.key
    return {"algorithm": "ed25519", "key_id": key.key_id, "public_key": key.public_pem()}


@router.get("/audit/checkpoints/newest")
def audit_newest_checkpoint(services: ServicesDep, me: PrincipalDep) -> dict[str, Any]:
    """The newest checkpoint in the database and how far each sink got."""
    me.require(Action.READ, everywhere=True)  # events of every service and environment
    newest = services.checkpointer.newest()
    return {
        "checkpoint": newest.document() if newest else None,
        "sinks": [_status(s) for s in services.checkpointer.statuses()],
    }


@router.post("/audit/checkpoints", status_code=201)
def audit_write_checkpoint(services: ServicesDep, me: PrincipalDep) -> dict[str, Any]:
    """Write a checkpoint of the head now (if it moved) and deliver to every sink (admin).

    409 when the chain no longer holds the newest checkpoint's event.
    """
    me.require(Action.WRITE_AUDIT_CHECKPOINTS)
    outcome = services.checkpointer.write(force=True)
    sinks = services.checkpointer.deliver()
    return {
        "written": outcome.written is not None,
        "checkpoint": outcome.newest.document() if outcome.newest else None,
        "sinks": [_status(s) for s in sinks],
    }


def _status(status: SinkStatus) -> dict[str, Any]:
    return {"sink": status.sink, "delivered_seq": status.delivered_seq, "error": status.error}
