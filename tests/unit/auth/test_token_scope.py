"""The scope a new token gets from its role, --env and --service."""

from __future__ import annotations

import pytest

from relgate.auth.model import Action, Principal, Role
from relgate.auth.service import Scope, token_scope
from relgate.errors import BadInput, Forbidden


def test_a_ci_token_may_be_limited_to_services_and_environments() -> None:
    scope = token_scope(Role.CI, None, ["payments", "payments", " search "], ["dev", "staging"])
    assert scope == Scope(
        environment=None, services=["payments", "search"], environments=["dev", "staging"]
    )


def test_empty_lists_mean_unrestricted() -> None:
    assert token_scope(Role.APPROVER, None, [], []) == Scope(None, None, None)


def test_a_client_token_keeps_exactly_one_environment() -> None:
    assert token_scope(Role.CLIENT, None, None, ["production"]).environment == "production"
    assert token_scope(Role.CLIENT, "dev", None, None).environment == "dev"
    with pytest.raises(BadInput, match=r"exactly one environment"):
        token_scope(Role.CLIENT, None, None, ["dev", "production"])
    with pytest.raises(BadInput, match=r"exactly one environment"):
        token_scope(Role.CLIENT, None, None, None)


def test_a_client_token_cannot_be_limited_to_a_service() -> None:
    with pytest.raises(BadInput, match=r"drop --service"):
        token_scope(Role.CLIENT, "dev", ["payments"], None)


def test_a_scope_name_too_long_is_refused_naming_it() -> None:
    with pytest.raises(BadInput, match=r"environment 'xxxxx"):
        token_scope(Role.CI, None, None, ["x" * 101])


def test_a_scoped_token_cannot_do_what_touches_everything() -> None:
    ci = Principal("ci-dev", Role.CI, environments=frozenset({"dev"}))
    with pytest.raises(Forbidden, match=r"touches every service and environment.*environments dev"):
        ci.require(Action.MANAGE_FLAGS, everywhere=True)
    Principal("ci", Role.CI).require(Action.MANAGE_FLAGS, everywhere=True)  # unrestricted


def test_a_client_token_is_never_unrestricted() -> None:
    client = Principal("sdk", Role.CLIENT, environment="dev")
    assert not client.unrestricted
    assert client.scope_text() == "environment dev"
