"""Routes for tokens and the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from relgate import limits
from relgate.api.deps import PrincipalDep, ServicesDep
from relgate.api.params import TokenNamePath
from relgate.api.schemas import TokenCreate
from relgate.audit import store as audit
from relgate.auth.model import Action
from relgate.auth.service import TokenInfo

router = APIRouter(prefix="/api/v1")


@router.get("/whoami", tags=["tokens"])
def whoami(me: PrincipalDep) -> dict[str, str | None]:
    """Who the token belongs to: its name, role and (for client tokens) environment."""
    return {"name": me.name, "role": me.role.value, "environment": me.environment}


@router.post("/tokens", status_code=201, tags=["tokens"])
def create_token(body: TokenCreate, services: ServicesDep, me: PrincipalDep) -> dict[str, Any]:
    """Create a token; the secret is in this answer only."""
    me.require(Action.MANAGE_TOKENS)
    info, secret = services.tokens.create(body.name, body.role, me.name, body.environment)
    return {"name": info.name, "role": info.role, "environment": info.environment, "token": secret}


@router.get("/tokens", tags=["tokens"])
def list_tokens(services: ServicesDep, me: PrincipalDep) -> list[TokenInfo]:
    me.require(Action.MANAGE_TOKENS)
    return services.tokens.list_tokens()


@router.delete("/tokens/{name}", tags=["tokens"])
def revoke_token(name: TokenNamePath, services: ServicesDep, me: PrincipalDep) -> dict[str, str]:
    me.require(Action.MANAGE_TOKENS)
    services.tokens.revoke(name, me.name)
    return {"revoked": name}


@router.get("/audit", tags=["audit"])
def audit_events(
    services: ServicesDep,
    me: PrincipalDep,
    subject: Annotated[str | None, Query(max_length=limits.AUDIT_SUBJECT)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
) -> list[dict[str, Any]]:
    me.require(Action.READ)
    with services.uow() as uow:
        return [e.__dict__ for e in audit.events(uow, subject=subject, limit=limit)]


@router.get("/audit/verify", tags=["audit"])
def audit_verify(
    services: ServicesDep,
    me: PrincipalDep,
    expect_head: Annotated[str | None, Query(max_length=limits.HASH)] = None,
) -> dict[str, Any]:
    """Recompute the hash chain; report changed or deleted events."""
    me.require(Action.READ)
    with services.uow() as uow:
        report = audit.verify(uow, expect_head)
    return {
        "intact": report.intact,
        "events": report.events,
        "head": report.head,
        "problems": report.problems,
    }
