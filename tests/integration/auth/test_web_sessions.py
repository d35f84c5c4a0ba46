"""Web sessions on the real stores: what a cookie is worth, and when it stops being worth it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from relgate.audit import store as audit
from relgate.bootstrap import Services
from relgate.clock import FixedClock
from relgate.errors import Forbidden, Unauthorized
from relgate.store.tables import WebSessionRow


def test_a_session_stands_for_its_token_and_stores_no_secret(services: Services) -> None:
    _, secret = services.tokens.create("ana", "approver", "admin")

    cookie, session = services.sessions.sign_in(secret)

    assert services.sessions.resolve(cookie).principal.name == "ana"
    with services.uow() as uow:
        row = uow.session.scalars(select(WebSessionRow)).one()
        assert cookie not in (row.session_hash, row.csrf)
        assert secret not in (row.session_hash, row.csrf)
        assert "session.signed_in" in [e.action for e in audit.events(uow, subject="token/ana")]
    assert session.principal.role == "approver"


def test_an_idle_session_expires_and_an_active_one_lasts_its_lifetime_only(
    services: Services,
) -> None:
    clock = services.clock
    assert isinstance(clock, FixedClock)
    _, secret = services.tokens.create("ci-web", "ci", "admin")
    idle_cookie, _ = services.sessions.sign_in(secret)
    busy_cookie, _ = services.sessions.sign_in(secret)

    for _ in range(11):  # 11 × 59 min < 12 h: the busy session is used within its idle time
        clock.advance(minutes=59)
        services.sessions.resolve(busy_cookie)
    with pytest.raises(Unauthorized, match="expired"):
        services.sessions.resolve(idle_cookie)
    clock.advance(minutes=60)
    with pytest.raises(Unauthorized, match="expired"):
        services.sessions.resolve(busy_cookie)
    assert services.sessions.lifetime == timedelta(hours=12)


def test_signing_out_or_revoking_the_token_ends_the_session(services: Services) -> None:
    _, secret = services.tokens.create("bo", "ci", "admin")
    first, _ = services.sessions.sign_in(secret)
    second, _ = services.sessions.sign_in(secret)

    services.sessions.sign_out(first)
    services.tokens.revoke("bo", "admin")

    with pytest.raises(Unauthorized, match="sign in to continue"):
        services.sessions.resolve(first)
    with pytest.raises(Unauthorized, match="revoked"):
        services.sessions.resolve(second)
    with pytest.raises(Unauthorized, match="unknown or revoked"):
        services.sessions.sign_in(secret)


def test_client_tokens_and_garbage_do_not_sign_in(services: Services) -> None:
    _, client = services.tokens.create("sdk", "client", "admin", "dev")

    with pytest.raises(Unauthorized, match="flag client token"):
        services.sessions.sign_in(client)
    for cookie in (None, "", "x" * 5000, "no-such-session"):
        with pytest.raises(Unauthorized):
            services.sessions.resolve(cookie)
    with pytest.raises(Unauthorized):
        services.sessions.sign_in("rg_" + "a" * 1000)


def test_the_csrf_token_must_be_the_sessions_own(services: Services) -> None:
    _, secret = services.tokens.create("cy", "admin", "admin")
    _, one = services.sessions.sign_in(secret)
    _, other = services.sessions.sign_in(secret)

    services.sessions.check_csrf(one, one.csrf)
    for wrong in (None, "", other.csrf, one.csrf + "x"):
        with pytest.raises(Forbidden, match="CSRF"):
            services.sessions.check_csrf(one, wrong)
