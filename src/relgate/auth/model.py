"""Roles, principals and permissions (pure)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from relgate.errors import Forbidden

TOKEN_PREFIX = "rg_"


class Role(StrEnum):
    ADMIN = "admin"
    CI = "ci"
    APPROVER = "approver"
    CLIENT = "client"  # feature-flag clients, scoped to one environment


class Action(StrEnum):
    READ = "read"
    APPLY_PIPELINE = "apply pipelines"
    CREATE_RELEASE = "create releases"
    ADD_EVIDENCE = "add evidence"
    PROMOTE = "promote"
    ROLLBACK = "roll back"
    APPROVE = "approve"
    MANAGE_ENVIRONMENTS = "pin and unpin environments"
    MANAGE_TOKENS = "manage tokens"
    MANAGE_FLAGS = "manage feature flags"


ALLOWED: dict[Action, frozenset[Role]] = {
    Action.READ: frozenset({Role.ADMIN, Role.CI, Role.APPROVER}),
    Action.APPLY_PIPELINE: frozenset({Role.ADMIN, Role.CI}),
    Action.CREATE_RELEASE: frozenset({Role.ADMIN, Role.CI}),
    Action.ADD_EVIDENCE: frozenset({Role.ADMIN, Role.CI}),
    Action.PROMOTE: frozenset({Role.ADMIN, Role.CI}),
    Action.ROLLBACK: frozenset({Role.ADMIN, Role.CI}),
    # separation of duties: approving needs the approver role, admin alone is not enough
    Action.APPROVE: frozenset({Role.APPROVER}),
    Action.MANAGE_ENVIRONMENTS: frozenset({Role.ADMIN, Role.CI}),
    Action.MANAGE_TOKENS: frozenset({Role.ADMIN}),
    Action.MANAGE_FLAGS: frozenset({Role.ADMIN, Role.CI}),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name acts as the person or system's identity."""

    name: str
    role: Role
    environment: str | None = None

    def require(self, action: Action) -> None:
        """Raise Forbidden naming the roles that may do ``action``."""
        allowed = ALLOWED[action]
        if self.role not in allowed:
            needed = " or ".join(sorted(allowed))
            raise Forbidden(
                f"to {action} needs the role {needed}; token {self.name!r} has the role {self.role}"
            )


def new_token() -> str:
    """Return a fresh random API token (shown once, stored only as its hash)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough: there is no
    # low-entropy secret to stretch, and every request checks one.
    return hashlib.sha256(token.encode()).hexdigest()
