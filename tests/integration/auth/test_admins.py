"""The last admin token cannot be revoked, and an admin can be recovered from the database."""

from __future__ import annotations

import pytest

from relgate.audit import store as audit
from relgate.bootstrap import Services
from relgate.errors import Conflict, Forbidden
from tests.integration.auth.conftest import MakeToken


def test_the_last_admin_token_cannot_be_revoked_even_by_itself(
    services: Services, token: MakeToken
) -> None:
    first = services.tokens.ensure_first_admin()
    assert first is not None
    admin = services.tokens.authenticate(first)

    with pytest.raises(Conflict, match=r"'admin' is the last admin token.*relgate admin recover"):
        services.tokens.revoke("admin", admin)
    assert services.tokens.authenticate(first).name == "admin"  # still works


def test_an_admin_may_be_revoked_while_another_remains(
    services: Services, token: MakeToken
) -> None:
    first = token("first", "admin")
    token("second", "admin")

    services.tokens.revoke("second", first)

    with pytest.raises(Conflict, match=r"'first' is the last admin token"):
        services.tokens.revoke("first", first)


def test_a_scoped_admin_token_does_not_count_as_the_remaining_admin(
    services: Services, token: MakeToken
) -> None:
    full = token("full", "admin")
    token("dev-admin", "admin", environments=["dev"])

    with pytest.raises(Conflict, match=r"last admin token"):
        services.tokens.revoke("full", full)
    services.tokens.revoke("dev-admin", full)  # a scoped admin may go


def test_a_scoped_admin_cannot_revoke_tokens(services: Services, token: MakeToken) -> None:
    token("full", "admin")
    scoped = token("dev-admin", "admin", environments=["dev"])

    with pytest.raises(Forbidden, match=r"touches every service and environment"):
        services.tokens.revoke("full", scoped)


def test_recovering_an_admin_mints_a_working_token_and_audits_it(services: Services) -> None:
    info, secret = services.tokens.recover_admin()

    principal = services.tokens.authenticate(secret)
    assert principal.role == "admin" and principal.unrestricted
    assert info.name == "admin-recovered-20261124100000"
    with services.uow() as uow:
        (event,) = audit.events(uow, subject=f"token/{info.name}")
    assert (event.action, event.actor) == ("admin.recovered", "relgate admin recover")
