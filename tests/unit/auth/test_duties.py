"""Separation of duties: authors, co-authors and the requester cannot approve, in any spelling."""

from __future__ import annotations

import pytest

from relgate.auth.duties import Duties, check_may_approve
from relgate.auth.model import Principal, Role
from relgate.errors import Forbidden

ALICE = Principal(
    "alice-laptop", Role.APPROVER, identity="alice", emails=frozenset({"alice@example.com"})
)


@pytest.mark.parametrize("author", ["Alice", "alice ", "ALICE", "ａｌｉｃｅ", "ALICE@Example.com"])
def test_an_author_in_any_spelling_cannot_approve(author: str) -> None:
    with pytest.raises(Forbidden, match=r"alice-laptop is the author of shop@1.0.0"):
        check_may_approve(ALICE, Duties(release="shop@1.0.0", authors=(author,)))


def test_an_author_known_only_by_email_cannot_approve_under_a_token_of_that_email() -> None:
    duties = Duties(release="shop@1.0.0", authors=("A. Smith", "Alice@example.COM "))
    with pytest.raises(Forbidden, match=r"is the author of"):
        check_may_approve(ALICE, duties)


def test_a_co_author_cannot_approve() -> None:
    duties = Duties(release="shop@1.0.0", authors=("bob",), co_authors=("alice@example.com",))
    with pytest.raises(Forbidden, match=r"alice-laptop is a co-author of shop@1.0.0"):
        check_may_approve(ALICE, duties)


def test_an_author_resolved_to_the_identity_when_the_release_was_made_cannot_approve() -> None:
    duties = Duties(release="shop@1.0.0", authors=("A. S.",), author_identities=("alice",))
    with pytest.raises(Forbidden, match=r"one of the authors"):
        check_may_approve(ALICE, duties)


def test_the_requester_under_another_token_of_the_same_identity_cannot_approve() -> None:
    duties = Duties(
        release="shop@1.0.0", authors=("bob",), requester="alice-ci", requester_identity="alice"
    )
    with pytest.raises(Forbidden, match=r"requested this deployment"):
        check_may_approve(ALICE, duties)


def test_somebody_else_may_approve() -> None:
    duties = Duties(
        release="shop@1.0.0",
        authors=("bob", "bob@example.com"),
        co_authors=("carol <carol@example.com>",),
        author_identities=("bob",),
        requester="ci",
        requester_identity="ci",
    )
    check_may_approve(ALICE, duties)  # raises nothing
