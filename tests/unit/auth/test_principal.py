"""The principal: roles, scope and who counts as the same person."""

from __future__ import annotations

import pytest

from relgate.auth.model import Action, Principal, Role, normalise
from relgate.errors import Forbidden


def test_normalise_folds_case_width_and_whitespace() -> None:
    assert normalise("  Alice  ") == "alice"
    assert normalise("ＡＬＩＣＥ") == "alice"
    assert normalise("Alice\t Smith") == "alice smith"


@pytest.mark.parametrize("author", ["alice", "Alice", "alice ", "ａｌｉｃｅ", "ALICE@Example.com"])
def test_a_principal_recognises_its_identity_in_any_spelling(author: str) -> None:
    alice = Principal("alice", Role.APPROVER, emails=frozenset({"alice@example.com"}))
    assert alice.is_person(author)


def test_a_name_with_an_email_in_angle_brackets_is_matched_by_its_address() -> None:
    alice = Principal("approver-1", Role.APPROVER, emails=frozenset({"alice@example.com"}))
    assert alice.is_person("A. Smith <Alice@Example.com>")
    assert not alice.is_person("Bob <bob@example.com>")


def test_a_scoped_token_is_refused_outside_its_environments() -> None:
    ci = Principal("ci-dev", Role.CI, environments=frozenset({"dev"}))
    ci.require(Action.PROMOTE, service="payments", environment="dev")
    with pytest.raises(Forbidden, match="scoped to the environments dev, not 'production'"):
        ci.require(Action.PROMOTE, service="payments", environment="production")


def test_a_scoped_token_is_refused_outside_its_services() -> None:
    ci = Principal("ci-pay", Role.CI, services=frozenset({"payments"}))
    with pytest.raises(Forbidden, match="scoped to the services payments, not 'search'"):
        ci.require(Action.ADD_EVIDENCE, service="search")


def test_a_client_token_touches_only_its_own_environment() -> None:
    client = Principal("sdk", Role.CLIENT, environment="staging")
    assert client.may_touch_environment("staging")
    assert not client.may_touch_environment("production")
