"""The lifecycle objects on their own: transitions, holding, the anchor, pins, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relgate.errors import Conflict
from relgate.notify.events import EventType
from relgate.promotion.lifecycle import (
    Deployment,
    Environment,
    ReleaseRef,
    drain,
    is_newer,
    newest_first,
)
from relgate.promotion.model import DeploymentKind, DeploymentState

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
V140 = ReleaseRef(1, "1.4.0", "reg/shop@sha256:" + "a" * 64)
V150 = ReleaseRef(2, "1.5.0", "reg/shop@sha256:" + "b" * 64)


def env(**fields: object) -> Environment:
    return Environment(id=1, service="shop", name="production", **fields)  # type: ignore[arg-type]


def deployment(
    release: ReleaseRef = V150,
    *,
    id_: int = 7,
    kind: DeploymentKind = DeploymentKind.PROMOTE,
    waiting: bool = False,
    previous: ReleaseRef | None = V140,
) -> Deployment:
    d = Deployment.request(
        service="shop",
        environment="production",
        release=release,
        kind=kind,
        actor="ci-bot",
        now=NOW,
        pipeline_revision=1,
        previous=previous,
        waiting_for_approval=waiting,
        reason="release train",
    )
    d.id = id_
    return d


def test_a_deployment_goes_requested_deploying_verifying_succeeded_recording_events() -> None:
    production = env(current=V140, stable=V140)
    d = deployment()
    production.hold(d, NOW)

    production.start(d, NOW)
    assert production.current == V140  # what runs until the deployment ends
    assert production.being_deployed(d) is d
    d.verifying(NOW)
    follow_up = production.succeeded(d, NOW + timedelta(seconds=5), "healthy", None)

    assert d.state is DeploymentState.SUCCEEDED
    assert d.outcome == "verified: healthy"
    assert (production.current, production.stable, production.stable_deployment) == (V150, V150, 7)
    assert production.free and follow_up.auto_promote and not follow_up.auto_rollback
    events = drain(d, production)
    assert [e.type for e in events] == [
        EventType.DEPLOYMENT_STARTED,
        EventType.DEPLOYMENT_SUCCEEDED,
    ]
    started = events[0]
    assert started.subject == "deployment/7"
    assert (started.service, started.environment, started.actor) == ("shop", "production", "ci-bot")
    assert started.data["version"] == "1.5.0"
    assert started.data["artifact"] == V150.artifact
    assert started.data["previous_version"] == "1.4.0"
    assert started.data["previous_artifact"] == V140.artifact
    assert started.data["deployment"] == 7 and started.data["kind"] == "promote"
    assert events[1].data["outcome"] == "verified: healthy"
    assert d.events == []  # drained


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (DeploymentState.REQUESTED, DeploymentState.SUCCEEDED),
        (DeploymentState.DEPLOYING, DeploymentState.SUCCEEDED),
        (DeploymentState.SUCCEEDED, DeploymentState.DEPLOYING),
        (DeploymentState.CANCELLED, DeploymentState.DEPLOYING),
    ],
)
def test_a_transition_the_table_does_not_allow_is_a_conflict(
    source: DeploymentState, target: DeploymentState
) -> None:
    d = deployment()
    d.state = source
    moves = {
        DeploymentState.SUCCEEDED: lambda: d.succeed(NOW, "x"),
        DeploymentState.DEPLOYING: lambda: d.start(NOW, None),
    }
    with pytest.raises(Conflict, match=f"deployment 7 is {source.value}"):
        moves[target]()
    assert d.state is source
    assert d.events == []


def test_an_environment_is_held_by_one_deployment_at_a_time() -> None:
    production = env()
    first, second = deployment(id_=1), deployment(id_=2)
    production.hold(first, NOW)

    with pytest.raises(Conflict, match="held by deployment 1"):
        production.hold(second, NOW)
    assert production.holder == 1 and production.last_deployment == 1
    assert production.release_hold(second) is False
    assert production.release_hold(first) is True and production.free


def test_a_failed_promotion_wants_an_auto_rollback_only_where_the_environment_says_so() -> None:
    for auto_rollback in (True, False):
        production = env(current=V140, stable=V140, auto_rollback=auto_rollback)
        d = deployment()
        production.hold(d, NOW)
        production.start(d, NOW)

        follow_up = production.failed(d, NOW, "exit 1")

        assert follow_up.auto_rollback is auto_rollback
        assert follow_up.auto_promote is not auto_rollback
        assert production.current == V150  # it may have half-run
        assert production.stable == V140  # the anchor moves only on a verified success
        failed = drain(d)[-1]
        assert failed.type is EventType.DEPLOYMENT_FAILED
        assert failed.data["outcome"] == "exit 1"


def test_a_failed_rollback_never_asks_for_another_rollback() -> None:
    production = env(current=V150, stable=V140, auto_rollback=True)
    d = deployment(V140, kind=DeploymentKind.AUTO_ROLLBACK, previous=V150)
    production.hold(d, NOW)
    production.start(d, NOW)

    assert production.failed(d, NOW, "exit 1").auto_rollback is False


def test_a_succeeded_rollback_marks_what_it_replaced_and_says_from_and_to() -> None:
    production = env(current=V150, stable=V140)
    bad = deployment(id_=3)
    bad.state = DeploymentState.FAILED
    rollback = deployment(V140, id_=4, kind=DeploymentKind.ROLLBACK, previous=V150)
    rollback.replaces = 3
    production.hold(rollback, NOW)
    production.pin(V140, "1.5.0 breaks checkout")
    production.start(rollback, NOW)
    rollback.verifying(NOW)

    production.succeeded(rollback, NOW, "healthy", bad)

    assert bad.state is DeploymentState.ROLLED_BACK
    assert production.current == V140 and production.pinned == V140
    event = drain(rollback)[-1]
    assert event.type is EventType.DEPLOYMENT_ROLLED_BACK
    assert (event.data["rolled_back_from"], event.data["rolled_back_to"]) == ("1.5.0", "1.4.0")
    assert event.data["replaces_deployment"] == 3
    assert event.actor == "ci-bot"


def test_a_pinned_environment_refuses_another_release_until_unpinned() -> None:
    production = env(pinned=V140, pinned_reason="incident 42")

    with pytest.raises(Conflict, match=r"pinned to 1\.4\.0 since a rollback \(incident 42\)"):
        production.refuse_pinned(V150)
    production.refuse_pinned(V140)  # the pinned release itself may go there
    assert production.unpin() == V140
    production.refuse_pinned(V150)
    assert production.pinned is None and production.pinned_reason is None


def test_approval_requested_given_and_rejected_are_events_of_the_deciders() -> None:
    production = env()
    d = deployment(waiting=True)
    production.hold(d, NOW)
    d.approve(NOW, "alice", "looks good", gates_pass=False)  # a second approval is needed
    assert d.state is DeploymentState.WAITING_FOR_APPROVAL
    follow_up = production.rejected(d, NOW, "bob", "not on a Friday")

    assert d.state is DeploymentState.REJECTED and production.free and follow_up.auto_promote
    assert d.outcome == "rejected by bob: not on a Friday"
    events = drain(d)
    assert [(e.type, e.actor) for e in events] == [
        (EventType.APPROVAL_REQUESTED, "ci-bot"),
        (EventType.APPROVAL_GIVEN, "alice"),
        (EventType.APPROVAL_REJECTED, "bob"),
    ]
    assert events[2].data["comment"] == "not on a Friday"


def test_the_last_approval_lets_the_deployment_run() -> None:
    d = deployment(waiting=True)
    d.approve(NOW, "alice", "", gates_pass=True)

    assert d.state is DeploymentState.REQUESTED


def test_a_running_deployment_cannot_be_cancelled() -> None:
    production = env()
    d = deployment()
    production.hold(d, NOW)
    production.start(d, NOW)

    with pytest.raises(Conflict, match="deploying; it can no longer be cancelled"):
        production.cancelled(d, NOW, "changed my mind")
    assert production.holder == 7


def test_auto_promotion_takes_the_newest_release_newer_than_what_runs_never_tried() -> None:
    releases = [ReleaseRef(i, v) for i, v in enumerate(["1.5.0", "1.5.2", "1.5.10", "1.5.1"], 1)]
    dev = env(current=releases[0], auto_promote=True)

    assert [r.version for r in dev.auto_promotion_candidates(releases)] == [
        "1.5.10",
        "1.5.2",
        "1.5.1",
    ]
    assert [r.version for r in dev.auto_promotion_candidates(releases, tried=[3])] == [
        "1.5.2",
        "1.5.1",
    ]
    assert env(auto_promote=False).auto_promotion_candidates(releases) == []
    assert env(auto_promote=True, holder=9).auto_promotion_candidates(releases) == []
    assert env(auto_promote=True, pinned=releases[0]).auto_promotion_candidates(releases) == []


def test_semver_precedence_orders_releases() -> None:
    assert is_newer(ReleaseRef(1, "1.10.0"), ReleaseRef(2, "1.9.0"))
    assert not is_newer(ReleaseRef(1, "1.0.0-rc.1"), ReleaseRef(2, "1.0.0"))
    assert is_newer(ReleaseRef(1, "1.0.0"), None)
    ordered = newest_first([ReleaseRef(1, "0.9.0"), ReleaseRef(2, "2.0.0"), ReleaseRef(3, "1.0.0")])
    assert [r.version for r in ordered] == ["2.0.0", "1.0.0", "0.9.0"]
