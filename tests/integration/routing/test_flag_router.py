"""The flag router with the real FlagService over SQLite and PostgreSQL, read by the evaluator.

Each user is evaluated as an SDK would (the environment's compiled snapshot,
``is_enabled`` with a ``userId`` context), so the shares and the stickiness
asserted are the ones applications see.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from relgate.audit import store as audit
from relgate.auth.model import Principal, Role
from relgate.clock import FixedClock
from relgate.errors import BadInput, Conflict, NotFound
from relgate.flags.evaluate import is_enabled
from relgate.flags.model import Context
from relgate.flags.service import FlagService
from relgate.routing.config import FlagRouterSpec
from relgate.routing.flag import FlagRouter
from relgate.routing.ports import Colour, Target
from relgate.store import db
from relgate.store.uow import UnitOfWorkFactory

ADMIN = Principal("alice", Role.ADMIN)
USERS = [f"user-{n}" for n in range(1000)]


@pytest.fixture
def uow(database_url: str) -> Iterator[UnitOfWorkFactory]:
    engine = db.make_engine(database_url)
    try:
        yield UnitOfWorkFactory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def flags(uow: UnitOfWorkFactory) -> FlagService:
    service = FlagService(uow, FixedClock(datetime(2026, 12, 2, 9, 0, tzinfo=UTC)))
    service.create(ADMIN, "new-checkout")
    return service


def router(flags: FlagService, **spec: object) -> FlagRouter:
    return FlagRouter(
        FlagRouterSpec.model_validate({"type": "flag", "flag": "new-checkout", **spec}),
        flags,
        environment="production",
    )


def on_for(flags: FlagService, users: list[str], environment: str = "production") -> set[str]:
    snapshot = flags.snapshot(environment)
    return {
        u for u in users if is_enabled(snapshot, "new-checkout", Context.from_dict({"userId": u}))
    }


def test_a_canary_weight_is_the_share_of_users_the_evaluator_turns_on(flags: FlagService) -> None:
    state = router(flags).set_canary_weight(25)

    share = len(on_for(flags, USERS))
    assert 180 <= share <= 320, share  # 25 % of 1,000 users, hashed
    assert state.canary_share == 25.0
    assert [(t.target, t.weight) for t in state.targets] == [
        (Target.STABLE, 75),
        (Target.CANARY, 25),
    ]
    assert state.router == "flag new-checkout in production"
    assert state.notes == ()


def test_each_user_stays_on_the_canary_as_its_share_grows(flags: FlagService) -> None:
    routed = router(flags)
    routed.set_canary_weight(5)
    at_5 = on_for(flags, USERS)
    routed.set_canary_weight(25)
    at_25 = on_for(flags, USERS)
    routed.set_canary_weight(50)
    at_50 = on_for(flags, USERS)

    assert at_5 and at_5 < at_25 < at_50  # strictly nested: nobody was moved back
    assert on_for(flags, USERS) == at_50  # the same user, the same answer, every time
    rollout = flags.get_flag(ADMIN, "new-checkout").environments["production"].strategies[0]
    assert rollout["parameters"] == {
        "rollout": "50",
        "stickiness": "userId",
        "groupId": "new-checkout",
    }


def test_all_to_stable_turns_the_canary_off_for_every_user_at_once(flags: FlagService) -> None:
    routed = router(flags)
    routed.set_canary_weight(50)
    assert on_for(flags, USERS)

    state = routed.all_to_stable()

    assert on_for(flags, USERS) == set()
    assert state.canary_share == 0.0
    assert state.share(Target.STABLE) == 100.0
    assert state.notes == ("flag new-checkout is off in production",)
    # the next canary starts from the weight it is given, not the one before the abort
    assert routed.set_canary_weight(5).canary_share == 5.0


def test_relgate_changes_the_flag_as_itself_and_each_change_is_audited(
    flags: FlagService, uow: UnitOfWorkFactory
) -> None:
    routed = router(flags)
    routed.set_canary_weight(10)
    routed.all_to_stable()

    with uow() as unit:
        events = list(reversed(audit.events(unit, subject="flag/new-checkout")))
    assert [(e.actor, e.action) for e in events] == [
        ("alice", "flag.created"),
        ("relgate", "flag.rolled_out"),
        ("relgate", "flag.disabled"),
    ]


def test_the_read_back_is_the_stored_flag_not_what_relgate_asked(flags: FlagService) -> None:
    routed = router(flags)
    routed.set_canary_weight(10)
    flags.rollout(ADMIN, "new-checkout", "production", 40, stickiness="sessionId")

    state = routed.state()

    assert state.canary_share == 40.0
    assert state.notes == (
        "strategy 0 is sticky on 'sessionId', not 'userId': a user may change sides as the "
        "share changes",
    )


def test_a_constrained_strategy_is_said_to_reach_users_beyond_the_share(
    flags: FlagService,
) -> None:
    flags.set_strategies(
        ADMIN,
        "new-checkout",
        "production",
        [
            {
                "name": "default",
                "constraints": [{"contextName": "userId", "operator": "IN", "values": ["qa"]}],
            }
        ],
    )
    routed = router(flags)
    routed.set_canary_weight(0)

    state = routed.state()

    assert state.canary_share == 0.0
    assert on_for(flags, ["qa", "user-1"]) == {"qa"}
    assert state.notes == (
        "strategy 0 (default) has constraints: it turns the flag on for the users it matches, "
        "beyond the share",
    )


def test_the_flags_environment_can_differ_from_the_rollouts(flags: FlagService) -> None:
    router(flags, environment="prod-eu").set_canary_weight(100)

    assert on_for(flags, USERS[:50], "prod-eu") == set(USERS[:50])
    assert on_for(flags, USERS[:50], "production") == set()
    assert router(flags).state().notes == (
        "flag new-checkout is not configured in production (off)",
    )


def test_clear_errors_for_an_unknown_or_archived_flag_and_for_blue_green(
    flags: FlagService,
) -> None:
    with pytest.raises(NotFound):
        router(flags, flag="no-such-flag").set_canary_weight(5)
    with pytest.raises(BadInput, match=r"configured for canary routing .*cannot switch colours"):
        router(flags).switch_to(Colour.GREEN)
    with pytest.raises(BadInput, match="canary weight: 120 is not a whole percentage"):
        router(flags).set_canary_weight(120)
    flags.archive(ADMIN, "new-checkout")
    with pytest.raises(Conflict):
        router(flags).set_canary_weight(5)
    assert router(flags).state().notes[0] == "flag new-checkout is archived"
