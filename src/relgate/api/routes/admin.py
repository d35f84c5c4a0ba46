"""Routes for tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from relgate.api.deps import PrincipalDep, ServicesDep
from relgate.api.params import TokenNamePath
from relgate.api.schemas import IdentityCreate, TokenCreate
from relgate.auth.identities import IdentityInfo
from relgate.auth.service import TokenInfo

router = APIRouter(prefix="/api/v1")


@router.get("/whoami", tags=["tokens"])
def whoami(me: PrincipalDep) -> dict[str, Any]:
    """Who the token belongs to: name, role, identity, emails and scope (None: unrestricted)."""
    return {
        "name": me.name,
        "role": me.role.value,
        "environment": me.environment,
        "identity": me.identity,
        "emails": sorted(me.emails),
        "services": sorted(me.services) if me.services is not None else None,
        "environments": sorted(me.environments) if me.environments is not None else None,
        "origins": sorted(me.origins),
    }


@router.post("/tokens", status_code=201, tags=["tokens"])
def create_token(body: TokenCreate, services: ServicesDep, me: PrincipalDep) -> dict[str, Any]:
    """Create a token of an identity, with a role and a scope; the secret is in this answer only."""
    info, secret = services.tokens.issue(
        me,
        body.name,
        body.role,
        environment=body.environment,
        emails=body.emails,
        identity=body.identity,
        services=body.services,
        environments=body.environments,
        origins=body.origins,
    )
    return {
        "name": info.name,
        "role": info.role,
        "environment": info.environment,
        "identity": info.identity,
        "services": info.services,
        "environments": info.environments,
        "origins": info.origins,
        "token": secret,
    }


@router.get("/tokens", tags=["tokens"])
def list_tokens(services: ServicesDep, me: PrincipalDep) -> list[TokenInfo]:
    return services.tokens.list_tokens(me)


@router.delete("/tokens/{name}", tags=["tokens"])
def revoke_token(name: TokenNamePath, services: ServicesDep, me: PrincipalDep) -> dict[str, str]:
    """Revoke a token; 409 for the last admin token."""
    services.tokens.revoke(name, me)
    return {"revoked": name}


@router.post("/identities", status_code=201, tags=["identities"])
def add_identity(body: IdentityCreate, services: ServicesDep, me: PrincipalDep) -> IdentityInfo:
    """Create an identity, or add emails and aliases to it (admin)."""
    return services.identities.add(
        me, body.name, emails=body.emails, aliases=body.aliases, kind=body.kind
    )


@router.get("/identities", tags=["identities"])
def list_identities(services: ServicesDep, me: PrincipalDep) -> list[IdentityInfo]:
    return services.identities.list_identities(me)


@router.get("/identities/{name}", tags=["identities"])
def show_identity(name: TokenNamePath, services: ServicesDep, me: PrincipalDep) -> IdentityInfo:
    """One identity, found by its name, an email or an alias."""
    return services.identities.show(me, name)
