"""get_variant: overrides, buckets, strategy variants and the disabled variant."""

from __future__ import annotations

from typing import Any

import mmh3

from relgate.flags import Context, Snapshot, Variant, get_variant


def _snapshot(*features: dict[str, Any]) -> Snapshot:
    return Snapshot.from_unleash_features({"version": 2, "features": list(features)})


def _variant_bucket(group_id: str, value: str, total: int) -> int:
    return int(mmh3.hash(f"{group_id}:{value}", 86028157, signed=False)) % total + 1


def _user_with_variant_bucket(group_id: str, total: int, low: int, high: int) -> str:
    for number in range(100_000):
        candidate = f"u{number}"
        if low <= _variant_bucket(group_id, candidate, total) <= high:
            return candidate
    raise AssertionError("no such user")


A_B = [
    {"name": "a", "weight": 300, "payload": {"type": "string", "value": "A"}},
    {"name": "b", "weight": 700, "payload": {"type": "json", "value": '{"b": 1}'}},
]


def test_variant_bucket_picks_the_first_variant_whose_cumulative_weight_reaches_it() -> None:
    snapshot = _snapshot({"name": "f", "enabled": True, "strategies": [], "variants": A_B})
    in_a = _user_with_variant_bucket("f", 1000, 1, 300)
    in_b = _user_with_variant_bucket("f", 1000, 301, 1000)
    assert get_variant(snapshot, "f", Context(user_id=in_a)) == Variant(
        "a", enabled=True, feature_enabled=True, payload={"type": "string", "value": "A"}
    )
    assert get_variant(snapshot, "f", Context(user_id=in_b)).name == "b"


def test_zero_weight_variants_are_never_drawn() -> None:
    variants = [{"name": "never", "weight": 0}, {"name": "always", "weight": 5}]
    snapshot = _snapshot({"name": "f", "enabled": True, "strategies": [], "variants": variants})
    names = {get_variant(snapshot, "f", Context(user_id=str(i))).name for i in range(200)}
    assert names == {"always"}


def test_overrides_win_over_the_bucket() -> None:
    variants = [
        {"name": "a", "weight": 1000},
        {"name": "vip", "weight": 0, "overrides": [{"contextName": "plan", "values": ["gold"]}]},
    ]
    snapshot = _snapshot({"name": "f", "enabled": True, "strategies": [], "variants": variants})
    assert get_variant(snapshot, "f", Context(properties={"plan": "gold"})).name == "vip"
    assert get_variant(snapshot, "f", Context(properties={"plan": "free"})).name == "a"


def test_variant_stickiness_reads_the_named_field() -> None:
    variants = [{**v, "stickiness": "tenantId"} for v in A_B]
    snapshot = _snapshot({"name": "f", "enabled": True, "strategies": [], "variants": variants})
    in_a = _user_with_variant_bucket("f", 1000, 1, 300)
    in_b = _user_with_variant_bucket("f", 1000, 301, 1000)
    context = Context(user_id=in_b, properties={"tenantId": in_a})
    assert get_variant(snapshot, "f", context).name == "a"


def test_default_variant_stickiness_falls_back_to_the_remote_address() -> None:
    snapshot = _snapshot({"name": "f", "enabled": True, "strategies": [], "variants": A_B})
    in_a = _user_with_variant_bucket("f", 1000, 1, 300)
    assert get_variant(snapshot, "f", Context(remote_address=in_a)).name == "a"


def test_strategy_variants_take_precedence_and_hash_with_the_strategy_group_id() -> None:
    strategy = {
        "name": "flexibleRollout",
        "parameters": {"rollout": "100", "stickiness": "default", "groupId": "grp"},
        "variants": [{"name": "s1", "weight": 1}, {"name": "s2", "weight": 1}],
    }
    snapshot = _snapshot({"name": "f", "enabled": True, "strategies": [strategy], "variants": A_B})
    first = _user_with_variant_bucket("grp", 2, 1, 1)
    second = _user_with_variant_bucket("grp", 2, 2, 2)
    assert get_variant(snapshot, "f", Context(user_id=first)).name == "s1"
    assert get_variant(snapshot, "f", Context(user_id=second)).name == "s2"


def test_matching_strategy_without_variants_falls_back_to_flag_variants() -> None:
    strategies = [
        {"name": "userWithId", "parameters": {"userIds": "1"}},
        {"name": "default", "variants": [{"name": "from-strategy", "weight": 1}]},
    ]
    snapshot = _snapshot({"name": "f", "enabled": True, "strategies": strategies, "variants": A_B})
    assert get_variant(snapshot, "f", Context(user_id="1")).name in {"a", "b"}
    assert get_variant(snapshot, "f", Context(user_id="2")).name == "from-strategy"


def test_disabled_variant_tells_whether_the_flag_is_on() -> None:
    snapshot = _snapshot(
        {"name": "on-no-variants", "enabled": True, "strategies": []},
        {"name": "off", "enabled": False, "strategies": [], "variants": A_B},
    )
    on = get_variant(snapshot, "on-no-variants", Context())
    off = get_variant(snapshot, "off", Context())
    missing = get_variant(snapshot, "missing", Context())
    assert on.to_unleash_dict() == {"name": "disabled", "enabled": False, "feature_enabled": True}
    assert off.to_unleash_dict() == {"name": "disabled", "enabled": False, "feature_enabled": False}
    assert missing == off


def test_payload_types_are_kept_as_strings() -> None:
    variants = [
        {"name": "n", "weight": 1, "payload": {"type": "number", "value": 1.5}},
    ]
    snapshot = _snapshot({"name": "f", "enabled": True, "strategies": [], "variants": variants})
    assert get_variant(snapshot, "f", Context()).payload == {"type": "number", "value": "1.5"}


def test_returned_payload_is_a_copy_that_cannot_change_the_snapshot() -> None:
    snapshot = _snapshot({"name": "f", "enabled": True, "strategies": [], "variants": A_B[:1]})
    payload = get_variant(snapshot, "f", Context()).payload
    assert payload is not None
    payload["value"] = "changed"
    assert get_variant(snapshot, "f", Context()).payload == {"type": "string", "value": "A"}


def test_strategy_variants_use_the_strategy_stickiness_over_their_own() -> None:
    strategy = {
        "name": "flexibleRollout",
        "parameters": {"rollout": "100", "stickiness": "tenantId", "groupId": "grp"},
        "variants": [
            {"name": "s1", "weight": 1, "stickiness": "default"},
            {"name": "s2", "weight": 1, "stickiness": "default"},
        ],
    }
    snapshot = _snapshot({"name": "f", "enabled": True, "strategies": [strategy]})
    first = _user_with_variant_bucket("grp", 2, 1, 1)
    second = _user_with_variant_bucket("grp", 2, 2, 2)
    context = Context(user_id=second, properties={"tenantId": first})
    assert get_variant(snapshot, "f", context).name == "s1"


def test_strategy_variants_with_no_weight_fall_back_to_flag_variants() -> None:
    strategy = {"name": "default", "variants": [{"name": "s0", "weight": 0}]}
    snapshot = _snapshot(
        {"name": "f", "enabled": True, "strategies": [strategy], "variants": A_B[:1]}
    )
    assert get_variant(snapshot, "f", Context(user_id="1")).name == "a"
