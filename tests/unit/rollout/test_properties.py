"""Any sequence of operations: an abort leaves no traffic on the new release, and the
stable anchor never moves before the full promotion."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relgate.analysis.model import Verdict
from relgate.errors import Conflict
from relgate.rollout.commands import AllToStable, RouterCommand, SetCanaryWeight, SwitchTo
from relgate.rollout.config import CanarySpec
from relgate.rollout.model import Rollout
from relgate.rollout.states import RolloutState
from relgate.routing.ports import Colour
from tests.unit.rollout.helpers import T0, Traffic, blue_green, canary, result

ROLLOUTS: list[Callable[[], Rollout]] = [
    canary,
    lambda: canary(analysis=False),
    lambda: canary("- {weight: 10, pause: manual}\n- {weight: 90, pause: 1m}\n"),
    lambda: canary(on="on: {fail: pause, nodata: abort, inconclusive: continue, pass: pause}\n"),
    blue_green,
    lambda: blue_green(pre=False),
    lambda: blue_green(post=False, auto_promote=False),
    lambda: blue_green(pre=False, post=False, delay="1m"),
]

OPERATION = st.one_of(
    st.tuples(st.just("start")),
    st.tuples(st.just("elapse"), st.integers(0, 20)),
    st.tuples(st.just("analysis"), st.sampled_from(list(Verdict)), st.booleans()),
    st.tuples(st.just("pause")),
    st.tuples(st.just("resume")),
    st.tuples(st.just("promote")),
    st.tuples(st.just("abort")),
    st.tuples(st.just("complete")),
)


def apply(rollout: Rollout, operation: tuple[object, ...], minute: int) -> list[RouterCommand]:
    now = T0 + timedelta(minutes=minute)
    kind = operation[0]
    if kind == "start":
        return rollout.start(now)
    if kind == "elapse":
        return rollout.step_elapsed(now)
    if kind == "analysis":
        verdict, stale = operation[1], operation[2]
        attempt = rollout.analysis_attempt - 1 if stale else None
        return rollout.analysis_finished(result(verdict), now, attempt)  # type: ignore[arg-type]
    if kind == "pause":
        return rollout.pause("alice", "checking", now)
    if kind == "resume":
        return rollout.resume("alice", now)
    if kind == "promote":
        return rollout.promote_fully("alice", now)
    if kind == "abort":
        return rollout.abort("alice", "stop", now)
    return rollout.complete(now)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, len(ROLLOUTS) - 1),
    operations=st.lists(OPERATION, max_size=30),
    steps=st.lists(st.integers(0, 6), min_size=30, max_size=30),
)
def test_no_sequence_leaves_traffic_on_the_new_release_after_an_abort_or_moves_stable_early(
    which: int, operations: list[tuple[object, ...]], steps: list[int]
) -> None:
    rollout, traffic = ROLLOUTS[which](), Traffic()
    canary_strategy = isinstance(rollout.spec, CanarySpec)
    minute = 0
    full_traffic_seen = False  # the canary at 100 %, or the new colour switched to
    aborted = False
    for operation, step in zip(operations, steps, strict=False):
        minute += step
        before = rollout.to_dict()
        try:
            commands = apply(rollout, operation, minute)
        except Conflict:
            assert rollout.to_dict() == before, f"a refused {operation[0]} changed the rollout"
            continue
        traffic.run(commands)
        full_traffic_seen |= SetCanaryWeight(100) in commands
        full_traffic_seen |= bool(rollout.new_colour) and SwitchTo(rollout.new_colour) in commands  # type: ignore[arg-type]

        if rollout.state in (RolloutState.ABORTED, RolloutState.REVERTED):
            if not aborted:
                # the abort's first command sends everything back to stable
                expected = AllToStable() if canary_strategy else SwitchTo(Colour.BLUE)
                assert commands[:1] == [expected]
            aborted = True
        if aborted:
            assert traffic.canary_weight == 0 and traffic.live is Colour.BLUE
            assert rollout.finished and not rollout.moves_stable

        if rollout.moves_stable:
            assert full_traffic_seen and not aborted
            assert rollout.state in (RolloutState.PROMOTED, RolloutState.FINISHED)
        else:
            assert not any(e.moves_stable for e in rollout.events)

        # the model's idea of the traffic is what the commands did
        if canary_strategy:
            assert traffic.canary_weight == rollout.canary_weight
        else:
            assert traffic.live is rollout.live
        # and it survives a save at every point
        again = Rollout.from_dict(json.loads(json.dumps(rollout.to_dict())))
        assert again == rollout
