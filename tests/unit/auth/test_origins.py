"""Frontend tokens' browser origins: canonical form, refusals, comparison with an Origin header."""

from __future__ import annotations

import pytest

from relgate.auth.model import Action, Principal, Role
from relgate.auth.origins import allows, canonical_origin, canonical_origins
from relgate.auth.service import token_scope
from relgate.errors import BadInput, Forbidden


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://shop.example", "https://shop.example"),
        ("HTTPS://Shop.Example:443/", "https://shop.example"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("capacitor://localhost", "capacitor://localhost"),
        (" * ", "*"),
    ],
)
def test_origins_are_stored_canonically(given: str, expected: str) -> None:
    assert canonical_origin(given) == expected


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("shop.example", "scheme://host"),
        ("https://shop.example/app", "no path"),
        ("https://shop.example?x=1", "no path"),
        ("https://u:p@shop.example", "user name"),
        ("https://shöp.example", "punycode"),
        ("https://", "scheme://host"),
        ("https://shop.example:99999", "Port"),
        ("https://sh op.example", "not a host"),
        ("https://*.example", "not a host"),
        ("", "ASCII"),
    ],
)
def test_what_is_not_an_origin_is_refused_naming_it(given: str, problem: str) -> None:
    with pytest.raises(BadInput, match=problem):
        canonical_origin(given)


def test_at_most_fifty_origins_and_no_duplicates() -> None:
    assert canonical_origins(["https://a.example/", "https://A.example"]) == ["https://a.example"]
    with pytest.raises(BadInput, match="at most 50"):
        canonical_origins([f"https://s{i}.example" for i in range(51)])


def test_an_origin_header_is_compared_as_a_browser_sends_it() -> None:
    listed = {"https://shop.example", "http://127.0.0.1:8080"}
    assert allows(listed, "https://shop.example")
    assert allows(listed, "https://SHOP.example:443")
    assert allows(listed, "http://127.0.0.1:8080")
    assert not allows(listed, "http://127.0.0.1:8081")
    assert not allows(listed, "https://shop.example.evil.example")
    assert not allows(listed, "null")
    assert not allows(listed, None)
    assert not allows(set(), "https://shop.example")
    assert allows({"*"}, "https://anything.example")


def test_a_frontend_token_has_one_environment_and_origins() -> None:
    scope = token_scope(Role.FRONTEND, "production", None, None, ["https://Shop.example/"])
    assert (scope.environment, scope.origins) == ("production", ["https://shop.example"])
    assert token_scope(Role.FRONTEND, "dev", None, None).origins == []
    with pytest.raises(BadInput, match="exactly one environment"):
        token_scope(Role.FRONTEND, None, None, ["dev", "production"])
    with pytest.raises(BadInput, match="drop --service"):
        token_scope(Role.FRONTEND, "dev", ["payments"], None)
    with pytest.raises(BadInput, match="drop --origin"):
        token_scope(Role.CLIENT, "dev", None, None, ["https://shop.example"])
    with pytest.raises(BadInput, match="drop --origin"):
        token_scope(Role.ADMIN, None, None, None, ["https://shop.example"])


def test_a_frontend_token_may_do_nothing_but_evaluate_its_environment() -> None:
    token = Principal("web", Role.FRONTEND, environment="production")
    token.require(Action.EVALUATE_FRONTEND, environment="production")
    with pytest.raises(Forbidden):
        token.require(Action.EVALUATE_FRONTEND, environment="staging")
    for action in Action:
        if action is not Action.EVALUATE_FRONTEND:
            assert not token.may(action), action
    assert not token.unrestricted
    assert "environment production" in token.scope_text()
    assert "origins (none)" in token.scope_text()
