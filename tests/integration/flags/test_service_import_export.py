"""Unleash import and export through the flag service, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relgate.audit import store as audit
from relgate.auth.model import Principal, Role
from relgate.clock import FixedClock
from relgate.errors import BadInput, InvalidFlagDefinition
from relgate.flags.evaluate import get_variant, is_enabled
from relgate.flags.model import Context
from relgate.flags.service import FlagService
from relgate.store import db
from relgate.store.uow import UnitOfWorkFactory

ADMIN = Principal("alice", Role.ADMIN)
FIXTURE = Path(__file__).parents[2] / "fixtures" / "unleash-export" / "production.json"
BETA_TESTERS = [{"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@beta.test"]}]


@pytest.fixture
def uow(database_url: str) -> Iterator[UnitOfWorkFactory]:
    engine = db.make_engine(database_url)
    try:
        yield UnitOfWorkFactory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def flags(uow: UnitOfWorkFactory) -> FlagService:
    return FlagService(uow, FixedClock(datetime(2026, 11, 2, tzinfo=UTC)))


def unleash_export() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(FIXTURE.read_text())
    return document


def essence(document: dict[str, Any]) -> dict[str, Any]:
    """What must survive a round trip: segment ids become names, file order is ignored."""
    segment_names = {s["id"]: s["name"] for s in document["segments"]}
    strategies = []
    for strategy in sorted(
        document["featureStrategies"], key=lambda s: (s["featureName"], s["sortOrder"])
    ):
        kept = {k: v for k, v in strategy.items() if k != "environment"}
        kept["segments"] = [segment_names[i] for i in strategy["segments"]]
        strategies.append(kept)
    return {
        "features": sorted(
            (f["name"], f["type"], f["description"], f["impressionData"])
            for f in document["features"]
        ),
        "strategies": strategies,
        "environments": sorted(
            (
                e["featureName"],
                e["environment"],
                e["enabled"],
                json.dumps(e["variants"], sort_keys=True),
            )
            for e in document["featureEnvironments"]
        ),
        "tags": sorted(
            (t["featureName"], t["tagType"], t["tagValue"]) for t in document["featureTags"]
        ),
        "dependencies": sorted(json.dumps(d, sort_keys=True) for d in document["dependencies"]),
        "segments": sorted(segment_names.values()),
        "context_fields": sorted(c["name"] for c in document["contextFields"]),
    }


def test_an_unleash_export_survives_import_then_export(flags: FlagService) -> None:
    # as in Unleash, the segments an export names must exist where it is imported
    flags.create_segment(ADMIN, "beta-testers", constraints=BETA_TESTERS)

    summary = flags.import_unleash(ADMIN, unleash_export())

    assert sorted(summary.created) == [
        "express-checkout-v2",
        "new-search",
        "ops_cache_bypass",
        "payments-kill-switch",
        "search.typo-tolerance",
    ]
    assert summary.environments == ["production"]
    exported = flags.export_unleash(ADMIN, ["production"])
    assert essence(exported) == essence(unleash_export())


def test_a_relgate_export_imports_back_unchanged(flags: FlagService) -> None:
    flags.create_segment(ADMIN, "beta-testers", constraints=BETA_TESTERS)
    flags.import_unleash(ADMIN, unleash_export())
    flags.rollout(ADMIN, "express-checkout-v2", "staging", 5)
    first = flags.export_unleash(ADMIN)

    summary = flags.import_unleash(ADMIN, copy.deepcopy(first))

    assert summary.created == []
    assert summary.environments == ["production", "staging"]
    assert flags.export_unleash(ADMIN) == first
    assert first["segments"][0]["constraints"][0]["values"] == ["@beta.test"]


def test_imported_flags_evaluate_as_unleash_defined_them(flags: FlagService) -> None:
    flags.create_segment(ADMIN, "beta-testers", constraints=BETA_TESTERS)
    flags.import_unleash(ADMIN, unleash_export())
    snapshot = flags.snapshot("production")

    assert is_enabled(snapshot, "express-checkout-v2", Context.from_dict({"email": "a@beta.test"}))
    assert not is_enabled(
        snapshot, "express-checkout-v2", Context.from_dict({"userId": "1", "userTier": "free"})
    )
    assert is_enabled(snapshot, "ops_cache_bypass", Context(user_id="ops-2"))
    assert not is_enabled(snapshot, "payments-kill-switch", Context(user_id="1"))
    variant = get_variant(
        snapshot, "new-search", Context.from_dict({"sessionId": "s1", "appVersion": "2.5.0"})
    )
    assert variant.name in {"bm25", "vector"}
    flag = flags.get_flag(ADMIN, "express-checkout-v2")
    assert flag.tags == ["checkout", "team:payments"]
    assert flag.impression_data


def test_every_imported_flag_is_audited(flags: FlagService, uow: UnitOfWorkFactory) -> None:
    flags.create_segment(ADMIN, "beta-testers", constraints=BETA_TESTERS)
    flags.import_unleash(ADMIN, unleash_export())

    with uow() as unit:
        events = audit.events(unit, subject="flag/new-search")
    assert [e.action for e in events] == ["flag.imported"]
    assert events[0].before is None
    assert events[0].after is not None
    assert events[0].after["environments"]["production"]["enabled"] is True


def test_a_segment_neither_in_relgate_nor_defined_in_the_file_is_refused(
    flags: FlagService,
) -> None:
    with pytest.raises(BadInput, match=r"segment 'beta-testers' .*create it first"):
        flags.import_unleash(ADMIN, unleash_export())

    assert flags.list_flags(ADMIN) == []


def test_a_malformed_import_names_the_path_and_writes_nothing(flags: FlagService) -> None:
    document = unleash_export()
    document["featureStrategies"][2]["constraints"][0]["inverted"] = "yes"

    with pytest.raises(
        InvalidFlagDefinition, match=r"featureStrategies\[2\]\.constraints\[0\]\.inverted"
    ):
        flags.import_unleash(ADMIN, document)
    assert flags.list_flags(ADMIN) == []


def test_a_client_payload_imports_into_the_environment_given(flags: FlagService) -> None:
    payload = {
        "version": 2,
        "features": [
            {
                "name": "from-client-api",
                "type": "release",
                "enabled": True,
                "strategies": [
                    {"name": "flexibleRollout", "parameters": {"rollout": "100"}, "segments": [1]}
                ],
                "variants": [],
            }
        ],
        "segments": [
            {
                "id": 1,
                "name": "nl",
                "constraints": [{"contextName": "country", "operator": "IN", "values": ["NL"]}],
            }
        ],
    }
    with pytest.raises(InvalidFlagDefinition, match="does not say which environment"):
        flags.import_unleash(ADMIN, payload)

    summary = flags.import_unleash(ADMIN, payload, environment="staging")

    assert summary.segments_created == ["nl"]
    snapshot = flags.snapshot("staging")
    assert is_enabled(snapshot, "from-client-api", Context.from_dict({"country": "NL"}))
    assert not is_enabled(snapshot, "from-client-api", Context.from_dict({"country": "BE"}))
    strategy = flags.get_flag(ADMIN, "from-client-api").environments["staging"].strategies[0]
    assert strategy["parameters"]["groupId"] == "from-client-api"


def test_a_file_with_several_environments_cannot_be_forced_into_one(flags: FlagService) -> None:
    flags.create(ADMIN, "two")
    flags.enable(ADMIN, "two", "dev")
    flags.enable(ADMIN, "two", "prod")

    with pytest.raises(InvalidFlagDefinition, match="several environments"):
        flags.import_unleash(ADMIN, flags.export_unleash(ADMIN), environment="qa")


def test_an_older_unleash_state_export_with_linked_segments_imports(flags: FlagService) -> None:
    state_export = {
        "version": 1,
        "features": [{"name": "legacy", "type": "operational", "project": "default"}],
        "featureStrategies": [
            {
                "id": "s-1",
                "featureName": "legacy",
                "environment": "production",
                "strategyName": "default",
                "parameters": {},
                "constraints": [],
                "sortOrder": 9999,
            }
        ],
        "featureEnvironments": [
            {"enabled": True, "featureName": "legacy", "environment": "production"}
        ],
        "segments": [
            {
                "id": 12,
                "name": "internal",
                "constraints": [{"contextName": "userId", "operator": "IN", "values": ["me"]}],
            }
        ],
        "featureStrategySegments": [{"featureStrategyId": "s-1", "segmentId": 12}],
    }

    flags.import_unleash(ADMIN, state_export)

    snapshot = flags.snapshot("production")
    assert is_enabled(snapshot, "legacy", Context(user_id="me"))
    assert not is_enabled(snapshot, "legacy", Context(user_id="you"))
    assert flags.get_flag(ADMIN, "legacy").type == "operational"


def test_a_dependency_on_a_flag_known_nowhere_is_refused(flags: FlagService) -> None:
    document = unleash_export()
    document["segments"] = []
    document["featureStrategies"] = []
    document["dependencies"][0]["dependencies"][0]["feature"] = "no-such-parent"

    with pytest.raises(BadInput, match="depends on 'no-such-parent', which is neither"):
        flags.import_unleash(ADMIN, document)
    assert flags.list_flags(ADMIN) == []
