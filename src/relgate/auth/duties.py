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
    authors: tuple[str, ...]  # the author's name and email as recorded
    co_authors: tuple[str, ...] = ()  # names and emails of the Co-authored-by trailers
    author_identities: tuple[str, ...] = ()  # keys of the known identities among them
    requester: str | None = None  # the requesting token's name
    requester_identity: str | None = None


def check_may_approve(principal: Principal, duties: Duties) -> None:
    """Raise Forbidden, naming why, when ``principal`` is an author or the requester."""
    why = f"(identity {principal.identity!r}; separation of duties)"
    if _any_is(principal, duties.authors):
        raise Forbidden(
            f"{principal.name} is the author of {duties.release} and cannot approve it {why}"
        )
    if _any_is(principal, duties.co_authors):
        raise Forbidden(
            f"{principal.name} is a co-author of {duties.release} and cannot approve it {why}"
        )
    if principal.identity in duties.author_identities:
        raise Forbidden(
            f"{principal.name} is one of the authors of {duties.release} and cannot approve it "
            f"{why}"
        )
    if (duties.requester_identity and principal.identity == duties.requester_identity) or (
        principal.is_person(duties.requester)
    ):
        raise Forbidden(f"{principal.name} requested this deployment and cannot approve it {why}")


def _any_is(principal: Principal, texts: Iterable[str]) -> bool:
    return any(principal.is_person(text) for text in texts)
