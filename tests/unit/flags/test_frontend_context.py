"""The frontend API's context readers and document, without a server."""

from __future__ import annotations

import pytest

from relgate.errors import BadInput
from relgate.flags.frontend import MAX_FIELDS, body_context, query_context, toggles
from relgate.flags.model import Snapshot


def test_the_query_encodings_of_unleash_sdks() -> None:
    context = query_context(
        [
            ("userId", "u-1"),
            ("sessionId", "s-1"),
            ("environment", "staging"),
            ("properties[tier]", "premium"),
            ("properties.country", "fr"),
            ("plan", "pro"),
            ("properties", '{"beta": true}'),
        ],
        "production",
        remote_address="10.0.0.1",
        app_name="shop",
    )
    assert (context.user_id, context.session_id) == ("u-1", "s-1")
    assert context.environment == "production"  # the token's
    assert (context.remote_address, context.app_name) == ("10.0.0.1", "shop")
    assert dict(context.properties) == {
        "tier": "premium",
        "country": "fr",
        "plan": "pro",
        "beta": "true",
    }


def test_a_client_given_remote_address_and_app_name_win() -> None:
    context = query_context(
        [("remoteAddress", "1.2.3.4"), ("appName", "mine")],
        "dev",
        remote_address="10.0.0.1",
        app_name="header",
    )
    assert (context.remote_address, context.app_name) == ("1.2.3.4", "mine")


def test_the_body_context_and_its_bounds() -> None:
    context = body_context(
        {"context": {"userId": 7, "properties": {"vip": False, "gone": None}}}, "production"
    )
    assert context.user_id == "7"
    assert dict(context.properties) == {"vip": "false"}
    assert body_context({"userId": "bare"}, "dev").user_id == "bare"
    assert body_context(None, "dev").user_id is None
    too_many = {"context": {"properties": {f"p{i}": "x" for i in range(MAX_FIELDS + 1)}}}
    with pytest.raises(BadInput, match="at most 100"):
        body_context(too_many, "dev")
    with pytest.raises(BadInput, match="property 'a'"):
        body_context({"context": {"properties": {"a": [1]}}}, "dev")


def test_only_enabled_flags_are_in_the_document() -> None:
    snapshot = Snapshot.from_unleash_features(
        {
            "version": 2,
            "features": [
                {"name": "on", "enabled": True, "strategies": [], "impressionData": True},
                {"name": "off", "enabled": False, "strategies": []},
                {
                    "name": "vip-only",
                    "enabled": True,
                    "strategies": [
                        {
                            "name": "default",
                            "constraints": [
                                {"contextName": "vip", "operator": "IN", "values": ["true"]}
                            ],
                        }
                    ],
                },
            ],
        }
    )
    plain = toggles(snapshot, body_context({}, "dev"))
    assert plain == {
        "toggles": [
            {
                "name": "on",
                "enabled": True,
                "variant": {"name": "disabled", "enabled": False, "feature_enabled": True},
                "impressionData": True,
            }
        ]
    }
    vip = toggles(snapshot, body_context({"properties": {"vip": True}}, "dev"))
    assert [t["name"] for t in vip["toggles"]] == ["on", "vip-only"]
