"""A client token reads the flags of its own environment only."""

from __future__ import annotations

import pytest

from relgate.bootstrap import Services
from relgate.errors import Forbidden
from relgate.flags.serving import (
    ClientAuthenticator,
    FlagServing,
    PayloadFormat,
    client_environment,
)
from tests.integration.auth.conftest import MakeToken


def test_a_client_token_is_served_the_environment_it_was_made_for(
    services: Services, token: MakeToken
) -> None:
    ci = token("ci", "ci")
    services.flags.create(ci, "dark-mode")
    services.flags.enable(ci, "dark-mode", "production")
    _, secret = services.tokens.create("web", "client", "admin", environments=["dev"])
    auth = ClientAuthenticator(services.tokens.authenticate, ttl=5)

    principal = auth.client(secret)
    environment = client_environment(principal)
    document = FlagServing(services.flags).features(environment, PayloadFormat.SEGMENTS).document

    assert environment == "dev"
    assert [f["enabled"] for f in document["features"]] == [False]  # on in production only
    assert auth.cached(f"Bearer {secret}") == principal


def test_other_tokens_are_refused_by_the_client_api(services: Services, token: MakeToken) -> None:
    _, secret = services.tokens.create("ci", "ci", "admin")
    auth = ClientAuthenticator(services.tokens.authenticate, ttl=5)

    with pytest.raises(Forbidden, match=r"needs a token with the role client"):
        auth.client(secret)
    with pytest.raises(Forbidden, match=r"needs a token with the role client"):
        client_environment(token("ci-dev", "ci", environments=["dev"]))
