from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relgate.errors import BadInput, InvalidFlagDefinition
from relgate.flags.lifecycle import (
    EXPECTED_LIFETIME_DAYS,
    EnvironmentFacts,
    default_expiry,
    flag_facts,
    is_fully_rolled_out,
    lint,
    stale_reasons,
)
from relgate.flags.references import Reference, ScanResult

CREATED = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def on_since(at: datetime | None) -> EnvironmentFacts:
    return EnvironmentFacts(enabled=True, fully_rolled_out_since=at)


def test_expected_lifetimes_are_unleashs() -> None:
    assert EXPECTED_LIFETIME_DAYS == {
        "release": 40,
        "experiment": 40,
        "operational": 7,
        "kill-switch": None,
        "permission": None,
    }


@pytest.mark.parametrize(
    ("flag_type", "days"),
    [("release", 30), ("experiment", 30), ("operational", 7)],
)
def test_default_expiry_is_set_by_the_flag_type(flag_type: str, days: int) -> None:
    assert default_expiry(flag_type, CREATED) == CREATED + timedelta(days=days)


@pytest.mark.parametrize("flag_type", ["kill-switch", "permission"])
def test_kill_switches_and_permission_flags_never_expire_by_default(flag_type: str) -> None:
    assert default_expiry(flag_type, CREATED) is None


def test_a_naive_creation_time_is_read_as_utc() -> None:
    naive = datetime(2026, 9, 1, 12, 0)
    assert default_expiry("release", naive) == CREATED + timedelta(days=30)


def test_an_unknown_flag_type_is_refused_with_the_known_types() -> None:
    with pytest.raises(BadInput, match=r"unknown flag type 'feature'.*release, experiment"):
        default_expiry("feature", CREATED)


def test_a_young_flag_before_its_expiry_is_not_stale() -> None:
    now = CREATED + timedelta(days=3)
    reasons = stale_reasons("release", CREATED, default_expiry("release", CREATED), {}, now)
    assert reasons == []


def test_a_flag_past_its_expiry_date_says_when_it_expired() -> None:
    expires = datetime(2026, 10, 1, 0, 0, tzinfo=UTC)
    now = datetime(2026, 10, 2, tzinfo=UTC)
    assert stale_reasons("release", CREATED, expires, {}, now) == ["expired on 2026-10-01"]


def test_a_flag_expires_at_the_very_moment_of_its_expiry() -> None:
    expires = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    assert stale_reasons("kill-switch", CREATED, expires, {}, expires) == ["expired on 2026-10-01"]
    assert stale_reasons("kill-switch", CREATED, expires, {}, expires - timedelta(seconds=1)) == []


def test_a_release_flag_older_than_forty_days_is_stale_even_without_expiry() -> None:
    now = CREATED + timedelta(days=41)
    assert stale_reasons("release", CREATED, None, {}, now) == [
        "older than a release flag's expected lifetime (40 days)"
    ]


def test_an_experiment_flag_is_named_with_an() -> None:
    now = CREATED + timedelta(days=41)
    assert stale_reasons("experiment", CREATED, None, {}, now) == [
        "older than an experiment flag's expected lifetime (40 days)"
    ]


def test_an_operational_flag_is_stale_after_seven_days() -> None:
    assert stale_reasons("operational", CREATED, None, {}, CREATED + timedelta(days=7)) == []
    assert stale_reasons("operational", CREATED, None, {}, CREATED + timedelta(days=8)) == [
        "older than an operational flag's expected lifetime (7 days)"
    ]


def test_a_kill_switch_is_never_stale_by_age() -> None:
    now = CREATED + timedelta(days=3650)
    assert stale_reasons("kill-switch", CREATED, None, {}, now) == []
    assert stale_reasons("permission", CREATED, None, {}, now) == []


def test_a_flag_on_for_everyone_everywhere_for_too_long_is_time_to_remove() -> None:
    now = CREATED + timedelta(days=20)
    environments = {
        "staging": on_since(CREATED),
        "production": on_since(CREATED + timedelta(days=8)),
    }
    reasons = stale_reasons("kill-switch", CREATED, None, environments, now)
    # counted from the last environment that got there
    assert reasons == ["on for everyone in every environment for 12 days: time to remove it"]


def test_rolled_out_days_is_a_threshold_that_must_be_exceeded() -> None:
    environments = {"production": on_since(CREATED)}
    at_threshold = CREATED + timedelta(days=7)
    assert stale_reasons("kill-switch", CREATED, None, environments, at_threshold) == []
    assert stale_reasons(
        "kill-switch", CREATED, None, environments, at_threshold, rolled_out_days=6
    ) == ["on for everyone in every environment for 7 days: time to remove it"]


def test_one_environment_not_fully_rolled_out_keeps_the_flag_alive() -> None:
    now = CREATED + timedelta(days=30)
    environments = {"staging": on_since(CREATED), "production": on_since(None)}
    assert stale_reasons("kill-switch", CREATED, None, environments, now) == []


def test_a_disabled_environment_keeps_the_flag_alive_even_with_a_stale_date() -> None:
    now = CREATED + timedelta(days=30)
    environments = {
        "staging": on_since(CREATED),
        "production": EnvironmentFacts(enabled=False, fully_rolled_out_since=CREATED),
    }
    assert stale_reasons("kill-switch", CREATED, None, environments, now) == []


def test_a_flag_with_no_environments_is_not_rolled_out() -> None:
    assert stale_reasons("kill-switch", CREATED, None, {}, CREATED + timedelta(days=99)) == []


def test_every_rule_that_applies_is_reported_in_order() -> None:
    now = CREATED + timedelta(days=50)
    reasons = stale_reasons(
        "release",
        CREATED,
        CREATED + timedelta(days=30),
        {"production": on_since(CREATED + timedelta(days=1))},
        now,
    )
    assert reasons == [
        "expired on 2026-10-01",
        "older than a release flag's expected lifetime (40 days)",
        "on for everyone in every environment for 49 days: time to remove it",
    ]


def test_one_day_is_singular() -> None:
    environments = {"production": on_since(CREATED)}
    reasons = stale_reasons(
        "permission",
        CREATED,
        None,
        environments,
        CREATED + timedelta(days=1, hours=1),
        rolled_out_days=0,
    )
    assert reasons == ["on for everyone in every environment for 1 day: time to remove it"]


def test_naive_and_aware_datetimes_mix_as_utc() -> None:
    naive_created = datetime(2026, 9, 1, 12, 0)
    reasons = stale_reasons(
        "release", naive_created, datetime(2026, 10, 1), {}, datetime(2026, 10, 2, tzinfo=UTC)
    )
    assert reasons == ["expired on 2026-10-01"]


def test_a_negative_rolled_out_days_is_refused() -> None:
    with pytest.raises(BadInput, match="rolled-out days"):
        stale_reasons("release", CREATED, None, {}, CREATED, rolled_out_days=-1)


def test_stale_reasons_refuses_an_unknown_flag_type() -> None:
    with pytest.raises(BadInput, match="unknown flag type"):
        stale_reasons("toggle", CREATED, None, {}, CREATED)


def test_a_default_strategy_without_constraints_is_fully_rolled_out() -> None:
    assert is_fully_rolled_out(True, [{"name": "default", "parameters": {}, "constraints": []}])


def test_a_disabled_flag_is_never_fully_rolled_out() -> None:
    assert not is_fully_rolled_out(False, [{"name": "default"}])


def test_an_enabled_flag_without_strategies_is_on_for_everyone() -> None:
    assert is_fully_rolled_out(True, [])


@pytest.mark.parametrize("rollout", ["100", 100, "100.0", 100.0])
def test_a_flexible_rollout_at_one_hundred_is_fully_rolled_out(rollout: object) -> None:
    strategy = {
        "name": "flexibleRollout",
        "parameters": {"rollout": rollout, "stickiness": "default"},
    }
    assert is_fully_rolled_out(True, [strategy])


@pytest.mark.parametrize("rollout", ["99", 50, "", None, "abc", "nan", True])
def test_a_partial_or_malformed_rollout_is_not_fully_rolled_out(rollout: object) -> None:
    strategy = {"name": "flexibleRollout", "parameters": {"rollout": rollout}}
    assert not is_fully_rolled_out(True, [strategy])


def test_constraints_or_segments_mean_not_everyone() -> None:
    constrained = {
        "name": "default",
        "constraints": [{"contextName": "userTier", "operator": "IN", "values": ["premium"]}],
    }
    segmented = {"name": "flexibleRollout", "parameters": {"rollout": "100"}, "segments": [3]}
    assert not is_fully_rolled_out(True, [constrained])
    assert not is_fully_rolled_out(True, [segmented])


def test_user_ids_strategy_is_not_everyone_but_a_later_default_is() -> None:
    user_ids = {"name": "userWithId", "parameters": {"userIds": "alice,bob"}}
    assert not is_fully_rolled_out(True, [user_ids])
    assert is_fully_rolled_out(True, [user_ids, {"name": "default"}])


def test_a_disabled_strategy_does_not_count() -> None:
    assert not is_fully_rolled_out(True, [{"name": "default", "disabled": True}])


def test_a_random_gradual_rollout_at_one_hundred_is_everyone() -> None:
    strategy = {"name": "gradualRolloutRandom", "parameters": {"percentage": "100"}}
    assert is_fully_rolled_out(True, [strategy])


# --------------------------------------------------------------------------- the lint report

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def view(key: str, **fields: object) -> dict[str, object]:
    """A FlagView as GET /api/v1/flags returns it (JSON)."""
    base: dict[str, object] = {
        "key": key,
        "type": "release",
        "description": "",
        "owner": "ana",
        "tags": [],
        "created_at": "2026-11-20T00:00:00Z",
        "updated_at": "2026-11-20T00:00:00Z",
        "expires_at": None,
        "archived_at": None,
        "impression_data": False,
        "dependencies": [],
        "stale": False,
        "stale_reasons": [],
        "environments": {},
        "metrics": {},
    }
    base.update(fields)
    return base


def env(enabled: bool, since: str | None, strategies: list[object] | None = None) -> object:
    return {
        "enabled": enabled,
        "strategies": strategies if strategies is not None else [{"name": "default"}],
        "variants": [],
        "updated_at": "2026-11-01T00:00:00Z",
        "fully_rolled_out_since": since,
    }


def scan_of(*refs: tuple[str, str, int]) -> ScanResult:
    return ScanResult(sorted(Reference(path, line, 1, key) for key, path, line in refs), 3)


def test_lint_sorts_flags_into_debt_categories() -> None:
    flags = flag_facts(
        [
            view("used-and-fine"),
            view("expired-in-use", expires_at="2026-11-01T00:00:00Z"),
            view("expired-unused", expires_at="2026-11-02T00:00:00Z", owner=None),
            view("old-release", created_at="2026-08-01T00:00:00Z"),
            view(
                "rolled-out",
                type="kill-switch",
                environments={
                    "staging": env(True, "2026-10-01T00:00:00Z"),
                    "production": env(True, "2026-11-06T09:00:00Z"),
                },
            ),
            view("archived-one", archived_at="2026-11-10T00:00:00Z"),
        ],
        "flags.json",
    )
    scan = scan_of(
        ("used-and-fine", "app.py", 3),
        ("expired-in-use", "app.py", 10),
        ("expired-in-use", "web/nav.ts", 2),
        ("old-release", "app.py", 20),
        ("rolled-out", "app.py", 30),
        ("not-defined", "jobs/task.go", 7),
        ("archived-one", "app.py", 40),
    )
    report = lint(flags, scan, NOW)
    assert not report.ok
    assert [f.flag.key for f in report.expired_in_use] == ["expired-in-use"]
    assert [r.location for r in report.expired_in_use[0].references] == [
        "app.py:10",
        "web/nav.ts:2",
    ]
    assert [f.flag.key for f in report.expired] == ["expired-in-use", "expired-unused"]
    assert report.expired[1].reasons == ["expired on 2026-11-02"]
    assert list(report.undefined) == ["archived-one", "not-defined"]
    assert report.archived == {"archived-one"}
    assert [r.location for r in report.undefined["not-defined"]] == ["jobs/task.go:7"]
    assert [f.key for f in report.unreferenced] == ["expired-unused"]
    assert [(f.flag.key, f.reasons) for f in report.stale] == [
        ("old-release", ["older than a release flag's expected lifetime (40 days)"])
    ]
    assert [(f.flag.key, f.rolled_out_days) for f in report.rolled_out] == [("rolled-out", 20)]
    assert report.flags_defined == 5


def test_a_clean_code_base_passes_the_lint() -> None:
    flags = flag_facts([view("new-nav")], "flags.json")
    report = lint(flags, scan_of(("new-nav", "app.ts", 1)), NOW)
    assert report.ok
    assert (report.undefined, report.unreferenced, report.expired) == ({}, [], [])


def test_an_expired_flag_nobody_references_does_not_fail_the_lint() -> None:
    flags = flag_facts([view("gone", expires_at="2026-01-01T00:00:00Z")], "flags.json")
    report = lint(flags, scan_of(), NOW)
    assert report.ok
    assert [f.flag.key for f in report.expired] == ["gone"]


def test_the_rolled_out_threshold_is_configurable() -> None:
    flags = flag_facts(
        [view("r", type="permission", environments={"prod": env(True, "2026-11-20T09:00:00Z")})],
        "flags.json",
    )
    assert lint(flags, scan_of(), NOW).rolled_out == []
    assert [
        f.rolled_out_days for f in lint(flags, scan_of(), NOW, rolled_out_days=5).rolled_out
    ] == [6]


def test_flags_are_read_from_an_unleash_client_features_payload() -> None:
    payload = {
        "version": 2,
        "features": [
            {
                "name": "everyone",
                "type": "release",
                "enabled": True,
                "stale": False,
                "strategies": [{"name": "flexibleRollout", "parameters": {"rollout": "100"}}],
            },
            {
                "name": "half",
                "type": "experiment",
                "enabled": True,
                "stale": True,
                "strategies": [{"name": "flexibleRollout", "parameters": {"rollout": "50"}}],
            },
        ],
    }
    flags = {flag.key: flag for flag in flag_facts(payload, "features.json")}
    assert flags["everyone"].fully_rolled_out
    assert not flags["half"].fully_rolled_out
    report = lint(list(flags.values()), scan_of(), NOW)
    assert [(f.flag.key, f.rolled_out_days) for f in report.rolled_out] == [("everyone", None)]
    assert "since when is not known" in report.rolled_out[0].reasons[0]
    assert [(f.flag.key, f.reasons) for f in report.stale] == [("half", ["marked stale"])]


def test_flags_are_read_from_an_unleash_export_with_several_environments() -> None:
    export = {
        "features": [
            {"name": "checkout", "type": "release", "createdAt": "2026-06-01T00:00:00.000Z"},
            {"name": "retired", "type": "release", "archived": True},
        ],
        "featureEnvironments": [
            {"featureName": "checkout", "environment": "development", "enabled": True},
            {"featureName": "checkout", "environment": "production", "enabled": True},
        ],
        "featureStrategies": [
            {"featureName": "checkout", "environment": "development", "name": "default"},
            {
                "featureName": "checkout",
                "environment": "production",
                "name": "flexibleRollout",
                "parameters": {"rollout": "25", "stickiness": "default", "groupId": "checkout"},
            },
        ],
    }
    flags = {flag.key: flag for flag in flag_facts(export, "export.json")}
    assert set(flags["checkout"].environments) == {"development", "production"}
    assert not flags["checkout"].fully_rolled_out
    assert flags["checkout"].created_at == datetime(2026, 6, 1, tzinfo=UTC)
    assert flags["retired"].archived
    report = lint(list(flags.values()), scan_of(("retired", "a.py", 1)), NOW)
    assert report.archived == {"retired"}
    assert [f.flag.key for f in report.stale] == ["checkout"]


def test_a_document_that_is_no_flags_document_is_refused_naming_the_file() -> None:
    with pytest.raises(InvalidFlagDefinition, match=r"^f\.json: not a flags document"):
        flag_facts({"hello": "world"}, "f.json")


def test_a_bad_date_names_the_file_and_the_field() -> None:
    with pytest.raises(InvalidFlagDefinition, match=r"f\.json: \[0\]\.expires_at: 'soon'"):
        flag_facts([view("x", expires_at="soon")], "f.json")


def test_a_flag_without_key_or_with_an_unknown_type_is_refused() -> None:
    with pytest.raises(InvalidFlagDefinition, match=r"\[1\]\.key: required"):
        flag_facts([view("x"), {"type": "release"}], "f.json")
    with pytest.raises(InvalidFlagDefinition, match=r"\[0\]\.type: 'toggle'"):
        flag_facts([view("x", type="toggle")], "f.json")


def test_a_malformed_unleash_strategy_names_the_file_and_path() -> None:
    export = {
        "version": 2,
        "query": {"environment": "production"},
        "features": [{"type": "release"}],
    }
    with pytest.raises(InvalidFlagDefinition, match=r"^f\.json: features\[0\]\.name"):
        flag_facts(export, "f.json")
