"""A flag's strategies, constraints and variants in words (relgate.flags.describe)."""

from __future__ import annotations

from relgate.flags import describe


def _rollout(percent: str, **extra: object) -> dict[str, object]:
    return {
        "name": "flexibleRollout",
        "parameters": {"rollout": percent, "stickiness": "default", "groupId": "f"},
        "constraints": [],
        "segments": [],
        "variants": [],
        "disabled": False,
        **extra,
    }


def test_a_rollout_names_its_share_and_its_conditions() -> None:
    strategy = _rollout(
        "25",
        constraints=[
            {"contextName": "plan", "operator": "IN", "values": ["pro", "team"]},
            {"contextName": "country", "operator": "IN", "values": ["DE"], "inverted": True},
            {
                "contextName": "email",
                "operator": "STR_ENDS_WITH",
                "values": ["@x.io"],
                "caseInsensitive": True,
            },
        ],
        segments=[3],
    )
    assert describe.strategy(strategy, {3: "beta-testers"}) == (
        "25% if plan in pro, team and country not in DE and email ends with @x.io (any case) "
        "and in segment beta-testers"
    )
    assert describe.rollout([strategy]) == 25


def test_other_strategies_in_words() -> None:
    assert describe.strategy({"name": "default", "parameters": {}}) == "everyone"
    assert describe.strategy({"name": "userWithId", "parameters": {"userIds": "1, 2,3"}}) == (
        "users 1, 2, 3"
    )
    many = ",".join(str(n) for n in range(8))
    assert describe.strategy({"name": "userWithId", "parameters": {"userIds": many}}) == (
        "users 0, 1, 2, 3, 4 and 3 more"
    )
    sticky = _rollout("50", parameters={"rollout": "50", "stickiness": "sessionId"})
    assert describe.strategy(sticky) == "50% by sessionId"
    assert describe.strategy(_rollout("10", disabled=True)) == "10% (disabled)"
    assert describe.strategy({"name": "remoteAddress", "parameters": {"IPs": "10.0.0.1"}}) == (
        "addresses 10.0.0.1"
    )
    titled = _rollout("30", title="EU first")
    assert describe.strategy(titled) == "EU first: 30%"


def test_the_rollout_is_the_one_active_share() -> None:
    assert describe.rollout([]) is None
    assert describe.rollout([_rollout("100")]) == 100
    assert describe.rollout([_rollout("5", disabled=True), _rollout("40")]) == 40
    assert describe.rollout([_rollout("5"), _rollout("40")]) is None  # two: the list says it
    assert describe.rollout([{"name": "userWithId", "parameters": {"userIds": "1"}}]) is None


def test_variants_show_their_weights_in_percent() -> None:
    assert describe.variants(
        [{"name": "blue", "weight": 500}, {"name": "green", "weight": 333}]
    ) == ("blue 50%, green 33.3%")


def test_malformed_input_is_shown_not_raised() -> None:
    assert describe.strategy("nonsense") == "?"
    assert describe.strategy({"name": "flexibleRollout", "parameters": {"rollout": "x"}}) == "?%"
    assert describe.constraint({"operator": "IN", "values": "notalist"}) == "? in"
