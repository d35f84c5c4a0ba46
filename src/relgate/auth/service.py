"""Creating, listing, revoking and checking API tokens; recovering an admin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError

from relgate import limits
from relgate.audit import store as audit
from relgate.auth import identities
from relgate.auth.model import ONE_ENVIRONMENT_ROLES, Action, Principal, Role, hash_token, new_token
from relgate.auth.origins import canonical_origins
from relgate.clock import Clock
from relgate.errors import BadInput, Conflict, NotFound, Unauthorized
from relgate.store.tables import IdentityNameRow, IdentityRow, TokenRow
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory, as_utc

MAX_SCOPE_NAME = 100


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: Role
    environment: str | None
    created_at: datetime
    created_by: str
    revoked: bool
    identity: str | None = None
    services: list[str] | None = None
    environments: list[str] | None = None
    origins: list[str] | None = None


@dataclass(frozen=True)
class Scope:
    """What a new token may touch: None = unrestricted; ``environment`` is a client token's one.

    ``origins`` are a frontend token's browser origins (None for other roles).
    """

    environment: str | None
    services: list[str] | None
    environments: list[str] | None
    origins: list[str] | None = None


def token_scope(
    role: Role,
    environment: str | None,
    services: Sequence[str] | None,
    environments: Sequence[str] | None,
    origins: Sequence[str] | None = None,
) -> Scope:
    """Return the scope of a token of ``role``; empty lists mean unrestricted.

    A client or frontend token reads the flags of exactly one environment
    (``environment``, or the one entry of ``environments``); for other roles
    ``environment`` is one more environment of the scope. Only a frontend token
    has ``origins`` (canonical; none: only clients that send no ``Origin``).
    Raises BadInput naming what is wrong.
    """
    svc = _names("service", services)
    envs = _names("environment", environments)
    if origins and role is not Role.FRONTEND:
        raise BadInput(
            f"origins are for frontend tokens (browser apps); a {role} token takes none: "
            "drop --origin"
        )
    if role in ONE_ENVIRONMENT_ROLES:
        if svc is not None:
            raise BadInput(
                f"a {role} token reads feature flags, which belong to no service: drop --service"
            )
        chosen = {*(envs or []), *([environment] if environment else [])}
        if len(chosen) != 1:
            raise BadInput(f"a {role} token is scoped to exactly one environment: pass one --env")
        (only,) = chosen
        _names("environment", [only])
        allowed = canonical_origins(origins or ()) if role is Role.FRONTEND else None
        return Scope(environment=only, services=None, environments=None, origins=allowed)
    if environment:
        envs = sorted({*(envs or []), *(_names("environment", [environment]) or [])})
    return Scope(environment=None, services=svc, environments=envs)


def _names(what: str, names: Sequence[str] | None) -> list[str] | None:
    if not names:
        return None
    cleaned = []
    for name in names:
        value = name.strip()
        if not value or len(value) > MAX_SCOPE_NAME or not value.isprintable():
            raise BadInput(
                f"{what} {name[:40]!r} in the token's scope: expected 1 to "
                f"{MAX_SCOPE_NAME} printable characters"
            )
        cleaned.append(value)
    return sorted(set(cleaned))


class TokenService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def authenticate(self, token: str | None) -> Principal:
        """Return the principal of ``token``, filled from its identity and scope.

        Raises Unauthorized for no, unknown or revoked token.
        """
        if not token:
            raise Unauthorized("an API token is required: pass `Authorization: Bearer <token>`")
        with self._uow() as uow:
            return self.principal_where(uow, TokenRow.token_hash == hash_token(token))[1]

    @staticmethod
    def principal_where(uow: UnitOfWork, where: ColumnElement[bool]) -> tuple[int, Principal]:
        """Return the id and principal of the one live token ``where`` selects.

        Raises Unauthorized when there is none or it is revoked.
        """
        # one round trip: the token, its identity and one row per email or alias
        rows = uow.session.execute(
            select(TokenRow, IdentityRow, IdentityNameRow.kind, IdentityNameRow.value)
            .outerjoin(IdentityRow, IdentityRow.id == TokenRow.identity_id)
            .outerjoin(IdentityNameRow, IdentityNameRow.identity_id == IdentityRow.id)
            .where(where)
        ).all()
        if not rows or rows[0][0].revoked_at is not None:
            raise Unauthorized("the API token is unknown or revoked")
        names = [(kind, value) for _, _, kind, value in rows if kind is not None]
        token = rows[0][0]
        return token.id, identities.principal_of(uow.session, token, rows[0][1], names)

    def issue(
        self,
        principal: Principal,
        name: str,
        role: str,
        *,
        environment: str | None = None,
        emails: Sequence[str] = (),
        identity: str | None = None,
        services: Sequence[str] | None = None,
        environments: Sequence[str] | None = None,
        origins: Sequence[str] | None = None,
    ) -> tuple[TokenInfo, str]:
        """Create a token as ``principal`` (an unrestricted admin); see ``create``."""
        principal.require(Action.MANAGE_TOKENS, everywhere=True)
        return self.create(
            name,
            role,
            principal.name,
            environment,
            emails=emails,
            identity=identity,
            services=services,
            environments=environments,
            origins=origins,
        )

    def create(
        self,
        name: str,
        role: str,
        actor: str,
        environment: str | None = None,
        *,
        emails: Sequence[str] = (),
        identity: str | None = None,
        services: Sequence[str] | None = None,
        environments: Sequence[str] | None = None,
        origins: Sequence[str] | None = None,
        action: str = "token.created",
    ) -> tuple[TokenInfo, str]:
        """Create a token; return its info and the secret, which is shown only this once.

        The token belongs to the identity ``identity`` (by name, email or alias),
        else to the one of its own name; an unknown identity is created, and
        ``emails`` are added to it. Raises BadInput for an unknown role, a bad
        scope or email, Conflict when the name is taken or an email belongs to
        another identity. ``origins`` (a frontend token's) are browser origins.
        """
        try:
            parsed = Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise BadInput(f"unknown role {role!r}: use one of {roles}") from None
        if not name or not name.strip() or len(name) > limits.TOKEN_NAME:
            raise BadInput(f"a token needs a name of 1 to {limits.TOKEN_NAME} characters")
        limits.check_text("environment", environment, limits.ENVIRONMENT)
        for one in services or ():
            limits.check_text("services", one, limits.SERVICE)
        for one in environments or ():
            limits.check_text("environments", one, limits.ENVIRONMENT)
        scope = token_scope(parsed, environment, services, environments, origins)
        secret = new_token()
        now = self._clock.now()
        with self._uow() as uow:
            if uow.session.scalar(select(TokenRow.id).where(TokenRow.name == name)) is not None:
                raise Conflict(f"a token named {name!r} exists already")
            kind = "person" if parsed in (Role.ADMIN, Role.APPROVER) else "robot"
            owner = identities.ensure(
                uow, identity or name, actor=actor, at=now, emails=emails, kind=kind
            )
            row = TokenRow(
                name=name,
                role=parsed.value,
                token_hash=hash_token(secret),
                environment=scope.environment,
                created_at=now,
                created_by=actor,
                identity_id=owner.id,
                services=scope.services,
                environments=scope.environments,
                origins=scope.origins,
            )
            try:
                with uow.session.begin_nested():
                    uow.session.add(row)
            except IntegrityError:
                raise Conflict(f"a token named {name!r} exists already") from None
            audit.append(
                uow,
                actor=actor,
                action=action,
                subject=f"token/{name}",
                at=now,
                after={
                    "role": parsed.value,
                    "identity": owner.key,
                    "environment": scope.environment,
                    "services": scope.services,
                    "environments": scope.environments,
                    **({"origins": scope.origins} if scope.origins is not None else {}),
                },
            )
            uow.commit()
            return _info(row, owner.key), secret

    def frontend_origins(self) -> frozenset[str]:
        """Return the origins of every live frontend token (what a CORS preflight may admit)."""
        with self._uow() as uow:
            rows = uow.session.scalars(
                select(TokenRow.origins).where(
                    TokenRow.role == Role.FRONTEND.value, TokenRow.revoked_at.is_(None)
                )
            ).all()
        return frozenset(origin for row in rows for origin in row or ())

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

    def recover_admin(self, name: str | None = None) -> tuple[TokenInfo, str]:
        """Mint a new unrestricted admin token without any token (run on the server's machine).

        Audited as ``admin.recovered``. The name defaults to ``admin-recovered-<time>``;
        raises Conflict when the given name is taken.
        """
        stamp = self._clock.now().strftime("%Y%m%d%H%M%S")
        chosen = name or f"admin-recovered-{stamp}"
        return self.create(
            chosen, Role.ADMIN.value, actor="relgate admin recover", action="admin.recovered"
        )

    def list_tokens(self, principal: Principal | None = None) -> list[TokenInfo]:
        """Return every token (never a secret); ``principal`` must be an unrestricted admin."""
        if principal is not None:
            principal.require(Action.MANAGE_TOKENS, everywhere=True)
        with self._uow() as uow:
            keys: dict[int, str] = {
                row_id: key
                for row_id, key in uow.session.execute(select(IdentityRow.id, IdentityRow.key))
            }
            rows = uow.session.scalars(select(TokenRow).order_by(TokenRow.id)).all()
            return [_info(row, keys.get(row.identity_id or -1)) for row in rows]

    def revoke(self, name: str, actor: str | Principal) -> None:
        """Revoke the token called ``name``.

        ``actor`` is a principal (an unrestricted admin) or, for relgate itself, a name.
        Raises NotFound, and Conflict when it is the last unrestricted admin token:
        nobody could manage relgate any more.
        """
        if isinstance(actor, Principal):
            actor.require(Action.MANAGE_TOKENS, everywhere=True)
            actor = actor.name
        now = self._clock.now()
        with self._uow() as uow:
            row = uow.session.scalar(select(TokenRow).where(TokenRow.name == name))
            if row is None:
                raise NotFound(f"no token named {name!r}")
            if row.revoked_at is None and _is_full_admin(row):
                others = [r for r in _live_admins(uow) if r.id != row.id]
                if not others:
                    raise Conflict(
                        f"token {name!r} is the last admin token: revoking it would leave "
                        "nobody able to manage tokens; create another admin token first "
                        "(relgate token create --role admin), or mint one on the server's "
                        "machine with `relgate admin recover`"
                    )
            row.revoked_at = now
            audit.append(uow, actor=actor, action="token.revoked", subject=f"token/{name}", at=now)
            uow.commit()


def _is_full_admin(row: TokenRow) -> bool:
    return row.role == Role.ADMIN.value and row.services is None and row.environments is None


def _live_admins(uow: UnitOfWork) -> list[TokenRow]:
    # FOR UPDATE on PostgreSQL: two revokes of the last two admins at once must not
    # both see the other alive (SQLite serialises writers anyway)
    rows = uow.session.scalars(
        select(TokenRow)
        .where(TokenRow.role == Role.ADMIN.value, TokenRow.revoked_at.is_(None))
        .order_by(TokenRow.id)
        .with_for_update()
    ).all()
    return [row for row in rows if _is_full_admin(row)]


def _info(row: TokenRow, identity: str | None) -> TokenInfo:
    return TokenInfo(
        name=row.name,
        role=Role(row.role),
        environment=row.environment,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        revoked=row.revoked_at is not None,
        identity=identity,
        services=row.services,
        environments=row.environments,
        origins=row.origins,
    )
