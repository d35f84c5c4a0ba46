"""Flag serving against the real FlagService on SQLite and PostgreSQL: payloads, ETags, metrics."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.errors import Forbidden, Unauthorized
from relgate.flags.metrics import ClientMetrics, ClientMetricsService, ClientRegistration
from relgate.flags.model import Context
from relgate.flags.serving import (
    ClientAuthenticator,
    FlagServing,
    OfrepError,
    PayloadFormat,
    accepts_gzip,
    etag_matches,
    feature_changes,
    ofrep_context,
    ofrep_evaluate,
    payload_format,
)

ADMIN = Principal("tester", Role.ADMIN)
PREMIUM = [{"contextName": "userTier", "operator": "IN", "values": ["premium"]}]


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build(Settings(database_url=database_url))
    yield built
    built.uow.engine.dispose()


def checkout_flag(services: Services) -> int:
    """The issue's example: express-checkout-v2 on in production for premium users (a segment)."""
    segment = services.flags.create_segment(ADMIN, "premium-users", constraints=PREMIUM)
    services.flags.create(ADMIN, "express-checkout-v2")
    strategy = {"name": "default", "parameters": {}, "constraints": [], "segments": [segment.id]}
    services.flags.set_strategies(ADMIN, "express-checkout-v2", "production", [strategy])
    services.flags.enable(ADMIN, "express-checkout-v2", "production")
    return segment.id


def test_the_payload_is_served_from_memory_until_the_revision_moves(services: Services) -> None:
    checkout_flag(services)
    serving = FlagServing(services.flags, revision_ttl=60)
    first = serving.features("production", PayloadFormat.SEGMENTS)
    assert serving.features("production", PayloadFormat.SEGMENTS) is first
    assert serving.cached_features("production", PayloadFormat.SEGMENTS) is first

    services.flags.kill(ADMIN, "express-checkout-v2")

    # the kill was made in this process: its listener resets the revision at once
    assert serving.cached_features("production", PayloadFormat.SEGMENTS) is None
    second = serving.features("production", PayloadFormat.SEGMENTS)
    assert second.revision > first.revision
    assert second.etag != first.etag
    assert json.loads(second.body)["features"][0]["enabled"] is False


def test_a_change_made_by_another_replica_is_seen_through_the_revision(
    services: Services, database_url: str
) -> None:
    checkout_flag(services)
    other_replica = build(Settings(database_url=database_url))
    serving = FlagServing(services.flags, revision_ttl=0)
    before = serving.features("production", PayloadFormat.SEGMENTS)

    other_replica.flags.disable(ADMIN, "express-checkout-v2", "production")
    other_replica.uow.engine.dispose()

    after = serving.features("production", PayloadFormat.SEGMENTS)
    assert after.revision > before.revision
    assert json.loads(after.body)["features"][0]["enabled"] is False


def test_a_change_in_another_environment_keeps_the_etag(services: Services) -> None:
    checkout_flag(services)
    serving = FlagServing(services.flags, revision_ttl=0)
    before = serving.features("production", PayloadFormat.SEGMENTS)

    services.flags.enable(ADMIN, "express-checkout-v2", "staging")

    assert serving.features("production", PayloadFormat.SEGMENTS).etag == before.etag
    assert serving.features("staging", PayloadFormat.SEGMENTS).etag != before.etag


def test_old_sdks_get_segment_constraints_inlined(services: Services) -> None:
    segment_id = checkout_flag(services)
    serving = FlagServing(services.flags)

    modern = serving.features("production", payload_format("5.0.0")).document
    old = serving.features("production", payload_format("4.1.0")).document

    assert modern["segments"][0]["id"] == segment_id
    assert modern["features"][0]["strategies"][0]["segments"] == [segment_id]
    assert "segments" not in old
    assert old["features"][0]["strategies"][0]["constraints"][0]["values"] == ["premium"]
    assert serving.etag("production", PayloadFormat.SEGMENTS) != serving.etag(
        "production", PayloadFormat.INLINE
    )


def test_gzip_body_is_the_plain_body_compressed_once(services: Services) -> None:
    checkout_flag(services)
    payload = FlagServing(services.flags).features("production", PayloadFormat.SEGMENTS)

    assert gzip.decompress(payload.gzipped()) == payload.body
    assert payload.gzipped() is payload.gzipped()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, PayloadFormat.INLINE),
        ("", PayloadFormat.INLINE),
        ("4.1.9", PayloadFormat.INLINE),
        ("4.2.0", PayloadFormat.SEGMENTS),
        ("4.2", PayloadFormat.SEGMENTS),
        ("5.1.0-beta.1", PayloadFormat.SEGMENTS),
        ("nonsense", PayloadFormat.INLINE),
    ],
)
def test_client_spec_header_decides_the_segment_format(
    header: str | None, expected: PayloadFormat
) -> None:
    assert payload_format(header) is expected


def test_if_none_match_accepts_lists_weak_tags_and_star() -> None:
    assert etag_matches('"a", W/"b"', '"b"')
    assert etag_matches("*", '"b"')
    assert not etag_matches('"a"', '"b"')
    assert not etag_matches(None, '"b"')


def test_gzip_is_not_used_when_refused() -> None:
    assert accepts_gzip("gzip, deflate, br")
    assert not accepts_gzip("gzip;q=0, identity")
    assert not accepts_gzip("identity")


def test_only_client_tokens_pass_the_client_authenticator(services: Services) -> None:
    _, client = services.tokens.create("sdk", "client", "tester", environment="production")
    _, ci = services.tokens.create("pipeline", "ci", "tester")
    auth = ClientAuthenticator(services.tokens.authenticate, ttl=60)

    assert auth.client(client).environment == "production"
    assert auth.client(f"Bearer {client}").environment == "production"
    assert auth.cached(client) is not None
    with pytest.raises(Forbidden, match="role client; token 'pipeline' has the role ci"):
        auth.client(ci)
    with pytest.raises(Unauthorized):
        auth.client(None)
    with pytest.raises(Unauthorized):
        auth.client("rg_unknown")


def test_stream_listeners_wake_when_their_environment_changes(services: Services) -> None:
    checkout_flag(services)
    serving = FlagServing(services.flags)

    async def scenario() -> tuple[bool, bool]:
        _, production = serving.hub.listen("production")
        _, staging = serving.hub.listen("development")
        # the change is made from a worker thread, as the API's routes make it
        await asyncio.to_thread(services.flags.disable, ADMIN, "express-checkout-v2", "production")
        await asyncio.wait_for(production.wait(), 5)
        return production.is_set(), staging.is_set()

    assert asyncio.run(scenario()) == (True, False)


def test_stream_deltas_name_what_changed() -> None:
    before = {
        "features": [{"name": "a", "enabled": True}, {"name": "b", "enabled": True}],
        "segments": [{"id": 1, "constraints": []}],
    }
    after = {
        "features": [{"name": "a", "enabled": False}, {"name": "c", "enabled": True}],
        "segments": [],
    }

    events = feature_changes(before, after, 7)

    assert [
        (e["type"], e.get("featureName") or e.get("feature", {}).get("name")) for e in events
    ] == [
        ("feature-updated", "a"),
        ("feature-updated", "c"),
        ("feature-removed", "b"),
        ("segment-removed", None),
    ]
    assert feature_changes(None, after, 7)[0]["type"] == "hydration"


def bucket(hour: int, yes: int, no: int, variants: dict[str, int] | None = None) -> ClientMetrics:
    start = datetime(2026, 11, 2, hour, 5, tzinfo=UTC)
    return ClientMetrics.model_validate(
        {
            "appName": "checkout",
            "instanceId": "pod-1",
            "bucket": {
                "start": start.isoformat(),
                "stop": start.replace(minute=6).isoformat(),
                "toggles": {
                    "express-checkout-v2": {"yes": yes, "no": no, "variants": variants or {}}
                },
            },
        }
    )


def test_metrics_add_up_per_flag_and_environment(services: Services) -> None:
    services.flags.create(ADMIN, "express-checkout-v2")
    metrics = ClientMetricsService(services.uow, services.clock)

    metrics.record("production", bucket(10, 3, 1, {"blue": 3}))
    metrics.record("production", bucket(10, 2, 0, {"blue": 1, "red": 1}))
    metrics.record("production", bucket(11, 1, 1))
    metrics.record("staging", bucket(10, 5, 5))

    usage = metrics.usage(["express-checkout-v2"])["express-checkout-v2"]
    assert (usage["production"].yes, usage["production"].no) == (6, 2)
    assert usage["production"].variants == {"blue": 4, "red": 1}
    assert (usage["staging"].yes, usage["staging"].no) == (5, 5)


def test_concurrent_metrics_of_one_hour_are_all_counted(services: Services) -> None:
    services.flags.create(ADMIN, "express-checkout-v2")
    metrics = ClientMetricsService(services.uow, services.clock)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            for _ in range(5):
                metrics.record("production", bucket(12, 1, 0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert metrics.usage()["express-checkout-v2"]["production"].yes == 20


def test_counts_of_flags_relgate_does_not_know_are_dropped_not_stored(
    services: Services,
) -> None:
    services.flags.create(ADMIN, "express-checkout-v2")
    metrics = ClientMetricsService(services.uow, services.clock)
    body = bucket(10, 3, 1).model_dump(by_alias=True, mode="json")
    body["bucket"]["toggles"]["no-such-flag"] = {"yes": 7, "no": 0, "variants": {}}

    stored = metrics.record("production", ClientMetrics.model_validate(body))

    assert stored == 1
    assert set(metrics.usage()) == {"express-checkout-v2"}


def test_a_registration_is_kept_once_per_instance_and_refreshed(services: Services) -> None:
    metrics = ClientMetricsService(services.uow, services.clock)
    registration = {
        "appName": "checkout",
        "instanceId": "pod-1",
        "sdkVersion": "unleash-python-sdk:6.9.1",
        "strategies": ["default", "flexibleRollout"],
        "started": "2026-11-02T10:00:00+00:00",
        "interval": 60000,
    }

    metrics.register("production", ClientRegistration.model_validate(registration))
    metrics.register(
        "production", ClientRegistration.model_validate({**registration, "interval": 1000})
    )

    [application] = metrics.applications("production")
    assert application.app_name == "checkout"
    assert application.sdk_version == "unleash-python-sdk:6.9.1"
    assert application.strategies == ["default", "flexibleRollout"]
    assert application.interval_ms == 1000


def variant_flag(services: Services, payload: dict[str, str] | None) -> None:
    services.flags.create(ADMIN, "banner")
    services.flags.enable(ADMIN, "banner", "production")
    variant: dict[str, object] = {"name": "summer", "weight": 1000, "stickiness": "default"}
    if payload is not None:
        variant["payload"] = payload
    services.flags.set_variants(ADMIN, "banner", "production", [variant])


@pytest.mark.parametrize(
    ("payload", "value"),
    [
        ({"type": "string", "value": "Hot deals"}, "Hot deals"),
        ({"type": "number", "value": "42"}, 42),
        ({"type": "number", "value": "0.5"}, 0.5),
        ({"type": "json", "value": '{"colour": "red"}'}, {"colour": "red"}),
        ({"type": "csv", "value": "a,b"}, "a,b"),
        (None, "summer"),
    ],
)
def test_ofrep_gives_the_variant_payload_typed(
    services: Services, payload: dict[str, str] | None, value: object
) -> None:
    variant_flag(services, payload)
    snapshot = FlagServing(services.flags).snapshot("production")

    result = ofrep_evaluate(snapshot, "banner", ofrep_context({"context": {}}, "production"))

    assert result["value"] == value
    assert result["variant"] == "summer"
    assert result["reason"] == "SPLIT"


def test_ofrep_reads_targeting_key_as_user_id() -> None:
    context = ofrep_context({"context": {"targetingKey": "u-1", "userTier": "premium"}}, "prod")

    assert context == Context(user_id="u-1", environment="prod", properties={"userTier": "premium"})


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"context": "x"},
        {"context": {"targetingKey": {"a": 1}}},
        {"context": {"currentTime": "x"}},
        {"context": {f"field{n}": "x" for n in range(1_001)}},
        {"context": {"a": "x", "properties": {f"p{n}": "x" for n in range(1_000)}}},
    ],
)
def test_ofrep_refuses_a_bad_context(body: object) -> None:
    with pytest.raises(OfrepError) as raised:
        ofrep_context(body, "production", "banner")

    assert raised.value.error_code == "INVALID_CONTEXT"
    assert raised.value.body()["key"] == "banner"
