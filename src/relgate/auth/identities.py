"""Identities: the people and robots that tokens belong to, with their emails and aliases.

Names, emails and aliases are stored normalised (``auth.model.normalise``), and an
email or alias names one identity only, so ``Alice``, ``alice `` and
``ALICE@example.com`` all find the same row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.model import Action, Principal, Role, normalise
from relgate.clock import Clock
from relgate.errors import BadInput, Conflict, NotFound
from relgate.store.tables import IdentityNameRow, IdentityRow, TokenRow
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory, as_utc

MAX_NAME = limits.IDENTITY_NAME
MAX_EMAIL = limits.EMAIL
KINDS = ("person", "robot")


@dataclass(frozen=True)
class IdentityInfo:
    key: str
    name: str
    kind: str
    emails: list[str]
    aliases: list[str]
    tokens: list[str]
    created_at: datetime
    created_by: str


def check_name(name: str) -> str:
    """Return the normalised key of an identity's name; raise BadInput when empty or too long."""
    key = normalise(name)
    if not key or len(key) > MAX_NAME or len(name) > MAX_NAME:
        raise BadInput(f"identity name {name[:40]!r}: expected 1 to {MAX_NAME} characters")
    return key


def check_email(email: str) -> str:
    """Return ``email`` normalised; raise BadInput unless it looks like ``name@host``."""
    value = normalise(email)
    local, _, host = value.partition("@")
    if not local or not host or " " in value or len(value) > MAX_EMAIL or len(email) > MAX_EMAIL:
        raise BadInput(f"email {email[:60]!r}: expected an address like alice@example.com")
    return value


def find(session: Session, text: str) -> IdentityRow | None:
    """Return the identity whose name, email or alias is ``text`` (normalised), else None."""
    wanted = normalise(text)
    if not wanted:
        return None
    row = session.scalar(select(IdentityRow).where(IdentityRow.key == wanted))
    if row is not None:
        return row
    return session.scalar(
        select(IdentityRow)
        .join(IdentityNameRow, IdentityNameRow.identity_id == IdentityRow.id)
        .where(IdentityNameRow.value == wanted)
    )


def keys_of(session: Session, texts: Iterable[str | None]) -> list[str]:
    """Return the keys of the known identities named by any of ``texts`` (names or emails)."""
    wanted = sorted({normalise(t) for t in texts if t and normalise(t)})
    if not wanted:
        return []
    by_key = session.scalars(select(IdentityRow.key).where(IdentityRow.key.in_(wanted))).all()
    by_name = session.scalars(
        select(IdentityRow.key)
        .join(IdentityNameRow, IdentityNameRow.identity_id == IdentityRow.id)
        .where(IdentityNameRow.value.in_(wanted))
    ).all()
    return sorted({*by_key, *by_name})


def ensure(
    uow: UnitOfWork,
    name: str,
    *,
    actor: str,
    at: datetime,
    emails: Sequence[str] = (),
    aliases: Sequence[str] = (),
    kind: str = "person",
) -> IdentityRow:
    """Return the identity named ``name`` (by name, email or alias), created when unknown.

    ``emails`` and ``aliases`` are added to it. Every change is audited in the
    caller's transaction. Raises BadInput for a malformed name or email,
    Conflict when an email or alias belongs to another identity.
    """
    if kind not in KINDS:
        raise BadInput(f"unknown identity kind {kind!r}: use person or robot")
    key = check_name(name)
    session = uow.session
    row = find(session, name)
    created = row is None
    if row is None:
        row = IdentityRow(key=key, name=name.strip(), kind=kind, created_at=at, created_by=actor)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            # another request created it between our read and write: use theirs
            row = find(session, name)
            if row is None:
                raise Conflict(f"identity {key!r} changed meanwhile; try again") from None
            created = False
    added = _add_names(session, row, "email", [check_email(e) for e in emails])
    added += _add_names(session, row, "alias", [check_name(a) for a in aliases])
    if created or added:
        audit.append(
            uow,
            actor=actor,
            action="identity.created" if created else "identity.updated",
            subject=f"identity/{row.key}",
            at=at,
            after={"name": row.name, "kind": row.kind, "added": added},
        )
    return row


def _add_names(session: Session, row: IdentityRow, kind: str, values: list[str]) -> list[str]:
    added: list[str] = []
    for value in dict.fromkeys(values):
        if value == row.key:
            continue
        owner = find(session, value)
        if owner is not None and owner.id != row.id:
            raise Conflict(f"{kind} {value!r} belongs to the identity {owner.key!r} already")
        if owner is None:
            try:
                with session.begin_nested():
                    session.add(IdentityNameRow(identity_id=row.id, kind=kind, value=value))
            except IntegrityError:
                raise Conflict(
                    f"{kind} {value!r} was given to another identity meanwhile"
                ) from None
            added.append(f"{kind}:{value}")
    return added


def principal_of(
    session: Session,
    token: TokenRow,
    identity: IdentityRow | None = None,
    names: Sequence[tuple[str, str]] | None = None,
) -> Principal:
    """Return the principal of a token row, filled from its identity and its (kind, value) names.

    The identity and its names are read when not given.
    """
    emails: frozenset[str] = frozenset()
    aliases: frozenset[str] = frozenset()
    key = ""
    if identity is None and token.identity_id is not None:
        identity = session.get(IdentityRow, token.identity_id)
    if identity is not None:
        key = identity.key
        if names is None:
            names = [
                (kind, value)
                for kind, value in session.execute(
                    select(IdentityNameRow.kind, IdentityNameRow.value).where(
                        IdentityNameRow.identity_id == identity.id
                    )
                )
            ]
        emails = frozenset(value for kind, value in names if kind == "email")
        aliases = frozenset(value for kind, value in names if kind == "alias")
        aliases |= {normalise(identity.name)}
    return Principal(
        name=token.name,
        role=Role(token.role),
        environment=token.environment,
        identity=key,
        emails=emails,
        aliases=aliases,
        services=frozenset(token.services) if token.services is not None else None,
        environments=frozenset(token.environments) if token.environments is not None else None,
        origins=frozenset(token.origins or ()),
    )


class IdentityService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def add(
        self,
        principal: Principal,
        name: str,
        *,
        emails: Sequence[str] = (),
        aliases: Sequence[str] = (),
        kind: str = "person",
    ) -> IdentityInfo:
        """Create the identity ``name`` or add emails and aliases to it; return it.

        Raises Forbidden unless an unrestricted admin calls, BadInput for a
        malformed name or email, Conflict for an email or alias of another identity.
        """
        principal.require(Action.MANAGE_TOKENS, everywhere=True)
        with self._uow() as uow:
            row = ensure(
                uow,
                name,
                actor=principal.name,
                at=self._clock.now(),
                emails=emails,
                aliases=aliases,
                kind=kind,
            )
            uow.commit()
            return _info(uow.session, row)

    def list_identities(self, principal: Principal) -> list[IdentityInfo]:
        """Return every identity, ordered by key (admin only)."""
        principal.require(Action.MANAGE_TOKENS, everywhere=True)
        with self._uow() as uow:
            rows = uow.session.scalars(select(IdentityRow).order_by(IdentityRow.key)).all()
            return [_info(uow.session, row) for row in rows]

    def show(self, principal: Principal, name: str) -> IdentityInfo:
        """Return the identity named ``name`` (its name, an email or an alias); raises NotFound."""
        principal.require(Action.MANAGE_TOKENS, everywhere=True)
        with self._uow() as uow:
            row = find(uow.session, name)
            if row is None:
                raise NotFound(f"no identity named {name!r} (by name, email or alias)")
            return _info(uow.session, row)


def _info(session: Session, row: IdentityRow) -> IdentityInfo:
    names = session.execute(
        select(IdentityNameRow.kind, IdentityNameRow.value)
        .where(IdentityNameRow.identity_id == row.id)
        .order_by(IdentityNameRow.value)
    ).all()
    tokens = session.scalars(
        select(TokenRow.name)
        .where(TokenRow.identity_id == row.id, TokenRow.revoked_at.is_(None))
        .order_by(TokenRow.name)
    ).all()
    return IdentityInfo(
        key=row.key,
        name=row.name,
        kind=row.kind,
        emails=[value for kind, value in names if kind == "email"],
        aliases=[value for kind, value in names if kind == "alias"],
        tokens=list(tokens),
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
    )
