"""Separation of duties compares identities: authors, co-authors and requesters, any spelling."""

from __future__ import annotations

from pathlib import Path

import pytest

from relgate.auth.model import Principal
from relgate.bootstrap import Services
from relgate.errors import Conflict, Forbidden
from tests.integration.auth.conftest import MakeToken
from tests.integration.auth.pipeline import DIGEST, apply_pipeline


@pytest.fixture
def ci(services: Services, token: MakeToken, tmp_path: Path) -> Principal:
    apply_pipeline(services, tmp_path)
    return token("ci", "ci")


def _waiting(services: Services, ci: Principal, **authorship: object) -> None:
    services.releases.create(
        ci, service="shop", version="1.0.0", artifact=f"reg/shop@{DIGEST}", **authorship
    )  # type: ignore[arg-type]
    assert services.promotion.promote(ci, "shop", "1.0.0", "production").state == (
        "waiting_for_approval"
    )


@pytest.mark.parametrize(
    "authorship",
    [
        {"author": "Alice"},
        {"author": "alice "},
        {"author": "A. Smith", "author_email": "ALICE@example.com"},
        {"author_email": " Alice@Example.COM"},
    ],
)
def test_the_author_in_any_spelling_cannot_approve_under_her_token(
    services: Services, token: MakeToken, ci: Principal, authorship: dict[str, str]
) -> None:
    alice = token("alice", "approver", emails=["alice@example.com"])
    _waiting(services, ci, **authorship)

    with pytest.raises(Forbidden, match=r"alice is the author of shop@1.0.0"):
        services.promotion.decide(alice, "shop", "1.0.0", "production", approve=True)


def test_an_author_unknown_when_the_release_was_made_still_cannot_approve_later(
    services: Services, token: MakeToken, ci: Principal
) -> None:
    _waiting(services, ci, author="Dana", author_email="dana@example.com")
    release = services.releases.get(ci, "shop", "1.0.0")
    assert (release.author, release.author_email) == ("Dana", "dana@example.com")

    # dana becomes a known identity afterwards, with a token of another name
    approver = token("d.k", "approver", emails=["DANA@example.com"])

    with pytest.raises(Forbidden, match=r"d.k is the author of shop@1.0.0"):
        services.promotion.decide(approver, "shop", "1.0.0", "production", approve=True)


def test_a_co_author_cannot_approve(services: Services, token: MakeToken, ci: Principal) -> None:
    bob = token("bob", "approver", emails=["bob@example.com"])
    _waiting(services, ci, author="alice", co_authors=["Bob B. <BOB@example.com>"])

    assert services.releases.get(ci, "shop", "1.0.0").co_authors == ("Bob B. <BOB@example.com>",)
    with pytest.raises(Forbidden, match=r"bob is a co-author of shop@1.0.0"):
        services.promotion.decide(bob, "shop", "1.0.0", "production", approve=True)


def test_the_requester_cannot_approve_with_another_token_of_hers(
    services: Services, token: MakeToken, ci: Principal
) -> None:
    services.releases.create(
        ci, service="shop", version="1.0.0", artifact=f"reg/shop@{DIGEST}", author="zed"
    )
    carol_ci = token("carol-ci", "ci", identity="carol")
    carol = token("carol-approver", "approver", identity="carol")
    services.promotion.promote(carol_ci, "shop", "1.0.0", "production")

    with pytest.raises(Forbidden, match=r"carol-approver requested this deployment"):
        services.promotion.decide(carol, "shop", "1.0.0", "production", approve=True)


def test_two_tokens_of_one_person_cannot_give_two_approvals(
    services: Services, token: MakeToken, ci: Principal
) -> None:
    _waiting(services, ci, author="zed")
    erin = token("erin", "approver")
    erin_laptop = token("erin-laptop", "approver", identity="erin")

    first = services.promotion.decide(erin, "shop", "1.0.0", "production", approve=True)
    assert first.state == "waiting_for_approval"  # count: 2
    with pytest.raises(Conflict, match=r"'erin' already decided on deployment .* token 'erin'"):
        services.promotion.decide(erin_laptop, "shop", "1.0.0", "production", approve=True)

    frank = token("frank", "approver")
    done = services.promotion.decide(frank, "shop", "1.0.0", "production", approve=True)
    assert done.state == "requested"
    assert [a["approver"] for a in done.approvals] == ["erin", "frank"]


def test_the_release_records_the_identities_its_authors_resolved_to(
    services: Services, token: MakeToken, ci: Principal
) -> None:
    token("gina", "approver", emails=["gina@example.com"])
    services.releases.create(
        ci,
        service="shop",
        version="1.0.0",
        artifact=f"reg/shop@{DIGEST}",
        author="G.",
        author_email="Gina@example.com",
        co_authors=["Nobody Known <nobody@example.com>"],
    )

    from relgate.store.tables import ReleaseRow

    with services.uow() as uow:
        row = uow.session.query(ReleaseRow).one()
        assert row.author_identities == ["gina"]
        assert row.co_authors == [{"name": "Nobody Known", "email": "nobody@example.com"}]
