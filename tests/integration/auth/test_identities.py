"""Identities in the store: tokens belong to one, names and emails are compared normalised."""

from __future__ import annotations

import pytest

from relgate.audit import store as audit
from relgate.auth.model import Role
from relgate.bootstrap import Services
from relgate.errors import BadInput, Conflict, Forbidden, NotFound
from tests.integration.auth.conftest import MakeToken


def test_creating_a_token_for_a_new_name_creates_its_identity(
    services: Services, token: MakeToken
) -> None:
    alice = token("Alice", "approver", emails=["Alice@Example.com"])

    assert alice.name == "Alice"
    assert alice.role is Role.APPROVER
    assert alice.identity == "alice"
    assert alice.emails == frozenset({"alice@example.com"})
    assert alice.services is None and alice.environments is None
    admin = token("root", "admin")
    shown = services.identities.show(admin, "ALICE@example.com ")
    assert (shown.key, shown.emails, shown.tokens) == ("alice", ["alice@example.com"], ["Alice"])


def test_a_second_token_of_a_person_belongs_to_the_same_identity(
    services: Services, token: MakeToken
) -> None:
    token("alice", "approver", emails=["alice@example.com"])
    laptop = token("alice-laptop", "approver", identity="alice@example.com")

    assert laptop.identity == "alice"
    assert laptop.emails == frozenset({"alice@example.com"})
    assert laptop.is_person("ALICE")


def test_identity_add_records_emails_and_aliases_and_is_audited(
    services: Services, token: MakeToken
) -> None:
    admin = token("root", "admin")

    services.identities.add(admin, "Bob Jones", emails=["bob@example.com"], aliases=["bobby"])
    bob = token("bob-ci", "ci", identity="bobby")

    assert bob.identity == "bob jones"
    assert bob.emails == frozenset({"bob@example.com"})
    assert bob.is_person("Bobby ")
    with services.uow() as uow:
        actions = [e.action for e in audit.events(uow, subject="identity/bob jones")]
    assert "identity.created" in actions


def test_an_email_names_one_identity_only(services: Services, token: MakeToken) -> None:
    admin = token("root", "admin")
    services.identities.add(admin, "alice", emails=["alice@example.com"])

    with pytest.raises(Conflict, match=r"'alice@example.com' belongs to the identity 'alice'"):
        services.identities.add(admin, "mallory", emails=["ALICE@example.com"])
    with pytest.raises(Conflict, match=r"belongs to the identity 'alice'"):
        token("mallory", "approver", emails=["alice@example.com"])
    # nothing half-written: no token, no identity for mallory
    with pytest.raises(NotFound):
        services.identities.show(admin, "mallory")
    assert "mallory" not in [t.name for t in services.tokens.list_tokens()]


def test_a_malformed_email_is_refused_naming_it(services: Services, token: MakeToken) -> None:
    with pytest.raises(BadInput, match=r"email 'alice at example'"):
        token("alice", "approver", emails=["alice at example"])


def test_only_an_unrestricted_admin_manages_identities(
    services: Services, token: MakeToken
) -> None:
    ci = token("ci", "ci")
    scoped_admin = token("dev-admin", "admin", environments=["dev"])

    with pytest.raises(Forbidden, match=r"needs the role admin"):
        services.identities.list_identities(ci)
    with pytest.raises(Forbidden, match=r"scoped to environments dev"):
        services.identities.add(scoped_admin, "eve")
    with pytest.raises(Forbidden, match=r"scoped to environments dev"):
        services.tokens.issue(scoped_admin, "eve", "admin")


def test_a_token_carries_its_scope_and_the_creation_is_audited(
    services: Services, token: MakeToken
) -> None:
    ci = token("ci-dev", "ci", services=["payments"], environments=["dev"])

    assert ci.services == frozenset({"payments"})
    assert ci.environments == frozenset({"dev"})
    with services.uow() as uow:
        (event,) = audit.events(uow, subject="token/ci-dev")
    assert event.action == "token.created"
    assert event.after == {
        "role": "ci",
        "identity": "ci-dev",
        "environment": None,
        "services": ["payments"],
        "environments": ["dev"],
    }
