"""The rollout: block validated as relgate.yaml is: errors name the line and the field."""

from __future__ import annotations

import pytest

from relgate.errors import InvalidConfig
from relgate.rollout.config import (
    AllAtOnceSpec,
    BlueGreenSpec,
    CanarySpec,
    dump_rollout,
    parse_rollout,
)
from tests.unit.rollout.helpers import (
    BLUE_GREEN_ROUTER,
    CANARY_ROUTER,
    STEPS,
    blue_green_yaml,
    canary_yaml,
    indent,
    load,
)


def error(text: str) -> str:
    with pytest.raises(InvalidConfig) as caught:
        load(text)
    return str(caught.value)


def test_all_at_once_is_the_strategy_when_none_is_named() -> None:
    assert isinstance(load("rollout: {}\n").rollout, AllAtOnceSpec)
    assert isinstance(load("rollout: {strategy: all_at_once}\n").rollout, AllAtOnceSpec)


def test_a_canary_reads_its_steps_durations_analysis_and_router() -> None:
    spec = load(canary_yaml(STEPS + "- {weight: 75, pause: manual}\n")).rollout
    assert isinstance(spec, CanarySpec)
    assert [(s.weight, s.pause) for s in spec.steps] == [
        (5, 120.0),
        (25, 300.0),
        (50, 300.0),
        (75, "manual"),
    ]
    assert [s.manual for s in spec.steps] == [False, False, False, True]
    assert spec.analysis is not None and spec.analysis.interval == 30.0
    assert spec.router.type == "haproxy"


def test_a_blue_green_reads_its_defaults() -> None:
    spec = load("rollout:\n  strategy: blue_green\n" + indent(BLUE_GREEN_ROUTER, 2)).rollout
    assert isinstance(spec, BlueGreenSpec)
    assert (spec.scale_down_delay, spec.auto_promote) == (600.0, True)
    assert spec.pre_promotion_analysis is None and spec.post_promotion_analysis is None
    full = load(blue_green_yaml(delay="1m30s", auto_promote=False)).rollout
    assert isinstance(full, BlueGreenSpec) and full.scale_down_delay == 90.0
    assert not full.auto_promote and full.post_promotion_analysis is not None


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            "- {weight: 25, pause: 1m}\n- {weight: 25, pause: 1m}\n",
            "relgate.yaml:4: rollout.steps: steps[1].weight 25 is not more than steps[0].weight 25",
        ),
        (
            "- {weight: 100, pause: 1m}\n",
            "relgate.yaml:4: rollout.steps[0].weight: must be less than or equal to 99",
        ),
        ("- {weight: 0, pause: 1m}\n", "rollout.steps[0].weight:"),
        ("- {weight: 5, pause: {}}\n", "rollout.steps[0].pause: write `pause: manual`"),
        ("- {weight: 5, pause: soon}\n", "rollout.steps[0].pause: 'soon' is not a duration"),
        ("- {weight: 5, pause: 0s}\n", "rollout.steps[0].pause: must be longer than zero"),
        ("- {weight: 5}\n", "relgate.yaml:4: rollout.steps[0].pause: required, but missing"),
        ("- {weight: 5, pause: 1m, wait: 2}\n", "rollout.steps[0].wait: unknown key (a typo?)"),
    ],
)
def test_bad_steps_are_refused_naming_the_field(steps: str, expected: str) -> None:
    assert expected in error(canary_yaml(steps, analysis=False))


def test_a_canary_needs_steps_and_a_router() -> None:
    assert "rollout.steps: required, but missing" in error(
        "rollout:\n  strategy: canary\n" + indent(CANARY_ROUTER, 2)
    )
    assert "rollout.steps:" in error(
        "rollout:\n  strategy: canary\n  steps: []\n" + indent(CANARY_ROUTER, 2)
    )
    assert "rollout.router: required, but missing" in error(
        "rollout:\n  strategy: canary\n  steps:\n" + indent(STEPS, 4)
    )


def test_the_router_must_be_of_the_strategys_mode() -> None:
    message = error(
        "rollout:\n  strategy: canary\n  steps:\n" + indent(STEPS, 4) + indent(BLUE_GREEN_ROUTER, 2)
    )
    assert (
        "relgate.yaml:7: rollout.router: a canary needs a router in canary mode "
        "(stable_* and canary_* names)" in message
    )
    message = error("rollout:\n  strategy: blue_green\n" + indent(CANARY_ROUTER, 2))
    assert "rollout.router: a blue-green needs a router in blue_green mode" in message


def test_a_flag_router_serves_a_canary_but_not_a_blue_green() -> None:
    flag = "  router: {type: flag, flag: new-checkout}\n"
    spec = load("rollout:\n  strategy: canary\n  steps:\n" + indent(STEPS, 4) + flag).rollout
    assert isinstance(spec, CanarySpec) and spec.router.type == "flag"
    assert (
        "rollout.router: a blue-green needs a router in blue_green mode (blue_* and green_* "
        "names); this flag router is configured for canary routing"
    ) in error("rollout:\n  strategy: blue_green\n" + flag)


def test_a_kubernetes_router_serves_a_blue_green() -> None:
    router = (
        "  router: {type: kubernetes, route: shop, blue_service: shop-blue, "
        "green_service: shop-green}\n"
    )
    spec = load("rollout:\n  strategy: blue_green\n" + router).rollout
    assert isinstance(spec, BlueGreenSpec) and spec.router.type == "kubernetes"


def test_errors_inside_the_analysis_and_the_router_name_their_field() -> None:
    text = canary_yaml(STEPS).replace("count: 4", "count: 0")
    assert "rollout.analysis.count:" in error(text)
    text = canary_yaml(STEPS).replace("backend: shop", "backend: 'shop;help'")
    assert "rollout.router.backend: 'shop;help' is not an HAProxy backend name" in error(text)


def test_unknown_strategies_keys_and_delays_are_refused() -> None:
    assert (
        "relgate.yaml:1: rollout: strategy must be one of: all_at_once, canary, blue_green"
        in error("rollout: {strategy: linear}\n")
    )
    assert "rollout.steps: unknown key (a typo?)" in error(
        "rollout: {strategy: all_at_once, steps: []}\n"
    )
    assert "rollout.scale_down_delay: must be at most a week" in error(blue_green_yaml(delay="8d"))
    assert "rollout.auto_promote:" in error(
        blue_green_yaml().replace("auto_promote: true", "auto_promote: sometimes")
    )


@pytest.mark.parametrize(
    "text",
    [canary_yaml(STEPS + "- {weight: 75, pause: manual}\n"), blue_green_yaml(), "rollout: {}\n"],
)
def test_a_dumped_spec_reads_back_equal(text: str) -> None:
    spec = load(text).rollout
    assert parse_rollout(dump_rollout(spec)) == spec


def test_all_at_once_has_no_rollout_object() -> None:
    from relgate.errors import BadInput
    from relgate.rollout.model import Rollout
    from tests.unit.rollout.helpers import T0

    with pytest.raises(BadInput, match="strategy all_at_once has no rollout"):
        Rollout.create(
            AllAtOnceSpec(),  # type: ignore[arg-type]
            service="shop",
            environment="production",
            stable_version="1.0.0",
            canary_version="1.1.0",
            now=T0,
        )
