"""The share a flag's strategies give its "on" path, and the caveats said beside it (pure)."""

from __future__ import annotations

from relgate.routing.flag import _share


def rollout(percent: str, stickiness: str = "userId", **more: object) -> dict[str, object]:
    return {
        "name": "flexibleRollout",
        "parameters": {"rollout": percent, "stickiness": stickiness, "groupId": "f"},
        **more,
    }


def test_an_enabled_flag_without_strategies_is_on_for_everyone() -> None:
    assert _share([], "userId") == (100, [])


def test_an_unconstrained_default_strategy_is_everyone() -> None:
    assert _share([rollout("10"), {"name": "default"}], "userId") == (100, [])


def test_a_disabled_strategy_counts_for_nothing() -> None:
    assert _share([rollout("80", disabled=True), rollout("20")], "userId") == (20, [])


def test_two_rollouts_show_the_larger_and_say_so() -> None:
    share, notes = _share([rollout("20"), rollout("35")], "userId")

    assert share == 35
    assert notes == ["2 rollout strategies: the share shown is the largest"]


def test_a_strategy_no_share_tells_and_a_malformed_percentage_are_noted_or_zero() -> None:
    share, notes = _share(
        [{"name": "userWithId", "parameters": {"userIds": "a,b"}}, rollout("lots")], "userId"
    )

    assert share == 0
    assert notes == ["strategy 0 (userWithId) turns the flag on for users no share tells"]
