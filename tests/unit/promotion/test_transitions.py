"""The state-changing use cases over an in-memory store: no database, same rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relgate.errors import Conflict
from relgate.notify.events import EventType
from relgate.promotion import transitions
from relgate.promotion.lifecycle import Deployment, Environment, ReleaseRef
from relgate.promotion.model import DeploymentKind, DeploymentState
from relgate.promotion.repository import MemoryDeployments

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
V140 = ReleaseRef(1, "1.4.0", "reg/shop@sha256:" + "a" * 64)
V150 = ReleaseRef(2, "1.5.0", "reg/shop@sha256:" + "b" * 64)


@pytest.fixture
def store() -> MemoryDeployments:
    memory = MemoryDeployments()
    memory.put(
        Environment(
            id=1,
            service="shop",
            name="production",
            current=V140,
            stable=V140,
            auto_rollback=True,
        )
    )
    return memory


def request(
    store: MemoryDeployments, release: ReleaseRef = V150, *, waiting: bool = False
) -> Deployment:
    env = store.environment("shop", "production")
    deployment = Deployment.request(
        service="shop",
        environment="production",
        release=release,
        kind=DeploymentKind.PROMOTE,
        actor="ci-bot",
        now=NOW,
        pipeline_revision=1,
        previous=env.current,
        waiting_for_approval=waiting,
    )
    transitions.open_deployment(store, env, deployment, NOW)
    store.commit()
    return deployment


def run(store: MemoryDeployments, deployment_id: int, *, succeeded: bool) -> None:
    assert transitions.start(store, deployment_id, NOW) is not None
    if succeeded:
        assert transitions.verifying(store, deployment_id, NOW)
    done = transitions.complete(
        store, deployment_id, succeeded=succeeded, reason="ok" if succeeded else "exit 1", now=NOW
    )
    assert done is not None
    store.commit()


def test_promote_start_verify_succeed_moves_the_anchor_and_frees_the_environment(
    store: MemoryDeployments,
) -> None:
    deployment = request(store)
    assert store.jobs == [deployment.id]
    assert store.environments[("shop", "production")].holder == deployment.id

    run(store, deployment.number, succeeded=True)

    production = store.environments[("shop", "production")]
    assert (production.current, production.stable, production.holder) == (V150, V150, None)
    assert store.deployments[deployment.number].state is DeploymentState.SUCCEEDED
    assert [e.type for e in store.outbox] == [
        EventType.DEPLOYMENT_STARTED,
        EventType.DEPLOYMENT_SUCCEEDED,
    ]


def test_a_second_deployment_is_refused_while_the_first_holds_the_environment(
    store: MemoryDeployments,
) -> None:
    first = request(store)
    stale = store.environment("shop", "production")
    stale.holder = None  # as another transaction saw it before the first committed

    second = Deployment.request(
        service="shop",
        environment="production",
        release=V140,
        kind=DeploymentKind.PROMOTE,
        actor="ci-bot",
        now=NOW,
        pipeline_revision=1,
        previous=None,
    )
    with pytest.raises(Conflict, match="held by another deployment"):
        transitions.open_deployment(store, stale, second, NOW)
    assert store.environments[("shop", "production")].holder == first.id


def test_a_failed_promotion_asks_for_the_auto_rollback_which_pins_and_then_marks(
    store: MemoryDeployments,
) -> None:
    bad = request(store)
    transitions.start(store, bad.number, NOW)
    done = transitions.complete(store, bad.number, succeeded=False, reason="exit 1", now=NOW)
    assert done is not None
    _, follow_up = done
    store.commit()
    assert follow_up.auto_rollback and follow_up.reason == "exit 1"

    env = store.environment("shop", "production")
    rollback = transitions.new_rollback(
        env,
        target=V140,
        replaces=bad.id,
        kind=DeploymentKind.AUTO_ROLLBACK,
        actor="relgate",
        actor_identity=None,
        reason="auto-rollback: exit 1",
        revision=1,
        now=NOW + timedelta(seconds=1),
    )
    transitions.open_rollback(store, env, rollback, NOW)
    store.commit()
    assert store.environments[("shop", "production")].pinned == V140
    run(store, rollback.number, succeeded=True)

    assert store.deployments[bad.number].state is DeploymentState.ROLLED_BACK
    production = store.environments[("shop", "production")]
    assert (production.current, production.pinned, production.holder) == (V140, V140, None)
    rolled_back = store.outbox[-1]
    assert rolled_back.type is EventType.DEPLOYMENT_ROLLED_BACK
    assert rolled_back.data["rolled_back_from"] == "1.5.0"
    assert rolled_back.data["rolled_back_to"] == "1.4.0"
    assert rolled_back.actor == "relgate"


def test_a_rollback_cancels_a_deployment_that_waits_and_refuses_one_that_runs(
    store: MemoryDeployments,
) -> None:
    waiting = request(store, waiting=True)
    env = store.environment("shop", "production")

    cancelled = transitions.make_room_for_rollback(store, env, "incident", NOW)

    assert cancelled is not None and cancelled.state is DeploymentState.CANCELLED
    assert store.deployments[waiting.number].outcome == "cancelled by a rollback: incident"
    assert store.environments[("shop", "production")].holder is None

    running = request(store)
    transitions.start(store, running.number, NOW)
    with pytest.raises(Conflict, match=f"held by deployment {running.id}"):
        transitions.make_room_for_rollback(
            store, store.environment("shop", "production"), "incident", NOW
        )


def test_approval_queues_the_job_and_rejection_frees_the_environment(
    store: MemoryDeployments,
) -> None:
    first = request(store, waiting=True)
    assert store.jobs == []
    assert [e.type for e in store.outbox] == [EventType.APPROVAL_REQUESTED]

    queued = transitions.approve(
        store, store.deployment(first.number), "alice", "ok", gates_pass=True, now=NOW
    )
    store.commit()
    assert queued and store.jobs == [first.id]
    run(store, first.number, succeeded=True)

    second = request(store, V140, waiting=True)
    follow_up = transitions.reject(store, store.deployment(second.number), "bob", "no", NOW)
    store.commit()

    assert follow_up.auto_promote
    assert store.deployments[second.number].state is DeploymentState.REJECTED
    assert store.environments[("shop", "production")].holder is None
    assert [e.type for e in store.outbox if e.type.value.startswith("approval")] == [
        EventType.APPROVAL_REQUESTED,
        EventType.APPROVAL_GIVEN,
        EventType.APPROVAL_REQUESTED,
        EventType.APPROVAL_REJECTED,
    ]


def test_completing_a_deployment_that_was_reconciled_meanwhile_changes_nothing(
    store: MemoryDeployments,
) -> None:
    deployment = request(store)
    transitions.start(store, deployment.number, NOW)
    transitions.complete(store, deployment.number, succeeded=False, reason="interrupted", now=NOW)
    store.commit()
    before = len(store.outbox)

    assert transitions.verifying(store, deployment.number, NOW) is False
    assert (
        transitions.complete(store, deployment.number, succeeded=True, reason="late", now=NOW)
        is None
    )
    store.commit()
    assert store.deployments[deployment.number].outcome == "interrupted"
    assert len(store.outbox) == before


def test_a_pinned_environment_refuses_a_promotion(store: MemoryDeployments) -> None:
    env = store.environment("shop", "production")
    env.pin(V140, "incident")
    store.save(env)

    with pytest.raises(Conflict, match="unpin it first"):
        request(store)
    assert store.deployments == {}
