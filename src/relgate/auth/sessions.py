"""Web UI sessions: signing in with an API token, what a session is, when it ends.

A person signs in once with an API token; the server keeps a session row and
gives the browser a random cookie. Only the SHA-256 of the cookie is stored, so
a copy of the database signs nobody in. The session stands for the token it
signed in with: every request loads that token's principal again, so revoking
the token, or changing its scope, takes effect on the next page. A session ends
when it is signed out, when it has been idle longer than ``idle``, or at the
latest ``lifetime`` after it began.

Each session has its own CSRF secret; every form and every htmx request sends
it back, and ``check_csrf`` compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select

from relgate.audit import store as audit
from relgate.auth.model import Principal, Role, hash_token
from relgate.auth.service import TokenService
from relgate.clock import Clock
from relgate.errors import Forbidden, Unauthorized
from relgate.store.tables import TokenRow, WebSessionRow
from relgate.store.uow import UnitOfWorkFactory, as_utc

# the session's last-seen time is written at most this often (not on every page)
_TOUCH_EVERY = timedelta(seconds=60)
# ended and expired rows are kept this long, then deleted at a sign-in
_KEEP_ENDED = timedelta(days=1)
MAX_TOKEN_CHARS = 200


@dataclass(frozen=True)
class WebSession:
    """A live session: who it is (the token's principal, loaded now) and its CSRF secret."""

    principal: Principal
    csrf: str
    expires_at: datetime


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class SessionService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        idle: timedelta = timedelta(hours=1),
        lifetime: timedelta = timedelta(hours=12),
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.idle = idle
        self.lifetime = lifetime

    def sign_in(self, token: str) -> tuple[str, WebSession]:
        """Open a session for ``token``; return the cookie value (shown once) and the session.

        Raises Unauthorized for an empty, unknown or revoked token, and for a flag
        client token, which reads flags as an SDK and has nothing to sign in to.
        Audited as ``session.signed_in``.
        """
        token = token.strip()
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("paste an API token (it starts with rg_)")
        now = self._clock.now()
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self._uow() as uow:
            token_id, principal = TokenService.principal_where(
                uow, TokenRow.token_hash == hash_token(token)
            )
            if principal.role in (Role.CLIENT, Role.FRONTEND):
                raise Unauthorized(
                    f"token {principal.name!r} is a flag {principal.role} token (it reads flags "
                    "as an SDK); sign in with an admin, ci or approver token"
                )
            uow.session.execute(
                delete(WebSessionRow).where(
                    or_(
                        WebSessionRow.ended_at < now - _KEEP_ENDED,
                        WebSessionRow.expires_at < now - _KEEP_ENDED,
                    )
                )
            )
            expires = now + self.lifetime
            uow.session.add(
                WebSessionRow(
                    session_hash=_digest(cookie),
                    token_id=token_id,
                    csrf=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires,
                    ended_at=None,
                )
            )
            audit.append(
                uow,
                actor=principal.name,
                action="session.signed_in",
                subject=f"token/{principal.name}",
                at=now,
            )
            uow.commit()
        return cookie, WebSession(principal, csrf, expires)

    def resolve(self, cookie: str | None) -> WebSession:
        """Return the live session of ``cookie`` with its token's principal as of now.

        Raises Unauthorized (saying why) when there is no such session, it was signed
        out, it has been idle too long or its lifetime is over, or its token was revoked.
        """
        if not cookie or len(cookie) > MAX_TOKEN_CHARS:
            raise Unauthorized("sign in to continue")
        now = self._clock.now()
        with self._uow() as uow:
            row = uow.session.scalar(
                select(WebSessionRow).where(WebSessionRow.session_hash == _digest(cookie))
            )
            if row is None or row.ended_at is not None:
                raise Unauthorized("sign in to continue")
            if as_utc(row.expires_at) <= now or as_utc(row.last_seen_at) + self.idle <= now:
                raise Unauthorized("your session has expired: sign in again")
            try:
                _, principal = TokenService.principal_where(uow, TokenRow.id == row.token_id)
            except Unauthorized:
                raise Unauthorized(
                    "the token this session signed in with was revoked: sign in again"
                ) from None
            if now - as_utc(row.last_seen_at) >= _TOUCH_EVERY:
                row.last_seen_at = now
                uow.commit()
            return WebSession(principal, row.csrf, as_utc(row.expires_at))

    def sign_out(self, cookie: str | None) -> None:
        """End the session of ``cookie`` (nothing happens for an unknown one)."""
        if not cookie or len(cookie) > MAX_TOKEN_CHARS:
            return
        with self._uow() as uow:
            row = uow.session.scalar(
                select(WebSessionRow).where(WebSessionRow.session_hash == _digest(cookie))
            )
            if row is not None and row.ended_at is None:
                row.ended_at = self._clock.now()
                uow.commit()

    @staticmethod
    def check_csrf(session: WebSession, presented: str | None) -> None:
        """Raise Forbidden unless ``presented`` is the session's CSRF secret."""
        if not presented or not hmac.compare_digest(presented.encode(), session.csrf.encode()):
            raise Forbidden(
                "the form's CSRF token is missing or wrong: reload the page and try again"
            )
