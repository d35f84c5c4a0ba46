"""RouteState's shares and live colour, and the weight and mode checks of the port."""

from __future__ import annotations

import pytest

from relgate.errors import BadInput
from relgate.routing.ports import (
    Colour,
    RouteState,
    RoutingMode,
    Target,
    TargetState,
    check_weight,
    require_mode,
)


def state(*targets: TargetState, notes: tuple[str, ...] = ()) -> RouteState:
    return RouteState(router="test router", targets=targets, notes=notes)


def test_shares_come_from_the_weights_of_the_serving_targets_only() -> None:
    split = state(
        TargetState(Target.STABLE, "stable", 75, True),
        TargetState(Target.CANARY, "canary", 25, True),
        TargetState(None, "old", 50, False, "drain"),
    )

    assert (split.share(Target.STABLE), split.canary_share) == (75.0, 25.0)
    assert split.share(Target.BLUE) == 0.0
    assert split.live is None


def test_a_server_relgate_does_not_manage_takes_its_share() -> None:
    shared = state(
        TargetState(Target.STABLE, "stable", 50, True),
        TargetState(Target.CANARY, "canary", 25, True),
        TargetState(None, "legacy", 25, True),
    )

    assert (shared.share(Target.STABLE), shared.canary_share) == (50.0, 25.0)


def test_the_live_colour_is_the_one_with_every_request() -> None:
    green = state(
        TargetState(Target.BLUE, "blue", 0, False, "up, drain"),
        TargetState(Target.GREEN, "green", 100, True, "up"),
    )
    split = state(
        TargetState(Target.BLUE, "blue", 1, True), TargetState(Target.GREEN, "green", 1, True)
    )

    assert green.live is Colour.GREEN
    assert split.live is None
    assert Colour.GREEN.other is Colour.BLUE
    assert Colour.BLUE.target is Target.BLUE


def test_nothing_serving_is_no_share_for_anyone() -> None:
    dark = state(
        TargetState(Target.STABLE, "stable", 100, False, "down"),
        TargetState(Target.CANARY, "canary", 0, False, "maintenance"),
    )

    assert (dark.share(Target.STABLE), dark.canary_share, dark.live) == (0.0, 0.0, None)


def test_describe_is_one_line_with_each_target_and_the_notes() -> None:
    text = state(
        TargetState(Target.STABLE, "stable", 100, True, "up"),
        TargetState(Target.CANARY, "canary", 0, False, "maintenance"),
        notes=("server x is down",),
    ).describe()

    assert text == (
        "test router: stable stable: weight 100 (up); canary canary: weight 0 "
        "(maintenance), not serving; server x is down"
    )


@pytest.mark.parametrize("weight", [0, 1, 50, 100])
def test_a_whole_percentage_is_a_weight(weight: int) -> None:
    assert check_weight(weight) == weight


@pytest.mark.parametrize("weight", [-1, 101, 2.5, True, "5", None])
def test_anything_else_is_refused_naming_it(weight: object) -> None:
    with pytest.raises(BadInput, match=f"canary weight: {weight!r} is not a whole percentage"):
        check_weight(weight)


def test_an_operation_of_the_other_mode_is_refused_naming_the_router() -> None:
    require_mode(RoutingMode.CANARY, RoutingMode.CANARY, "set a canary weight", "r")
    with pytest.raises(
        BadInput,
        match=r"^r is configured for blue_green routing \(blue and green targets\): "
        "it cannot set a canary weight$",
    ):
        require_mode(RoutingMode.BLUE_GREEN, RoutingMode.CANARY, "set a canary weight", "r")
