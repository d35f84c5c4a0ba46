"""Separation of duties: who may not approve a release (pure).

The author, each co-author and whoever requested the deployment may not
approve it, under any token of theirs. They are compared as identities:
the approving token's identity key, its aliases and its emails against the
release's recorded names and emails (normalised, see ``auth.model.normalise``)
and the identity keys resolved when the release and the deployment were made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from relgate.auth.model import Principal
from relgate.errors import Forbidden


@dataclass(frozen=True)
class Duties:
    """What is known of who made a release and asked for its deployment."""

    release: str
    authors: tuple[str, ...]  # names and emails as recorded, author first
    author_identities: tuple[str, ...]  # keys of the known identities among them
    requester: str | None = None  # the requesting token's name
    requester_identity: str | None = None


def check_may_approve(principal: Principal, duties: Duties) -> None:
    """Raise Forbidden, naming why, when ``principal`` is an author or the requester."""
    who = f"{principal.name!r} (identity {principal.identity!r})"
    if principal.identity in duties.author_identities or _any_is(principal, duties.authors):
        raise Forbidden(
            f"{who} is an author of {duties.release} and cannot approve it (separation of duties)"
        )
    if (duties.requester_identity and principal.identity == duties.requester_identity) or (
        principal.is_person(duties.requester)
    ):
        raise Forbidden(
            f"{who} requested this deployment of {duties.release} and cannot approve it "
            "(separation of duties)"
        )


def _any_is(principal: Principal, texts: Iterable[str]) -> bool:
    return any(principal.is_person(text) for text in texts)
