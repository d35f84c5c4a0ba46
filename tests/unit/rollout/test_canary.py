"""A canary rollout: steps, analyses, a person's pause, resume, promote and abort."""

from __future__ import annotations

import pytest

from relgate.analysis.model import Verdict
from relgate.errors import Conflict
from relgate.rollout.commands import AllToStable, RolloutEventType, SetCanaryWeight
from relgate.rollout.states import AnalysisPhase, PausedBy, RolloutState
from tests.unit.rollout.helpers import Traffic, canary, minutes, result


def test_a_healthy_canary_goes_5_25_50_100_and_moves_stable_only_when_promoted() -> None:
    rollout, traffic = canary(), Traffic()
    weights: list[int] = []

    def run(commands: list) -> None:
        traffic.run(commands)
        weights.extend(c.weight for c in commands if isinstance(c, SetCanaryWeight))

    run(rollout.start(minutes(0)))
    assert (rollout.state, rollout.step, rollout.canary_weight) == (RolloutState.PROGRESSING, 0, 5)
    assert rollout.wake_at == minutes(2)
    assert rollout.step_elapsed(minutes(1)) == []  # too early: nothing happens
    assert rollout.state is RolloutState.PROGRESSING

    now = 0.0
    for pause in (2, 5, 5):
        now += pause
        run(rollout.step_elapsed(minutes(now)))
        assert rollout.state is RolloutState.ANALYSING
        request = rollout.analysis_request
        assert request is not None and request.phase is AnalysisPhase.STEP
        assert not rollout.moves_stable
        run(rollout.analysis_finished(result(Verdict.PASS), minutes(now), request.attempt))

    assert rollout.state is RolloutState.PROMOTING
    assert weights == [5, 25, 50, 100] and traffic.canary_weight == 100
    assert not rollout.moves_stable
    assert rollout.complete(minutes(now)) == []
    assert rollout.state is RolloutState.PROMOTED and rollout.moves_stable
    events = rollout.drain()
    assert [e.type for e in events if e.moves_stable] == [RolloutEventType.PROMOTED]
    assert [e.data["weight"] for e in events if e.type is RolloutEventType.STEP_STARTED] == [
        5,
        25,
        50,
    ]
    assert rollout.events == []


def test_a_failing_analysis_at_the_first_step_aborts_with_all_to_stable_and_its_reason() -> None:
    rollout, traffic = canary(), Traffic()
    traffic.run(rollout.start(minutes(0)))
    traffic.run(rollout.step_elapsed(minutes(2)))

    commands = rollout.analysis_finished(
        result(Verdict.FAIL, "error-ratio: 0.05 is above the maximum 0.01"), minutes(3)
    )

    assert commands == [AllToStable()]
    traffic.run(commands)
    assert traffic.canary_weight == 0
    assert rollout.state is RolloutState.ABORTED and rollout.finished
    assert rollout.outcome == "analysis fail: error-ratio: 0.05 is above the maximum 0.01"
    assert rollout.canary_weight == 0 and not rollout.moves_stable
    aborted = [e for e in rollout.events if e.type is RolloutEventType.ABORTED]
    assert aborted[0].actor == "analysis" and aborted[0].commands == (AllToStable(),)
    with pytest.raises(Conflict, match=r"cannot abort .*: it is aborted"):
        rollout.abort("alice", "again", minutes(4))


def test_no_data_pauses_instead_of_aborting_and_resume_goes_to_the_next_step() -> None:
    rollout = canary()
    rollout.start(minutes(0))
    rollout.step_elapsed(minutes(2))

    assert rollout.analysis_finished(result(Verdict.NODATA, "no traffic"), minutes(3)) == []
    assert rollout.state is RolloutState.PAUSED and rollout.paused_by is PausedBy.ANALYSIS
    assert rollout.pause_reason == "analysis nodata: no traffic"
    assert rollout.canary_weight == 5  # traffic stays where it was
    assert rollout.wake_at is None and rollout.analysis_request is None
    assert "paused by analysis at step 1 of 3 (5 %)" in rollout.describe()

    assert rollout.resume("alice", minutes(10)) == [SetCanaryWeight(25)]
    assert (rollout.state, rollout.step, rollout.wake_at) == (
        RolloutState.PROGRESSING,
        1,
        minutes(15),
    )


def test_the_on_table_of_the_spec_decides_not_the_action_the_result_carries() -> None:
    rollout = canary(on="on: {nodata: abort, inconclusive: continue, fail: pause}\n")
    rollout.start(minutes(0))
    rollout.step_elapsed(minutes(2))
    assert rollout.analysis_finished(result(Verdict.INCONCLUSIVE), minutes(3)) == [
        SetCanaryWeight(25)
    ]
    rollout.step_elapsed(minutes(8))
    assert rollout.analysis_finished(result(Verdict.FAIL, "p95"), minutes(9)) == []
    assert rollout.paused_by is PausedBy.ANALYSIS and rollout.pause_reason == "analysis fail: p95"
    rollout.resume("bob", minutes(10))
    rollout.step_elapsed(minutes(15))
    assert rollout.analysis_finished(result(Verdict.NODATA), minutes(16)) == [AllToStable()]
    assert rollout.state is RolloutState.ABORTED


def test_a_persons_pause_keeps_the_time_left_and_resume_goes_back_to_the_step() -> None:
    rollout = canary()
    rollout.start(minutes(0))
    assert rollout.pause("alice", "looking at the dashboards", minutes(0.5)) == []
    assert rollout.state is RolloutState.PAUSED and rollout.paused_by is PausedBy.PERSON
    assert rollout.step_elapsed(minutes(5)) == []  # the old timer does nothing now
    assert rollout.state is RolloutState.PAUSED

    with pytest.raises(Conflict, match="is already paused by person"):
        rollout.pause("bob", "me too", minutes(6))

    assert rollout.resume("alice", minutes(10)) == []
    assert rollout.state is RolloutState.PROGRESSING and rollout.wake_at == minutes(11.5)
    events = [e.type for e in rollout.events]
    assert RolloutEventType.PAUSED in events and RolloutEventType.RESUMED in events


def test_a_pause_during_an_analysis_stops_it_and_resume_runs_a_new_one() -> None:
    rollout = canary()
    rollout.start(minutes(0))
    rollout.step_elapsed(minutes(2))
    first = rollout.analysis_request
    assert first is not None

    rollout.pause("alice", "", minutes(3))
    assert rollout.analysis_request is None
    with pytest.raises(Conflict, match="runs no analysis"):
        rollout.analysis_finished(result(Verdict.PASS), minutes(3))

    rollout.resume("alice", minutes(4))
    second = rollout.analysis_request
    assert second is not None and second.attempt == first.attempt + 1
    with pytest.raises(Conflict, match=f"analysis {first.attempt} was replaced"):
        rollout.analysis_finished(result(Verdict.PASS), minutes(5), attempt=first.attempt)
    assert rollout.analysis_finished(result(Verdict.PASS), minutes(5), second.attempt) == [
        SetCanaryWeight(25)
    ]


def test_resume_when_not_paused_is_refused_with_the_state() -> None:
    rollout = canary()
    with pytest.raises(
        Conflict,
        match=r"cannot resume the rollout of shop 1\.1\.0 to production: it is pending, not paused",
    ):
        rollout.resume("alice", minutes(0))
    rollout.start(minutes(0))
    with pytest.raises(Conflict, match=r"it is progressing at step 1 of 3 \(5 %\), not paused"):
        rollout.resume("alice", minutes(1))


def test_illegal_operations_are_refused_and_change_nothing() -> None:
    rollout = canary()
    with pytest.raises(Conflict, match="cannot promote"):
        rollout.promote_fully("alice", minutes(0))
    with pytest.raises(Conflict, match="cannot pause"):
        rollout.pause("alice", "", minutes(0))
    with pytest.raises(Conflict, match="cannot complete"):
        rollout.complete(minutes(0))
    rollout.start(minutes(0))
    with pytest.raises(Conflict, match=r"cannot start .*: it has already started"):
        rollout.start(minutes(0))
    rollout.promote_fully("alice", minutes(1))
    with pytest.raises(Conflict, match=r"cannot promote .*: it is promoting"):
        rollout.promote_fully("alice", minutes(1))
    with pytest.raises(Conflict, match="cannot pause"):
        rollout.pause("alice", "", minutes(1))
    rollout.complete(minutes(2))
    for refused in (
        lambda: rollout.abort("alice", "too late", minutes(3)),
        lambda: rollout.resume("alice", minutes(3)),
        lambda: rollout.pause("alice", "", minutes(3)),
    ):
        with pytest.raises(Conflict, match="promoted"):
            refused()
    assert rollout.state is RolloutState.PROMOTED


def test_a_person_promotes_fully_from_a_pause_and_skips_the_remaining_steps() -> None:
    rollout = canary()
    rollout.start(minutes(0))
    rollout.pause("alice", "", minutes(1))
    assert rollout.promote_fully("alice", minutes(2)) == [SetCanaryWeight(100)]
    assert rollout.state is RolloutState.PROMOTING and rollout.paused_by is None
    assert not rollout.moves_stable


def test_an_abort_while_promoting_still_returns_all_traffic_to_stable() -> None:
    rollout = canary()
    rollout.start(minutes(0))
    rollout.promote_fully("alice", minutes(1))
    assert rollout.abort("bob", "the checkout broke", minutes(2)) == [AllToStable()]
    assert rollout.state is RolloutState.ABORTED and rollout.outcome == "the checkout broke"
    aborted = next(e for e in rollout.events if e.type is RolloutEventType.ABORTED)
    assert aborted.actor == "bob"


def test_a_manual_step_waits_for_a_person_then_analyses() -> None:
    rollout = canary("- {weight: 10, pause: manual}\n- {weight: 60, pause: 1m}\n")
    assert rollout.start(minutes(0)) == [SetCanaryWeight(10)]
    assert rollout.state is RolloutState.PAUSED and rollout.paused_by is PausedBy.STEP
    assert rollout.pause_reason == "step 1 waits for a person (pause: manual)"
    assert rollout.wake_at is None
    assert rollout.step_elapsed(minutes(60)) == []

    assert rollout.resume("alice", minutes(61)) == []
    assert rollout.state is RolloutState.ANALYSING


def test_without_analysis_each_step_ends_with_its_pause() -> None:
    rollout, traffic = canary(analysis=False), Traffic()
    traffic.run(rollout.start(minutes(0)))
    traffic.run(rollout.step_elapsed(minutes(2)))
    assert (rollout.state, traffic.canary_weight) == (RolloutState.PROGRESSING, 25)
    traffic.run(rollout.step_elapsed(minutes(7)))
    traffic.run(rollout.step_elapsed(minutes(12)))
    assert (rollout.state, traffic.canary_weight) == (RolloutState.PROMOTING, 100)


def test_a_pass_paused_by_the_on_table_waits_for_a_person() -> None:
    rollout = canary("- {weight: 50, pause: 1m}\n", on="on: {pass: pause}\n")
    rollout.start(minutes(0))
    rollout.step_elapsed(minutes(1))
    rollout.analysis_finished(result(Verdict.PASS, "all good"), minutes(2))
    assert (
        rollout.state is RolloutState.PAUSED and rollout.pause_reason == "analysis pass: all good"
    )
    assert rollout.resume("alice", minutes(3)) == [SetCanaryWeight(100)]
    assert rollout.state is RolloutState.PROMOTING
