"""Flag administration against real SQLite and PostgreSQL: use cases, revisions, payload, audit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from relgate.audit import store as audit
from relgate.auth.model import Principal, Role
from relgate.clock import FixedClock
from relgate.errors import BadInput, Conflict, Forbidden, InvalidFlagDefinition, NotFound
from relgate.flags.evaluate import get_variant, is_enabled
from relgate.flags.model import Context
from relgate.flags.service import FlagService
from relgate.store import db
from relgate.store.tables import FlagMetricRow, FlagRevisionRow
from relgate.store.uow import UnitOfWorkFactory

ADMIN = Principal("alice", Role.ADMIN)
CI = Principal("ci-bot", Role.CI)
APPROVER = Principal("bob", Role.APPROVER)
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def uow(database_url: str) -> Iterator[UnitOfWorkFactory]:
    engine = db.make_engine(database_url)
    try:
        yield UnitOfWorkFactory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def flags(uow: UnitOfWorkFactory, clock: FixedClock) -> FlagService:
    return FlagService(uow, clock)


def actions(uow: UnitOfWorkFactory, subject: str) -> list[str]:
    with uow() as unit:
        return [event.action for event in reversed(audit.events(unit, subject=subject))]


def on(service: FlagService, env: str, key: str, **context: str) -> bool:
    return is_enabled(service.snapshot(env), key, Context.from_dict(context))


# ---------------------------------------------------------------------------- creating


def test_a_release_flag_expires_30_days_after_creation_by_default(flags: FlagService) -> None:
    flag = flags.create(ADMIN, "express-checkout-v2", owner="payments", tags=["checkout"])

    assert flag.expires_at == START + timedelta(days=30)
    assert flag.owner == "payments"
    assert flag.tags == ["checkout"]
    assert flag.environments == {}


def test_a_kill_switch_never_expires_and_an_explicit_expiry_is_kept(flags: FlagService) -> None:
    kill_switch = flags.create(ADMIN, "payments-off", type="kill-switch")
    dated = flags.create(CI, "dated", expires_at=datetime(2027, 1, 1, tzinfo=UTC))

    assert kill_switch.expires_at is None
    assert dated.expires_at == datetime(2027, 1, 1, tzinfo=UTC)


def test_creating_a_taken_key_is_a_conflict(flags: FlagService) -> None:
    flags.create(ADMIN, "dup")
    with pytest.raises(Conflict, match="'dup' already exists"):
        flags.create(ADMIN, "dup")


@pytest.mark.parametrize("key", ["", "has space", "a/b", "x" * 101, ".."])
def test_a_key_that_is_not_url_friendly_is_rejected(flags: FlagService, key: str) -> None:
    with pytest.raises(InvalidFlagDefinition, match="not a valid flag key"):
        flags.create(ADMIN, key)


def test_an_unknown_flag_type_is_rejected_naming_the_types(flags: FlagService) -> None:
    with pytest.raises(InvalidFlagDefinition, match="expected one of release, experiment"):
        flags.create(ADMIN, "x", type="temporary")


def test_an_approver_may_read_flags_but_not_change_them(flags: FlagService) -> None:
    flags.create(ADMIN, "readable")

    assert [f.key for f in flags.list_flags(APPROVER)] == ["readable"]
    with pytest.raises(Forbidden, match="manage feature flags"):
        flags.enable(APPROVER, "readable", "production")


def test_changing_an_unknown_flag_is_not_found(flags: FlagService) -> None:
    with pytest.raises(NotFound, match="no flag 'ghost'"):
        flags.enable(ADMIN, "ghost", "production")


# ------------------------------------------------------------------------ payload and revisions


def test_a_new_flag_is_served_off_in_an_environment_it_was_never_configured_in(
    flags: FlagService,
) -> None:
    flags.create(ADMIN, "fresh", description="new")

    payload = flags.client_features("qa", segments_inline=False)

    assert payload["version"] == 2
    assert payload["features"] == [
        {
            "name": "fresh",
            "type": "release",
            "description": "new",
            "enabled": False,
            "stale": False,
            "impressionData": False,
            "project": "default",
            "strategies": [],
            "variants": [],
            "dependencies": [],
        }
    ]
    assert payload["segments"] == []


def test_revision_grows_only_for_the_environments_a_change_affects(
    flags: FlagService, uow: UnitOfWorkFactory
) -> None:
    assert flags.revision("production") == 0
    flags.create(ADMIN, "rev")
    after_create = {env: flags.revision(env) for env in ("production", "staging", "qa")}
    assert all(value > 0 for value in after_create.values())

    flags.enable(ADMIN, "rev", "staging")

    assert flags.revision("staging") > after_create["staging"]
    assert flags.revision("production") == after_create["production"]

    before_archive = {env: flags.revision(env) for env in ("production", "staging", "qa")}
    flags.archive(ADMIN, "rev")
    assert all(flags.revision(env) > before_archive[env] for env in before_archive)
    with uow() as unit:
        rows = {r.environment for r in unit.session.scalars(select(FlagRevisionRow))}
    assert rows == {"*", "staging"}


def test_listeners_hear_which_environment_changed(flags: FlagService) -> None:
    heard: list[frozenset[str]] = []
    flags.on_change(heard.append)

    flags.create(ADMIN, "loud")
    flags.disable(ADMIN, "loud", "dev")

    assert heard == [frozenset({"*"}), frozenset({"dev"})]


def test_the_snapshot_is_reused_until_the_revision_changes(flags: FlagService) -> None:
    flags.create(ADMIN, "cached")
    first = flags.snapshot("production")

    assert flags.snapshot("production") is first
    flags.enable(ADMIN, "cached", "production")
    second = flags.snapshot("production")
    assert second is not first
    assert is_enabled(second, "cached", Context(user_id="u1"))


# ---------------------------------------------------------------------------- toggles and rollouts


def test_enabling_adds_a_full_rollout_and_marks_the_flag_fully_rolled_out(
    flags: FlagService,
) -> None:
    flags.create(ADMIN, "full")

    flag = flags.enable(ADMIN, "full", "production")

    env = flag.environments["production"]
    assert env.enabled
    assert env.strategies == [
        {
            "name": "flexibleRollout",
            "parameters": {"rollout": "100", "stickiness": "default", "groupId": "full"},
            "constraints": [],
            "segments": [],
            "variants": [],
            "disabled": False,
        }
    ]
    assert env.fully_rolled_out_since == START


def test_rollout_with_a_constraint_turns_the_flag_on_only_for_matching_users(
    flags: FlagService, clock: FixedClock
) -> None:
    flags.create(ADMIN, "express-checkout-v2")
    flags.enable(ADMIN, "express-checkout-v2", "production")
    clock.advance(hours=1)

    flag = flags.rollout(
        ADMIN,
        "express-checkout-v2",
        "production",
        100,
        stickiness="userId",
        constraints=[{"contextName": "userTier", "operator": "IN", "values": ["premium"]}],
    )

    [strategy] = flag.environments["production"].strategies
    assert strategy["parameters"] == {
        "rollout": "100",
        "stickiness": "userId",
        "groupId": "express-checkout-v2",
    }
    # constrained: not "on for everyone" any more
    assert flag.environments["production"].fully_rolled_out_since is None
    assert on(flags, "production", "express-checkout-v2", userId="7", userTier="premium")
    assert not on(flags, "production", "express-checkout-v2", userId="7", userTier="free")


def test_rollout_replaces_an_unconstrained_default_strategy_and_keeps_others(
    flags: FlagService,
) -> None:
    flags.create(ADMIN, "ramp")
    flags.set_strategies(
        ADMIN,
        "ramp",
        "production",
        [{"name": "default"}, {"name": "userWithId", "parameters": {"userIds": "qa-1"}}],
    )

    flag = flags.rollout(ADMIN, "ramp", "production", 0)

    names = [s["name"] for s in flag.environments["production"].strategies]
    assert names == ["userWithId", "flexibleRollout"]
    assert flag.environments["production"].enabled
    assert on(flags, "production", "ramp", userId="qa-1")
    assert not on(flags, "production", "ramp", userId="someone")


def test_a_rollout_percentage_outside_0_to_100_is_bad_input(flags: FlagService) -> None:
    flags.create(ADMIN, "pct")
    with pytest.raises(BadInput, match="101 is not a percentage"):
        flags.rollout(ADMIN, "pct", "production", 101)


def test_kill_turns_the_flag_off_everywhere_at_once_and_is_audited(
    flags: FlagService, uow: UnitOfWorkFactory
) -> None:
    flags.create(ADMIN, "doomed")
    flags.enable(ADMIN, "doomed", "staging")
    flags.rollout(ADMIN, "doomed", "production", 10)

    flag = flags.kill(CI, "doomed", reason="500s on checkout")

    assert {name: env.enabled for name, env in flag.environments.items()} == {
        "production": False,
        "staging": False,
    }
    assert not on(flags, "staging", "doomed", userId="1")
    with uow() as unit:
        [event] = audit.events(unit, subject="flag/doomed", limit=1)
    assert event.action == "flag.killed"
    assert event.actor == "ci-bot"
    assert event.before == {"enabled": {"production": True, "staging": True}}
    assert event.after is not None and event.after["reason"] == "500s on checkout"


def test_every_change_is_audited_with_its_action(
    flags: FlagService, uow: UnitOfWorkFactory
) -> None:
    flags.create(ADMIN, "parent")
    flags.create(ADMIN, "audited")
    flags.update(ADMIN, "audited", description="now described", owner="team-a")
    flags.enable(ADMIN, "audited", "dev")
    flags.disable(ADMIN, "audited", "dev")
    flags.set_strategies(ADMIN, "audited", "dev", [{"name": "default"}])
    flags.set_variants(ADMIN, "audited", "dev", [{"name": "a"}, {"name": "b"}])
    flags.rollout(ADMIN, "audited", "dev", 50)
    flags.set_dependencies(ADMIN, "audited", [{"feature": "parent"}])
    flags.kill(ADMIN, "audited")
    flags.set_dependencies(ADMIN, "audited", [])
    flags.archive(ADMIN, "audited")
    flags.revive(ADMIN, "audited")

    assert actions(uow, "flag/audited") == [
        "flag.created",
        "flag.updated",
        "flag.enabled",
        "flag.disabled",
        "flag.strategies_set",
        "flag.variants_set",
        "flag.rolled_out",
        "flag.dependencies_set",
        "flag.killed",
        "flag.dependencies_set",
        "flag.archived",
        "flag.revived",
    ]
    with uow() as unit:
        updated = [
            e for e in audit.events(unit, subject="flag/audited") if e.action == "flag.updated"
        ]
    assert updated[0].before is not None and updated[0].before["owner"] is None
    assert updated[0].after is not None and updated[0].after["owner"] == "team-a"


# ------------------------------------------------------------------------ strategies and variants


def test_a_malformed_strategy_is_rejected_naming_its_path(flags: FlagService) -> None:
    flags.create(ADMIN, "strict")
    bad_constraint = [
        {
            "name": "default",
            "constraints": [{"contextName": "tier", "operator": "IN", "values": "x"}],
        }
    ]

    with pytest.raises(InvalidFlagDefinition, match=r"strategies\[0\]\.constraints\[0\]\.values"):
        flags.set_strategies(ADMIN, "strict", "production", bad_constraint)
    with pytest.raises(InvalidFlagDefinition, match=r"strategies\[0\]\.name: 'gradual'"):
        flags.set_strategies(ADMIN, "strict", "production", [{"name": "gradual"}])
    with pytest.raises(InvalidFlagDefinition, match=r"parameters\.rollout: '150'"):
        flags.set_strategies(
            ADMIN,
            "strict",
            "production",
            [{"name": "flexibleRollout", "parameters": {"rollout": 150}}],
        )
    assert flags.get_flag(ADMIN, "strict").environments == {}


def test_an_unknown_operator_is_stored_and_never_matches(flags: FlagService) -> None:
    flags.create(ADMIN, "future")
    strategy = {
        "name": "default",
        "constraints": [{"contextName": "userId", "operator": "STR_FUZZY", "values": ["1"]}],
    }
    flags.set_strategies(ADMIN, "future", "production", [strategy])
    flags.enable(ADMIN, "future", "production")

    stored = flags.get_flag(ADMIN, "future").environments["production"].strategies
    assert stored[0]["constraints"][0]["operator"] == "STR_FUZZY"
    assert not on(flags, "production", "future", userId="1")


def test_variant_weights_are_fixed_on_save_in_locale_order(flags: FlagService) -> None:
    flags.create(ADMIN, "colours", type="experiment")
    flag = flags.set_variants(
        ADMIN,
        "colours",
        "production",
        [
            {"name": "green"},
            {"name": "Blue", "weight": 100, "weightType": "fix"},
            {"name": "alpha", "payload": {"type": "json", "value": "{}"}},
        ],
    )

    variants = flag.environments["production"].variants
    assert [(v["name"], v["weight"]) for v in variants] == [
        ("alpha", 450),
        ("Blue", 100),
        ("green", 450),
    ]
    flags.enable(ADMIN, "colours", "production")
    variant = get_variant(flags.snapshot("production"), "colours", Context(user_id="42"))
    assert variant.name in {"alpha", "Blue", "green"}


def test_a_variant_payload_of_an_unknown_type_is_rejected(flags: FlagService) -> None:
    flags.create(ADMIN, "payload")
    with pytest.raises(InvalidFlagDefinition, match=r"variants\[0\]\.payload\.type: 'xml'"):
        flags.set_variants(
            ADMIN, "payload", "dev", [{"name": "a", "payload": {"type": "xml", "value": "<a/>"}}]
        )


# ---------------------------------------------------------------------------- segments


def test_segments_are_served_top_level_or_inlined_for_old_sdks(flags: FlagService) -> None:
    segment = flags.create_segment(
        ADMIN,
        "norway",
        constraints=[{"contextName": "country", "operator": "IN", "values": ["NO"]}],
    )
    flags.create(ADMIN, "nordic")
    flags.set_strategies(
        ADMIN,
        "nordic",
        "production",
        [{"name": "default", "segments": [segment.id], "constraints": []}],
    )
    flags.enable(ADMIN, "nordic", "production")

    modern = flags.client_features("production", segments_inline=False)
    legacy = flags.client_features("production", segments_inline=True)

    assert modern["segments"] == [
        {"id": segment.id, "name": "norway", "constraints": segment.constraints}
    ]
    assert modern["features"][0]["strategies"][0]["segments"] == [segment.id]
    assert "segments" not in legacy
    assert "segments" not in legacy["features"][0]["strategies"][0]
    assert legacy["features"][0]["strategies"][0]["constraints"] == segment.constraints
    assert on(flags, "production", "nordic", country="NO")
    assert not on(flags, "production", "nordic", country="SE")


def test_editing_a_segment_bumps_every_environment_and_changes_evaluation(
    flags: FlagService,
) -> None:
    segment = flags.create_segment(
        ADMIN, "tier", constraints=[{"contextName": "tier", "operator": "IN", "values": ["a"]}]
    )
    flags.create(ADMIN, "seg-flag")
    flags.set_strategies(ADMIN, "seg-flag", "prod", [{"name": "default", "segments": [segment.id]}])
    flags.enable(ADMIN, "seg-flag", "prod")
    before = flags.revision("prod")
    assert on(flags, "prod", "seg-flag", tier="a")

    flags.update_segment(
        ADMIN, "tier", constraints=[{"contextName": "tier", "operator": "IN", "values": ["b"]}]
    )

    assert flags.revision("prod") > before
    assert not on(flags, "prod", "seg-flag", tier="a")
    assert on(flags, "prod", "seg-flag", tier="b")
    assert flags.list_segments(ADMIN)[0].used_by == ["seg-flag"]


def test_a_segment_in_use_cannot_be_deleted_and_an_unknown_id_is_refused(
    flags: FlagService,
) -> None:
    segment = flags.create_segment(ADMIN, "used")
    flags.create(ADMIN, "user")
    flags.set_strategies(ADMIN, "user", "dev", [{"name": "default", "segments": [segment.id]}])

    with pytest.raises(Conflict, match="used by user"):
        flags.delete_segment(ADMIN, "used")
    with pytest.raises(InvalidFlagDefinition, match=r"segments\[0\]: no segment with id 999"):
        flags.set_strategies(ADMIN, "user", "dev", [{"name": "default", "segments": [999]}])
    flags.set_strategies(ADMIN, "user", "dev", [])
    flags.delete_segment(ADMIN, "used")
    assert flags.list_segments(ADMIN) == []


# ------------------------------------------------------------------------ archive, dependencies


def test_an_archived_flag_leaves_the_payload_and_returns_when_revived(flags: FlagService) -> None:
    flags.create(ADMIN, "old")
    flags.enable(ADMIN, "old", "production")

    flags.archive(ADMIN, "old")
    assert flags.client_features("production", segments_inline=False)["features"] == []
    assert flags.list_flags(ADMIN) == []
    assert [f.key for f in flags.list_flags(ADMIN, include_archived=True)] == ["old"]
    with pytest.raises(Conflict, match="archived: revive it first"):
        flags.enable(ADMIN, "old", "production")

    flags.revive(ADMIN, "old")
    assert on(flags, "production", "old", userId="1")


def test_dependencies_are_one_level_deep_and_hold_at_evaluation(flags: FlagService) -> None:
    flags.create(ADMIN, "parent")
    flags.create(ADMIN, "child")
    flags.create(ADMIN, "grandchild")
    flags.enable(ADMIN, "child", "production")

    flags.set_dependencies(ADMIN, "child", [{"feature": "parent", "enabled": True}])
    assert not on(flags, "production", "child", userId="1")
    flags.enable(ADMIN, "parent", "production")
    assert on(flags, "production", "child", userId="1")

    with pytest.raises(InvalidFlagDefinition, match="one level of dependencies"):
        flags.set_dependencies(ADMIN, "grandchild", [{"feature": "child"}])
    with pytest.raises(InvalidFlagDefinition, match="cannot depend on itself"):
        flags.set_dependencies(ADMIN, "parent", [{"feature": "parent"}])
    with pytest.raises(Conflict, match="child depend on it"):
        flags.archive(ADMIN, "parent")


def test_an_expiry_not_in_the_future_is_refused_naming_the_field(flags: FlagService) -> None:
    refused = r"^expires_at: 2026-11-01T00:00:00\+00:00 is not in the future"
    with pytest.raises(BadInput, match=refused):
        flags.create(ADMIN, "born-expired", expires_at=datetime(2026, 11, 1, tzinfo=UTC))
    with pytest.raises(BadInput, match=r"force_expired"):
        flags.create(ADMIN, "born-expired", expires_at=START)
    assert [f.key for f in flags.list_flags(ADMIN)] == []


def test_force_expired_creates_a_flag_that_is_stale_from_the_start(flags: FlagService) -> None:
    flag = flags.create(
        ADMIN, "born-expired", expires_at=datetime(2026, 11, 1, tzinfo=UTC), force_expired=True
    )

    assert flag.stale_reasons[0] == "expired on 2026-11-01"


def test_an_update_to_a_past_expiry_is_refused_unless_forced(flags: FlagService) -> None:
    flags.create(ADMIN, "aging")
    past = START - timedelta(days=1)

    with pytest.raises(BadInput, match=r"^expires_at: .* not in the future"):
        flags.update(ADMIN, "aging", expires_at=past)
    assert flags.get_flag(ADMIN, "aging").expires_at == START + timedelta(days=30)
    # other fields, and clearing the expiry, are not concerned
    assert flags.update(ADMIN, "aging", description="x", expires_at=None).expires_at is None
    assert flags.update(ADMIN, "aging", expires_at=past, force_expired=True).expires_at == past


# ---------------------------------------------------------------------------- views: stale, metrics


def test_a_flag_past_its_expiry_is_stale_with_the_reason(
    flags: FlagService, clock: FixedClock
) -> None:
    flags.create(ADMIN, "aging")
    clock.advance(days=31)

    [flag] = flags.list_flags(ADMIN)

    assert flag.stale
    assert flag.stale_reasons == ["expired on 2026-12-02"]


def test_usage_metrics_are_summed_per_environment(
    flags: FlagService, uow: UnitOfWorkFactory
) -> None:
    flags.create(ADMIN, "measured")
    seen = START + timedelta(hours=2)
    with uow() as unit:
        for hour, (yes, no) in enumerate([(3, 1), (5, 0)]):
            unit.session.add(
                FlagMetricRow(
                    flag_key="measured",
                    environment="production",
                    app_name="shop",
                    hour=START + timedelta(hours=hour),
                    yes=yes,
                    no=no,
                    variants={},
                    last_seen_at=START + timedelta(hours=hour * 2),
                )
            )
        unit.commit()

    flag = flags.get_flag(APPROVER, "measured")

    usage = flag.metrics["production"]
    assert (usage.yes, usage.no, usage.last_seen_at) == (8, 1, seen)


def test_concurrent_changes_each_bump_the_revision_once(flags: FlagService) -> None:
    from concurrent.futures import ThreadPoolExecutor

    keys = [f"parallel-{i}" for i in range(8)]
    for key in keys:
        flags.create(ADMIN, key)
    before = flags.revision("production")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: flags.enable(CI, key, "production"), keys))

    assert flags.revision("production") == before + len(keys)
    assert all(f.environments["production"].enabled for f in flags.list_flags(ADMIN))


# ---------------------------------------------------------------------------- regex constraints

_BAD_REGEX = {"contextName": "email", "operator": "REGEX", "value": "^(?=admin)"}


def test_a_regex_the_linear_engine_cannot_take_is_refused_naming_the_constraint(
    flags: FlagService,
) -> None:
    flags.create(ADMIN, "regex-flag")
    strategies = [
        {"name": "default", "constraints": [{"contextName": "a", "operator": "IN", "values": []}]},
        {"name": "default", "constraints": [_BAD_REGEX]},
    ]
    with pytest.raises(InvalidFlagDefinition) as caught:
        flags.set_strategies(ADMIN, "regex-flag", "production", strategies)
    assert str(caught.value) == (
        "strategies[1].constraints[0].value: '^(?=admin)' cannot be a REGEX constraint: "
        "invalid perl operator: (?="
    )
    assert flags.get_flag(ADMIN, "regex-flag").environments == {}


def test_an_invalid_regex_is_refused_in_a_rollout_and_a_segment(flags: FlagService) -> None:
    flags.create(ADMIN, "regex-rollout")
    with pytest.raises(InvalidFlagDefinition, match=r"constraints\[0\]\.value: '\(unclosed'"):
        flags.rollout(
            ADMIN,
            "regex-rollout",
            "production",
            50,
            constraints=[{"contextName": "email", "operator": "REGEX", "value": "(unclosed"}],
        )
    with pytest.raises(InvalidFlagDefinition, match="class set operations"):
        flags.create_segment(
            ADMIN,
            "vowels",
            constraints=[{"contextName": "email", "operator": "REGEX", "value": "[a-z&&[aeiou]]"}],
        )
    assert [segment.name for segment in flags.list_segments(ADMIN)] == []


def test_an_import_with_an_unsupported_regex_is_refused_whole(flags: FlagService) -> None:
    document = {
        "version": 2,
        "features": [
            {"name": "fine", "enabled": True, "strategies": [{"name": "default"}]},
            {
                "name": "lookbehind",
                "enabled": True,
                "strategies": [
                    {
                        "name": "default",
                        "constraints": [
                            {"contextName": "email", "operator": "REGEX", "value": "(?<!x)y"}
                        ],
                    }
                ],
            },
        ],
    }
    with pytest.raises(InvalidFlagDefinition, match="cannot be a REGEX constraint"):
        flags.import_unleash(ADMIN, document, environment="production")
    assert flags.list_flags(ADMIN) == []


def test_a_catastrophic_regex_is_stored_and_evaluates_in_linear_time(flags: FlagService) -> None:
    flags.create(ADMIN, "redos")
    constraint = {"contextName": "email", "operator": "REGEX", "value": "^(a+)+$"}
    flags.set_strategies(
        ADMIN, "redos", "production", [{"name": "default", "constraints": [constraint]}]
    )
    flags.enable(ADMIN, "redos", "production")
    assert on(flags, "production", "redos", email="a" * 30_000 + "!") is False
    assert on(flags, "production", "redos", email="a" * 30_000) is True
