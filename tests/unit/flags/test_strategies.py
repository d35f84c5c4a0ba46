"""Strategies, stickiness, group ids, segments and dependent flags."""

from __future__ import annotations

from typing import Any

import mmh3
import pytest

from relgate.flags import Context, Snapshot, is_enabled


def _snapshot(*features: dict[str, Any], segments: list[dict[str, Any]] | None = None) -> Snapshot:
    return Snapshot.from_unleash_features(
        {"version": 2, "features": list(features), "segments": segments or []}
    )


def _flag(name: str = "f", *strategies: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": name, "enabled": True, "strategies": list(strategies), **fields}


def _rollout(percent: int, **parameters: str) -> dict[str, Any]:
    return {"name": "flexibleRollout", "parameters": {"rollout": str(percent), **parameters}}


def _bucket(group_id: str, value: str) -> int:
    # the documented Unleash formula, computed independently of relgate
    return int(mmh3.hash(f"{group_id}:{value}", 0, signed=False)) % 100 + 1


def _user_in_bucket(group_id: str, low: int, high: int, avoid: str | None = None) -> str:
    for number in range(100_000):
        candidate = f"user-{number}"
        if low <= _bucket(group_id, candidate) <= high and (
            avoid is None or _bucket(avoid, candidate) > high
        ):
            return candidate
    raise AssertionError("no such user")


def test_flag_without_strategies_follows_its_enabled_switch() -> None:
    snapshot = _snapshot(_flag("on"), {"name": "off", "enabled": False, "strategies": []})
    assert is_enabled(snapshot, "on", Context()) is True
    assert is_enabled(snapshot, "off", Context()) is False


def test_unknown_flag_gives_the_callers_default() -> None:
    snapshot = _snapshot()
    assert is_enabled(snapshot, "missing", Context()) is False
    assert is_enabled(snapshot, "missing", Context(), default=True) is True


def test_disabled_flag_is_off_whatever_its_strategies() -> None:
    snapshot = _snapshot({"name": "f", "enabled": False, "strategies": [{"name": "default"}]})
    assert is_enabled(snapshot, "f", Context(user_id="1")) is False


def test_unknown_strategy_is_off_but_a_later_strategy_can_match() -> None:
    snapshot = _snapshot(
        _flag("only-custom", {"name": "myCustomStrategy", "parameters": {}}),
        _flag("custom-then-default", {"name": "myCustomStrategy"}, {"name": "default"}),
    )
    assert is_enabled(snapshot, "only-custom", Context()) is False
    assert is_enabled(snapshot, "custom-then-default", Context()) is True


def test_user_with_id_matches_listed_ids_only() -> None:
    snapshot = _snapshot(_flag("f", {"name": "userWithId", "parameters": {"userIds": "a, b ,c"}}))
    assert is_enabled(snapshot, "f", Context(user_id="b")) is True
    assert is_enabled(snapshot, "f", Context(user_id="d")) is False
    assert is_enabled(snapshot, "f", Context()) is False


def test_rollout_bucket_is_murmur3_of_group_id_and_user_id() -> None:
    inside = _user_in_bucket("checkout", 1, 30)
    outside = _user_in_bucket("checkout", 31, 100)
    snapshot = _snapshot(_flag("f", _rollout(30, stickiness="userId", groupId="checkout")))
    assert is_enabled(snapshot, "f", Context(user_id=inside)) is True
    assert is_enabled(snapshot, "f", Context(user_id=outside)) is False


def test_rollout_group_id_defaults_to_the_flag_name() -> None:
    # in the rollout when hashed with the flag name, out of it with "other"
    user = _user_in_bucket("new-checkout", 1, 50, avoid="other")
    snapshot = _snapshot(
        _flag("new-checkout", _rollout(50, stickiness="userId")),
        _flag("with-group", _rollout(50, stickiness="userId", groupId="other")),
    )
    assert is_enabled(snapshot, "new-checkout", Context(user_id=user)) is True
    assert is_enabled(snapshot, "with-group", Context(user_id=user)) is False


def test_default_stickiness_uses_user_id_before_session_id() -> None:
    user = _user_in_bucket("g", 1, 50)
    session = _user_in_bucket("g", 51, 100)
    snapshot = _snapshot(_flag("f", _rollout(50, stickiness="default", groupId="g")))
    assert is_enabled(snapshot, "f", Context(user_id=user, session_id=session)) is True
    assert is_enabled(snapshot, "f", Context(user_id=session, session_id=user)) is False
    assert is_enabled(snapshot, "f", Context(session_id=user)) is True
    assert is_enabled(snapshot, "f", Context(session_id=session)) is False


def test_default_stickiness_without_ids_falls_back_to_random() -> None:
    snapshot = _snapshot(
        _flag("all", _rollout(100, groupId="g")), _flag("none", _rollout(0, groupId="g"))
    )
    assert is_enabled(snapshot, "all", Context()) is True
    assert is_enabled(snapshot, "none", Context()) is False


def test_custom_stickiness_field_that_is_missing_means_off() -> None:
    tenant = _user_in_bucket("g", 1, 100)
    snapshot = _snapshot(_flag("f", _rollout(100, stickiness="tenantId", groupId="g")))
    assert is_enabled(snapshot, "f", Context(properties={"tenantId": tenant})) is True
    assert is_enabled(snapshot, "f", Context(user_id="1", session_id="2")) is False


def test_session_id_stickiness_ignores_the_user_id() -> None:
    session = _user_in_bucket("g", 1, 40)
    snapshot = _snapshot(_flag("f", _rollout(40, stickiness="sessionId", groupId="g")))
    assert is_enabled(snapshot, "f", Context(session_id=session)) is True
    assert is_enabled(snapshot, "f", Context(user_id=session)) is False


@pytest.mark.parametrize("rollout", ["half", "50.5", " 100", "101", "-1", ""])
def test_rollout_that_is_not_a_whole_percentage_is_off(rollout: str) -> None:
    strategy = {"name": "flexibleRollout", "parameters": {"rollout": rollout, "groupId": "g"}}
    snapshot = _snapshot(_flag("f", strategy))
    assert is_enabled(snapshot, "f", Context(user_id="1")) is False


def test_legacy_gradual_rollout_without_group_id_is_off() -> None:
    strategy = {"name": "gradualRolloutUserId", "parameters": {"percentage": "100"}}
    snapshot = _snapshot(_flag("f", strategy))
    assert is_enabled(snapshot, "f", Context(user_id="1")) is False


def test_legacy_gradual_rollout_user_id_uses_the_same_bucket() -> None:
    inside = _user_in_bucket("AB", 1, 25)
    outside = _user_in_bucket("AB", 26, 100)
    strategy = {"name": "gradualRolloutUserId", "parameters": {"percentage": "25", "groupId": "AB"}}
    snapshot = _snapshot(_flag("f", strategy))
    assert is_enabled(snapshot, "f", Context(user_id=inside)) is True
    assert is_enabled(snapshot, "f", Context(user_id=outside)) is False
    assert is_enabled(snapshot, "f", Context()) is False


def test_remote_address_strategy_accepts_ips_and_cidr_ranges_of_both_versions() -> None:
    strategy = {
        "name": "remoteAddress",
        "parameters": {"IPs": "127.0.0.1, 10.1.0.0/16, 2001:db8::/32, bogus"},
    }
    snapshot = _snapshot(_flag("f", strategy))
    assert is_enabled(snapshot, "f", Context(remote_address="127.0.0.1")) is True
    assert is_enabled(snapshot, "f", Context(remote_address="10.1.200.3")) is True
    assert is_enabled(snapshot, "f", Context(remote_address="2001:db8::42")) is True
    assert is_enabled(snapshot, "f", Context(remote_address="10.2.0.1")) is False
    assert is_enabled(snapshot, "f", Context()) is False


def test_application_hostname_compares_the_hostname_property_ignoring_case() -> None:
    strategy = {"name": "applicationHostname", "parameters": {"hostNames": "web-1,Web-2"}}
    snapshot = _snapshot(_flag("f", strategy))
    assert is_enabled(snapshot, "f", Context(properties={"hostname": "WEB-2"})) is True
    assert is_enabled(snapshot, "f", Context(properties={"hostname": "web-3"})) is False
    assert is_enabled(snapshot, "f", Context()) is False


def test_segment_constraints_add_to_the_strategy_constraints() -> None:
    segments = [
        {"id": 1, "constraints": [{"contextName": "plan", "operator": "IN", "values": ["pro"]}]}
    ]
    strategy = {
        "name": "default",
        "constraints": [{"contextName": "environment", "operator": "IN", "values": ["prod"]}],
        "segments": [1],
    }
    snapshot = _snapshot(_flag("f", strategy), segments=segments)
    assert is_enabled(snapshot, "f", Context(environment="prod", properties={"plan": "pro"}))
    assert not is_enabled(snapshot, "f", Context(environment="prod", properties={"plan": "free"}))
    assert not is_enabled(snapshot, "f", Context(environment="dev", properties={"plan": "pro"}))


def test_strategy_referencing_a_missing_segment_never_matches() -> None:
    snapshot = _snapshot(_flag("f", {"name": "default", "segments": [404]}))
    assert is_enabled(snapshot, "f", Context()) is False


def test_child_flag_is_on_only_when_its_parent_is_on() -> None:
    parent_on = {"name": "userWithId", "parameters": {"userIds": "1"}}
    snapshot = _snapshot(
        _flag("parent", parent_on),
        _flag("child", {"name": "default"}, dependencies=[{"feature": "parent"}]),
    )
    assert is_enabled(snapshot, "child", Context(user_id="1")) is True
    assert is_enabled(snapshot, "child", Context(user_id="2")) is False


def test_child_flag_can_require_its_parent_to_be_off() -> None:
    snapshot = _snapshot(
        _flag("parent", {"name": "userWithId", "parameters": {"userIds": "1"}}),
        _flag(
            "child",
            {"name": "default"},
            dependencies=[{"feature": "parent", "enabled": False}],
        ),
    )
    assert is_enabled(snapshot, "child", Context(user_id="1")) is False
    assert is_enabled(snapshot, "child", Context(user_id="2")) is True


def test_child_flag_can_require_given_parent_variants() -> None:
    parent = _flag(
        "parent",
        {"name": "default"},
        variants=[
            {
                "name": "blue",
                "weight": 1,
                "overrides": [{"contextName": "userId", "values": ["1"]}],
            },
            {"name": "red", "weight": 0},
        ],
    )
    snapshot = _snapshot(
        parent,
        _flag(
            "child", {"name": "default"}, dependencies=[{"feature": "parent", "variants": ["blue"]}]
        ),
        _flag(
            "red-child",
            {"name": "default"},
            dependencies=[{"feature": "parent", "variants": ["red"]}],
        ),
    )
    assert is_enabled(snapshot, "child", Context(user_id="1")) is True
    assert is_enabled(snapshot, "red-child", Context(user_id="1")) is False


def test_dependencies_are_one_level_deep() -> None:
    snapshot = _snapshot(
        _flag("grandparent"),
        _flag("parent", dependencies=[{"feature": "grandparent"}]),
        _flag("child", dependencies=[{"feature": "parent"}]),
        _flag("orphan", dependencies=[{"feature": "missing"}]),
    )
    assert is_enabled(snapshot, "parent", Context()) is True
    assert is_enabled(snapshot, "child", Context()) is False
    assert is_enabled(snapshot, "orphan", Context()) is False
