"""Tokens that SDKs send on every poll, checked against the store at most once per ``ttl``.

Checking each request's token would cost a query per poll; a revoked token
therefore keeps working for at most ``ttl`` seconds, like Unleash's own
in-memory token cache. The client API and the frontend API each add the role
they admit (``ClientAuthenticator``, ``FrontendAuthenticator``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from relgate.auth.model import Principal
from relgate.errors import Unauthorized

_MAX_KNOWN = 10_000


def token_of(authorization: str | None) -> str:
    """Return the token of an ``Authorization`` header (``Bearer`` optional; may be empty)."""
    token = (authorization or "").strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return token


class TokenCache:
    """Principals of tokens accepted less than ``ttl`` seconds ago."""

    def __init__(
        self,
        authenticate: Callable[[str | None], Principal],
        ttl: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._authenticate = authenticate
        self._ttl = ttl
        self._monotonic = monotonic
        self._known: dict[str, tuple[Principal, float]] = {}

    def _recent(self, token: str) -> Principal | None:
        known = self._known.get(token)
        if known is None or self._monotonic() - known[1] >= self._ttl:
            return None
        return known[0]

    def _principal(self, authorization: str | None, missing: str) -> Principal:
        """The principal of the header's token (any role); Unauthorized(``missing``) if none."""
        token = token_of(authorization)
        if not token:
            raise Unauthorized(missing)
        recent = self._recent(token)
        if recent is not None:
            return recent
        principal = self._authenticate(token)
        if len(self._known) > _MAX_KNOWN:  # bound memory against token spraying
            self._known.clear()
        self._known[token] = (principal, self._monotonic())
        return principal
