"""A blue-green rollout: preview, switch, the old colour kept for the revert, finish."""

from __future__ import annotations

import pytest

from relgate.analysis.model import Verdict
from relgate.errors import Conflict
from relgate.rollout.commands import RolloutEventType, ScaleDownOld, SwitchTo
from relgate.rollout.states import AnalysisPhase, PausedBy, RolloutState
from relgate.routing.ports import Colour
from tests.unit.rollout.helpers import Traffic, blue_green, minutes, result


def test_preview_switch_then_revert_within_the_scale_down_delay() -> None:
    rollout, traffic = blue_green(), Traffic()
    assert rollout.start(minutes(0)) == []  # the new release already runs on green
    assert rollout.state is RolloutState.PREVIEWING and rollout.new_colour is Colour.GREEN
    request = rollout.analysis_request
    assert request is not None and request.phase is AnalysisPhase.PRE_PROMOTION

    traffic.run(rollout.analysis_finished(result(Verdict.PASS), minutes(3)))
    assert traffic.live is Colour.GREEN and rollout.live is Colour.GREEN
    assert rollout.state is RolloutState.SWITCHED and rollout.scale_down_at == minutes(13)
    request = rollout.analysis_request
    assert request is not None and request.phase is AnalysisPhase.POST_PROMOTION

    # the post-promotion analysis fails 4 minutes later: blue is still up, back to it at once
    commands = rollout.analysis_finished(result(Verdict.FAIL, "5xx on green"), minutes(7))
    assert commands == [SwitchTo(Colour.BLUE)]
    traffic.run(commands)
    assert traffic.live is Colour.BLUE and traffic.scaled_down == []
    assert (
        rollout.state is RolloutState.REVERTED and rollout.outcome == "analysis fail: 5xx on green"
    )
    assert not rollout.moves_stable
    assert rollout.step_elapsed(minutes(20)) == []  # the scale-down never comes


def test_a_person_reverts_a_switch_before_the_old_colour_is_scaled_down() -> None:
    rollout = blue_green(pre=False, post=False)
    assert rollout.start(minutes(0)) == [SwitchTo(Colour.GREEN)]
    assert rollout.wake_at == minutes(10)
    assert rollout.step_elapsed(minutes(9)) == []
    assert rollout.abort("alice", "conversion dropped", minutes(9)) == [SwitchTo(Colour.BLUE)]
    assert rollout.state is RolloutState.REVERTED
    assert [e.actor for e in rollout.events if e.type is RolloutEventType.REVERTED] == ["alice"]


def test_the_old_colour_is_scaled_down_after_the_delay_and_only_then_stable_moves() -> None:
    rollout, traffic = blue_green(pre=False), Traffic()
    traffic.run(rollout.start(minutes(0)))
    assert rollout.wake_at is None  # the post-promotion analysis runs first
    traffic.run(rollout.analysis_finished(result(Verdict.PASS), minutes(5)))
    assert rollout.state is RolloutState.SWITCHED and not rollout.moves_stable
    assert rollout.wake_at == minutes(10)

    commands = rollout.step_elapsed(minutes(10))
    assert commands == [ScaleDownOld(Colour.BLUE, minutes(10))]
    traffic.run(commands)
    assert rollout.state is RolloutState.FINISHED and rollout.moves_stable
    assert [e.type for e in rollout.events if e.moves_stable] == [RolloutEventType.SCALED_DOWN]
    with pytest.raises(Conflict, match=r"cannot abort .*: it is finished"):
        rollout.abort("alice", "", minutes(11))


def test_a_post_analysis_longer_than_the_delay_finishes_when_it_passes() -> None:
    rollout = blue_green(pre=False, delay="1m")
    rollout.start(minutes(0))
    assert rollout.step_elapsed(minutes(5)) == []  # blue stays while the analysis runs
    assert rollout.analysis_finished(result(Verdict.PASS), minutes(6)) == [
        ScaleDownOld(Colour.BLUE, minutes(1))
    ]
    assert rollout.state is RolloutState.FINISHED


def test_a_failing_pre_promotion_analysis_aborts_without_ever_switching() -> None:
    rollout = blue_green()
    rollout.start(minutes(0))
    assert rollout.analysis_finished(result(Verdict.FAIL, "smoke"), minutes(1)) == [
        SwitchTo(Colour.BLUE)
    ]
    assert rollout.state is RolloutState.ABORTED and rollout.live is Colour.BLUE


def test_without_auto_promote_the_preview_waits_for_a_person() -> None:
    rollout = blue_green(auto_promote=False, post=False)
    rollout.start(minutes(0))
    assert rollout.analysis_finished(result(Verdict.PASS), minutes(2)) == []
    assert rollout.state is RolloutState.PAUSED and rollout.paused_by is PausedBy.STEP
    assert "auto_promote is false" in rollout.pause_reason
    assert rollout.promote_fully("alice", minutes(3)) == [SwitchTo(Colour.GREEN)]
    assert rollout.state is RolloutState.SWITCHED
    # promote again once switched: the old colour goes now, without waiting for the delay
    assert rollout.promote_fully("alice", minutes(4)) == [ScaleDownOld(Colour.BLUE, minutes(4))]
    assert rollout.state is RolloutState.FINISHED and rollout.moves_stable


def test_inconclusive_after_the_switch_pauses_with_traffic_on_green_and_resume_goes_on() -> None:
    rollout = blue_green(pre=False)
    rollout.start(minutes(0))
    rollout.analysis_finished(result(Verdict.INCONCLUSIVE, "too few requests"), minutes(2))
    assert rollout.state is RolloutState.PAUSED and rollout.live is Colour.GREEN
    assert rollout.step_elapsed(minutes(30)) == []  # paused: blue is kept
    assert rollout.resume("alice", minutes(31)) == [ScaleDownOld(Colour.BLUE, minutes(10))]
    assert rollout.state is RolloutState.FINISHED


def test_a_persons_pause_in_preview_reruns_the_pre_promotion_analysis() -> None:
    rollout = blue_green()
    rollout.start(minutes(0))
    rollout.pause("alice", "wait for the marketing mail", minutes(1))
    assert rollout.analysis_request is None
    rollout.resume("alice", minutes(2))
    request = rollout.analysis_request
    assert rollout.state is RolloutState.PREVIEWING
    assert request is not None and request.attempt == 2


def test_abort_in_preview_switches_back_to_the_stable_colour() -> None:
    rollout = blue_green()
    rollout.start(minutes(0))
    assert rollout.abort("alice", "", minutes(1)) == [SwitchTo(Colour.BLUE)]
    assert rollout.state is RolloutState.ABORTED and rollout.outcome == "aborted by alice"


def test_green_can_be_the_stable_colour() -> None:
    from relgate.rollout.model import Rollout

    spec = blue_green().spec
    rollout = Rollout.create(
        spec,
        service="shop",
        environment="production",
        stable_version="1.0.0",
        canary_version="1.1.0",
        now=minutes(0),
        live=Colour.GREEN,
    )
    rollout.start(minutes(0))
    assert rollout.analysis_finished(result(Verdict.PASS), minutes(1)) == [SwitchTo(Colour.BLUE)]
