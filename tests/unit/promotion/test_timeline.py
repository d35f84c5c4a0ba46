"""A deployment's timeline from its view: the states it went through, the one it is in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from relgate.promotion.timeline import timeline
from relgate.promotion.views import DeploymentView

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
T2 = datetime(2026, 12, 1, 10, 6, tzinfo=UTC)

REQUESTED = DeploymentView(
    id=7,
    service="shop",
    environment="production",
    version="2.0.0",
    artifact="reg/shop@sha256:" + "a" * 64,
    author="bob",
    previous_version="1.0.0",
    kind="promote",
    state="requested",
    requested_by="ci-bot",
    reason="weekly",
    outcome="",
    gates=[],
    approvals=[],
    created_at=T0,
    started_at=None,
    finished_at=None,
    deployer="command",
)


def steps(view: DeploymentView) -> list[tuple[str, datetime | None, str, bool]]:
    return [(s.state, s.at, s.detail, s.current) for s in timeline(view)]


def test_a_requested_deployment_has_one_step_and_it_is_current() -> None:
    assert steps(REQUESTED) == [("requested", T0, "promote by ci-bot: weekly", True)]


def test_a_running_deployment_is_deploying_since_it_started() -> None:
    view = replace(REQUESTED, state="deploying", started_at=T1)

    assert steps(view) == [
        ("requested", T0, "promote by ci-bot: weekly", False),
        ("deploying", T1, "with command", True),
    ]


def test_a_succeeded_deployment_went_through_verifying_to_its_outcome() -> None:
    view = replace(
        REQUESTED, state="succeeded", started_at=T1, finished_at=T2, outcome="verified: ok"
    )

    assert [s[0] for s in steps(view)] == ["requested", "deploying", "verifying", "succeeded"]
    assert steps(view)[-1] == ("succeeded", T2, "verified: ok", True)
    assert [s[3] for s in steps(view)] == [False, False, False, True]


def test_a_failed_deployment_does_not_claim_it_verified() -> None:
    view = replace(REQUESTED, state="failed", started_at=T1, finished_at=T2, outcome="exit 3")

    assert [s[0] for s in steps(view)] == ["requested", "deploying", "failed"]


def test_a_deployment_that_waited_shows_the_wait_and_each_decision() -> None:
    approvals = [
        {"approver": "alice", "decision": "approved", "comment": "go", "at": T1.isoformat()}
    ]
    waiting = replace(REQUESTED, state="waiting_for_approval")
    started = replace(REQUESTED, state="deploying", started_at=T2, approvals=approvals)

    assert steps(waiting)[-1] == ("waiting_for_approval", None, "", True)
    assert steps(started) == [
        ("requested", T0, "promote by ci-bot: weekly", False),
        ("waiting_for_approval", None, "", False),
        ("approved", T1, "by alice: go", False),
        ("deploying", T2, "with command", True),
    ]


def test_a_deployment_cancelled_before_it_started_ends_there() -> None:
    view = replace(REQUESTED, state="cancelled", finished_at=T1, outcome="cancelled by ci-bot: ")

    assert steps(view) == [
        ("requested", T0, "promote by ci-bot: weekly", False),
        ("cancelled", T1, "cancelled by ci-bot: ", True),
    ]
