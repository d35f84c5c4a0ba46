"""Routes for tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from relgate.api.deps import PrincipalDep, ServicesDep
from relgate.api.schemas import TokenCreate
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
def revoke_token(name: str, services: ServicesDep, me: PrincipalDep) -> dict[str, str]:
    me.require(Action.MANAGE_TOKENS)
    services.tokens.revoke(name, me.name)
    return {"revoked": name}
