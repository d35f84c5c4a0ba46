"""Rollout.to_dict / from_dict: the state a worker keeps in a JSON column."""

from __future__ import annotations

import json

import pytest

from relgate.analysis.model import Verdict
from relgate.errors import BadInput
from relgate.rollout.commands import SetCanaryWeight, command_from_dict
from relgate.rollout.model import Rollout
from relgate.rollout.states import PausedBy, RolloutState
from tests.unit.rollout.helpers import blue_green, canary, minutes, result


def round_trip(rollout: Rollout) -> Rollout:
    return Rollout.from_dict(json.loads(json.dumps(rollout.to_dict())))


def test_a_paused_canary_reads_back_equal_and_goes_on_from_where_it_was() -> None:
    rollout = canary()
    rollout.start(minutes(0))
    rollout.step_elapsed(minutes(2))
    rollout.analysis_finished(result(Verdict.NODATA, "no traffic"), minutes(3))

    again = round_trip(rollout)
    assert again == rollout
    assert again.spec == rollout.spec
    assert (again.state, again.paused_by, again.pause_reason) == (
        RolloutState.PAUSED,
        PausedBy.ANALYSIS,
        "analysis nodata: no traffic",
    )
    assert again.events == []  # drained with each save, not kept
    assert again.resume("alice", minutes(4)) == [SetCanaryWeight(25)]


def test_a_timed_step_and_a_persons_pause_keep_their_times() -> None:
    rollout = canary()
    rollout.start(minutes(0))
    assert round_trip(rollout).wake_at == minutes(2)
    rollout.pause("alice", "lunch", minutes(1.5))
    again = round_trip(rollout)
    assert again.remaining_seconds == 30.0
    again.resume("alice", minutes(60))
    assert again.wake_at == minutes(60.5)


def test_a_switched_blue_green_reads_back_with_its_colours_and_deadline() -> None:
    rollout = blue_green(pre=False)
    rollout.start(minutes(0))
    again = round_trip(rollout)
    assert again == rollout
    request = again.analysis_request
    assert request is not None and request.attempt == 1
    assert again.scale_down_at == minutes(10)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"snapshot": 2}, "snapshot must be 1"),
        ({"state": "sleeping"}, "state: 'sleeping' is not one of: pending, progressing"),
        ({"created_at": "yesterday"}, "created_at: Invalid isoformat"),
        ({"created_at": "2026-12-02T12:00:00"}, "created_at: must carry its time zone"),
        ({"canary_weight": 101}, "canary_weight: must be a percentage from 0 to 100"),
        ({"step": 7}, "step: 7 is past the spec's steps"),
        ({"analysis_running": "yes"}, "analysis_running: must be true or false"),
        ({"spec": {"strategy": "canary"}}, "spec.canary.steps: Field required"),
        ({"spec": {"strategy": "all_at_once"}}, "strategy all_at_once has no rollout"),
    ],
)
def test_a_broken_snapshot_is_refused_naming_the_field(
    change: dict[str, object], expected: str
) -> None:
    rollout = canary()
    rollout.start(minutes(0))
    data = {**rollout.to_dict(), **change}
    with pytest.raises(BadInput, match="rollout snapshot: ") as caught:
        Rollout.from_dict(data)
    assert expected in str(caught.value)


def test_a_missing_field_is_named() -> None:
    data = canary().to_dict()
    del data["analysis_attempt"]
    with pytest.raises(BadInput, match="analysis_attempt: required, but missing"):
        Rollout.from_dict(data)


def test_router_commands_read_back_from_their_dicts() -> None:
    rollout = blue_green(pre=False, post=False, delay="1m")
    commands = rollout.start(minutes(0)) + rollout.step_elapsed(minutes(1))
    assert [command_from_dict(c.to_dict()) for c in commands] == commands
    events = [e.to_dict() for e in rollout.drain()]
    assert json.loads(json.dumps(events))[-1]["moves_stable"] is True
