"""Compiling snapshots and contexts: shapes that are refused, deltas, immutability."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from relgate.errors import BadInput, InvalidFlagContext, InvalidFlagDefinition
from relgate.flags import Context, Snapshot, is_enabled


def test_context_from_dict_reads_unleash_camel_case_keys() -> None:
    context = Context.from_dict(
        {
            "userId": "u1",
            "sessionId": "s1",
            "remoteAddress": "10.0.0.1",
            "environment": "prod",
            "appName": "web",
            "currentTime": "2026-01-29T13:00:00.000Z",
            "properties": {"plan": "pro", "seats": 12, "beta": True, "gone": None},
            "tenant": "acme",
        }
    )
    assert context.user_id == "u1"
    assert context.session_id == "s1"
    assert context.remote_address == "10.0.0.1"
    assert context.environment == "prod"
    assert context.app_name == "web"
    assert context.current_time == datetime(2026, 1, 29, 13, tzinfo=UTC)
    assert dict(context.properties) == {
        "plan": "pro",
        "seats": "12",
        "beta": "true",
        "tenant": "acme",
    }


def test_context_is_immutable() -> None:
    context = Context(user_id="1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.user_id = "2"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"currentTime": "yesterday"}, "context.currentTime: 'yesterday'"),
        ({"properties": ["a"]}, "context.properties: expected an object"),
    ],
)
def test_context_from_dict_refuses_bad_fields_by_name(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidFlagContext, match=message) as raised:
        Context.from_dict(data)
    assert isinstance(raised.value, BadInput)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "features document: expected an object"),
        ({"features": {}}, "features: expected a list"),
        ({"features": [{"enabled": True}]}, r"features\[0\]\.name: required"),
        (
            {"features": [{"name": "f", "strategies": [{"parameters": {}}]}]},
            r"features\[0\] \(f\)\.strategies\[0\]\.name: required",
        ),
        (
            {"features": [{"name": "f", "strategies": [{"name": "default", "constraints": [{}]}]}]},
            r"features\[0\] \(f\)\.strategies\[0\]\.constraints\[0\]\.contextName",
        ),
        (
            {"features": [{"name": "f", "variants": [{"name": "a", "weight": "x"}]}]},
            r"features\[0\] \(f\)\.variants\[0\]\.weight",
        ),
        ({"features": [], "segments": [{"id": "one"}]}, r"segments\[0\]\.id: required"),
    ],
)
def test_malformed_documents_are_refused_naming_the_path(payload: Any, message: str) -> None:
    with pytest.raises(InvalidFlagDefinition, match=message):
        Snapshot.from_unleash_features(payload)


def test_snapshot_lists_its_flags() -> None:
    snapshot = Snapshot.from_unleash_features(
        {"features": [{"name": "a", "enabled": True}, {"name": "b", "enabled": False}]}
    )
    assert snapshot.names == frozenset({"a", "b"})
    assert len(snapshot) == 2
    flag = snapshot.flag("b")
    assert flag is not None
    assert flag.enabled is False
    assert snapshot.flag("c") is None


def test_changing_the_source_document_does_not_change_a_compiled_snapshot() -> None:
    feature: dict[str, Any] = {"name": "f", "enabled": True, "strategies": []}
    snapshot = Snapshot.from_unleash_features({"features": [feature]})
    feature["enabled"] = False
    assert is_enabled(snapshot, "f", Context()) is True


def test_delta_events_update_remove_and_add_flags_and_segments() -> None:
    base = Snapshot.from_unleash_features(
        {"features": [{"name": "old", "enabled": True}, {"name": "kept", "enabled": True}]}
    )
    delta = {
        "events": [
            {"eventId": 1, "type": "feature-removed", "featureName": "old"},
            {
                "eventId": 2,
                "type": "segment-updated",
                "segment": {
                    "id": 7,
                    "constraints": [
                        {"contextName": "appName", "operator": "IN", "values": ["web"]}
                    ],
                },
            },
            {
                "eventId": 3,
                "type": "feature-updated",
                "feature": {
                    "name": "new",
                    "enabled": True,
                    "strategies": [{"name": "default", "segments": [7]}],
                },
            },
        ]
    }
    updated = base.apply_unleash_delta(delta)
    assert updated.names == frozenset({"kept", "new"})
    assert is_enabled(updated, "new", Context(app_name="web")) is True
    assert is_enabled(updated, "new", Context(app_name="api")) is False
    assert base.names == frozenset({"old", "kept"})


def test_hydration_event_replaces_everything() -> None:
    base = Snapshot.from_unleash_features({"features": [{"name": "old", "enabled": True}]})
    updated = base.apply_unleash_delta(
        {"events": [{"type": "hydration", "features": [{"name": "fresh"}], "segments": []}]}
    )
    assert updated.names == frozenset({"fresh"})
