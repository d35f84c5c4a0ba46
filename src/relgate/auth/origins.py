"""Browser origins a frontend token is served to (CORS), written and compared canonically.

An origin is ``scheme://host[:port]`` as a browser sends it in the ``Origin``
header: lower case, no path, no default port (``https://Shop.example:443/`` is
``https://shop.example``). ``*`` admits every origin, answered with
``Access-Control-Allow-Origin: *`` and never with credentials.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from relgate.errors import BadInput

ANY_ORIGIN: Final = "*"
MAX_ORIGINS: Final = 50
MAX_ORIGIN_LENGTH: Final = 200

_SCHEME: Final = re.compile(r"[a-z][a-z0-9+.-]{0,30}\Z")
_HOST: Final = re.compile(
    r"(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*)\Z"
)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def canonical_origin(text: str) -> str:
    """Return ``text`` as a canonical origin (or ``*``).

    Raises BadInput naming the origin when it is not ``scheme://host[:port]``
    (a path, a query, user info, a non-ASCII host: give its punycode form).
    """
    raw = text.strip()
    if raw == ANY_ORIGIN:
        return ANY_ORIGIN
    shown = raw[:60]
    if not raw or len(raw) > MAX_ORIGIN_LENGTH or not raw.isascii() or not raw.isprintable():
        raise BadInput(
            f"origin {shown!r}: expected scheme://host[:port] in ASCII (punycode for an "
            f"international name), at most {MAX_ORIGIN_LENGTH} characters"
        )
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise BadInput(f"origin {shown!r}: {exc}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if "://" not in raw or not _SCHEME.match(scheme) or not host:
        raise BadInput(
            f"origin {shown!r}: expected scheme://host[:port], e.g. https://shop.example"
        )
    if parts.username is not None or parts.password is not None:
        raise BadInput(f"origin {shown!r}: an origin has no user name or password")
    if parts.path not in ("", "/") or parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise BadInput(
            f"origin {shown!r}: an origin has no path, query or fragment "
            "(scheme://host[:port] only)"
        )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if not _HOST.match(host):
        raise BadInput(f"origin {shown!r}: {host!r} is not a host name or IP address")
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def canonical_origins(texts: Iterable[str]) -> list[str]:
    """Return the canonical origins of ``texts``, sorted and without duplicates.

    Raises BadInput for a bad origin or more than MAX_ORIGINS.
    """
    found = sorted({canonical_origin(text) for text in texts})
    if len(found) > MAX_ORIGINS:
        raise BadInput(f"a frontend token takes at most {MAX_ORIGINS} origins, not {len(found)}")
    return found


def allows(origins: Iterable[str], origin: str | None) -> bool:
    """Whether a request sent with ``Origin: origin`` comes from one of ``origins``.

    ``origins`` are canonical (as stored); the header is compared as a browser
    sends it (case-insensitive scheme and host, no default port). Never raises.
    """
    if not origin:
        return False
    allowed = set(origins)
    if ANY_ORIGIN in allowed:
        return True
    if origin in allowed:
        return True
    try:
        return canonical_origin(origin) in allowed
    except BadInput:
        return False
