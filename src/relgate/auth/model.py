"""Roles, principals and permissions (pure)."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from relgate.errors import Forbidden

TOKEN_PREFIX = "rg_"


class Role(StrEnum):
    ADMIN = "admin"
    CI = "ci"
    APPROVER = "approver"
    CLIENT = "client"  # feature-flag clients, scoped to one environment
    # browser and mobile apps: the evaluated flags of one environment (/api/frontend)
    FRONTEND = "frontend"


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
    EVALUATE_FLAGS = "read the flags of an environment as an SDK"
    EVALUATE_FRONTEND = "read the evaluated flags of an environment as a browser or mobile app"
    WRITE_AUDIT_CHECKPOINTS = "write audit checkpoints"
    MANAGE_DEPLOYERS = "manage registered deployers"
    MANAGE_NOTIFICATIONS = "manage notification subscribers"
    MANAGE_INCIDENTS = "open and resolve incidents"


# roles whose tokens read the flags of exactly one environment
ONE_ENVIRONMENT_ROLES: frozenset[Role] = frozenset({Role.CLIENT, Role.FRONTEND})

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
    Action.EVALUATE_FLAGS: frozenset({Role.CLIENT}),
    Action.EVALUATE_FRONTEND: frozenset({Role.FRONTEND}),
    Action.WRITE_AUDIT_CHECKPOINTS: frozenset({Role.ADMIN}),
    Action.MANAGE_DEPLOYERS: frozenset({Role.ADMIN}),
    Action.MANAGE_NOTIFICATIONS: frozenset({Role.ADMIN}),
    # CI (an alert hook) and the people on call (approvers) say what broke production
    Action.MANAGE_INCIDENTS: frozenset({Role.ADMIN, Role.CI, Role.APPROVER}),
}


def normalise(text: str) -> str:
    """Return the form of a name or email that identities are compared in.

    Unicode NFKC, case folded, surrounding whitespace dropped and inner runs of
    whitespace made one space: ``"Alice "``, ``"ALICE"`` and ``"ａｌｉｃｅ"`` are one person.
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token of one identity, with a role and a scope.

    ``identity`` is the normalised key of the person or robot the token belongs to
    (by default the token's name); ``emails`` are that identity's addresses,
    normalised. ``services`` and ``environments`` limit what the token may touch;
    ``None`` means no limit. ``environment`` is the one environment of a client or
    frontend token; ``origins`` are the browser origins a frontend token is served to.
    """

    name: str
    role: Role
    environment: str | None = None
    identity: str = ""
    emails: frozenset[str] = field(default_factory=frozenset)
    aliases: frozenset[str] = field(default_factory=frozenset)
    services: frozenset[str] | None = None
    environments: frozenset[str] | None = None
    origins: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.identity:
            object.__setattr__(self, "identity", normalise(self.name))

    def require(
        self,
        action: Action,
        *,
        service: str | None = None,
        environment: str | None = None,
        everywhere: bool = False,
    ) -> None:
        """Raise Forbidden naming what is missing: the role for ``action``, or the scope.

        ``service`` and ``environment`` are what the call touches; a token scoped to
        other services or environments is refused, naming its scope. ``everywhere``
        says the call touches every service and environment at once (managing tokens,
        archiving a flag): only an unrestricted token may make it.
        """
        allowed = ALLOWED[action]
        if self.role not in allowed:
            needed = " or ".join(sorted(allowed))
            raise Forbidden(
                f"to {action} needs the role {needed}; token {self.name!r} has the role {self.role}"
            )
        if service is not None and self.services is not None and service not in self.services:
            scope = ", ".join(sorted(self.services))
            raise Forbidden(
                f"token {self.name!r} is scoped to the services {scope}, not {service!r}"
            )
        if environment is not None and not self.may_touch_environment(environment):
            scope = ", ".join(sorted(self.environments or {self.environment or ""}))
            raise Forbidden(
                f"token {self.name!r} is scoped to the environments {scope}, not {environment!r}"
            )
        if everywhere and not self.unrestricted:
            raise Forbidden(
                f"to {action} touches every service and environment; token {self.name!r} "
                f"is scoped to {self.scope_text()}"
            )

    def may(
        self,
        action: Action | str,
        *,
        service: str | None = None,
        environment: str | None = None,
        everywhere: bool = False,
    ) -> bool:
        """Whether ``require`` would let this principal do ``action`` (for what a page shows)."""
        try:
            self.require(
                Action(action), service=service, environment=environment, everywhere=everywhere
            )
        except Forbidden:
            return False
        return True

    @staticmethod
    def needs(action: Action | str) -> str:
        """Return what doing ``action`` takes, for a line where its button would be.

        ``"Approving needs the role approver."``-like: ``"to approve needs the role approver"``.
        """
        chosen = Action(action)
        return f"to {chosen} needs the role {' or '.join(sorted(ALLOWED[chosen]))}"

    @property
    def unrestricted(self) -> bool:
        """Whether the token may touch every service and every environment."""
        if self.role in ONE_ENVIRONMENT_ROLES:
            return False
        return self.services is None and self.environments is None

    def scope_text(self) -> str:
        """Return the token's scope for a message, e.g. ``services payments; environments dev``."""
        parts = []
        if self.services is not None:
            parts.append("services " + (", ".join(sorted(self.services)) or "(none)"))
        if self.role in ONE_ENVIRONMENT_ROLES and self.environment is not None:
            parts.append(f"environment {self.environment}")
        elif self.environments is not None:
            parts.append("environments " + (", ".join(sorted(self.environments)) or "(none)"))
        if self.role is Role.FRONTEND:
            parts.append("origins " + (", ".join(sorted(self.origins)) or "(none)"))
        return "; ".join(parts) or "everything"

    def may_touch_service(self, service: str) -> bool:
        """Whether the token's scope admits ``service``."""
        return self.services is None or service in self.services

    def may_touch_environment(self, environment: str) -> bool:
        """Whether the token's scope admits ``environment`` (a client token: only its own)."""
        if self.role in ONE_ENVIRONMENT_ROLES and self.environment is not None:
            return environment == self.environment
        return self.environments is None or environment in self.environments

    def is_person(self, text: str | None) -> bool:
        """Whether a free-text name or email (a commit author, an applier) is this identity.

        Compared normalised (see ``normalise``) against the identity, its aliases and
        its emails, and an email in ``Name <email>`` form by its address.
        """
        if not text:
            return False
        wanted = normalise(text)
        candidates = {wanted}
        if wanted.endswith(">") and "<" in wanted:
            candidates.add(wanted[wanted.rindex("<") + 1 : -1].strip())
            candidates.add(wanted[: wanted.rindex("<")].strip())
        mine = {self.identity, normalise(self.name), *self.aliases, *self.emails}
        return not candidates.isdisjoint(mine)

    def same_person(self, other: Principal) -> bool:
        """Whether two principals are one identity (compared by key, aliases and emails)."""
        if self.identity == other.identity:
            return True
        return other.is_person(self.identity) or any(other.is_person(e) for e in self.emails)


def new_token() -> str:
    """Return a fresh random API token (shown once, stored only as its hash)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough: there is no
    # low-entropy secret to stretch, and every request checks one.
    return hashlib.sha256(token.encode()).hexdigest()
