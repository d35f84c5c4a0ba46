"""Creating, listing and checking API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.model import Principal, Role, hash_token, new_token
from relgate.clock import Clock
from relgate.errors import BadInput, Conflict, NotFound, Unauthorized
from relgate.store.tables import TokenRow
from relgate.store.uow import UnitOfWorkFactory, as_utc


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: Role
    environment: str | None
    created_at: datetime
    created_by: str
    revoked: bool


class TokenService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def authenticate(self, token: str | None) -> Principal:
        """Return the principal of ``token``; raise Unauthorized for none, unknown or revoked."""
        if not token:
            raise Unauthorized("an API token is required: pass `Authorization: Bearer <token>`")
        with self._uow() as uow:
            row = uow.session.scalar(
                select(TokenRow).where(TokenRow.token_hash == hash_token(token))
            )
            if row is None or row.revoked_at is not None:
                raise Unauthorized("the API token is unknown or revoked")
            return Principal(name=row.name, role=Role(row.role), environment=row.environment)

    def create(
        self, name: str, role: str, actor: str, environment: str | None = None
    ) -> tuple[TokenInfo, str]:
        """Create a token; return its info and the secret, which is shown only this once.

        Raises BadInput for an unknown role or a client token without environment,
        Conflict when the name is taken.
        """
        try:
            parsed = Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise BadInput(f"unknown role {role!r}: use one of {roles}") from None
        if parsed is Role.CLIENT and not environment:
            raise BadInput("a client token is scoped to one environment: pass --env")
        if not name or len(name) > limits.TOKEN_NAME:
            raise BadInput(f"a token needs a name of 1 to {limits.TOKEN_NAME} characters")
        limits.check_text("environment", environment, limits.ENVIRONMENT)
        secret = new_token()
        now = self._clock.now()
        with self._uow() as uow:
            if uow.session.scalar(select(TokenRow.id).where(TokenRow.name == name)) is not None:
                raise Conflict(f"a token named {name!r} exists already")
            row = TokenRow(
                name=name,
                role=parsed.value,
                token_hash=hash_token(secret),
                environment=environment,
                created_at=now,
                created_by=actor,
            )
            uow.session.add(row)
            audit.append(
                uow,
                actor=actor,
                action="token.created",
                subject=f"token/{name}",
                at=now,
                after={"role": parsed.value, "environment": environment},
            )
            uow.commit()
            return _info(row), secret

    def ensure_first_admin(self) -> str | None:
        """Create the first admin token when there is no token at all; return it (else None)."""
        with self._uow() as uow:
            if uow.session.scalar(select(TokenRow.id).limit(1)) is not None:
                return None
        try:
            _, secret = self.create("admin", Role.ADMIN.value, actor="relgate")
        except Conflict:  # another replica made it first
            return None
        return secret

    def list_tokens(self) -> list[TokenInfo]:
        with self._uow() as uow:
            rows = uow.session.scalars(select(TokenRow).order_by(TokenRow.id)).all()
            return [_info(row) for row in rows]

    def revoke(self, name: str, actor: str) -> None:
        """Revoke the token called ``name``; raises NotFound."""
        now = self._clock.now()
        with self._uow() as uow:
            row = uow.session.scalar(select(TokenRow).where(TokenRow.name == name))
            if row is None:
                raise NotFound(f"no token named {name!r}")
            row.revoked_at = now
            audit.append(uow, actor=actor, action="token.revoked", subject=f"token/{name}", at=now)
            uow.commit()


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        name=row.name,
        role=Role(row.role),
        environment=row.environment,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        revoked=row.revoked_at is not None,
    )
