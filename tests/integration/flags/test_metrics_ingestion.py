"""SDK metrics go through a bounded queue to the store (real SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.flags.ingestion import MetricsIngestion
from relgate.flags.metrics import ClientMetrics, parse_metrics, parse_registration
from tests.support.server import wait_for

ADMIN = Principal("alice", Role.ADMIN)


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build(Settings(database_url=database_url))
    built.flags.create(ADMIN, "checkout")
    yield built
    built.uow.engine.dispose()


def metrics(count: int = 1, *flags: str) -> ClientMetrics:
    toggles = {flag: {"yes": count, "no": 0} for flag in flags or ("checkout",)}
    return ClientMetrics.model_validate(
        {
            "appName": "shop",
            "bucket": {
                "start": "2026-11-02T10:00:00Z",
                "stop": "2026-11-02T10:01:00Z",
                "toggles": toggles,
            },
        }
    )


def test_a_full_queue_drops_the_batch_and_counts_it(services: Services) -> None:
    ingestion = MetricsIngestion(services.client_metrics, max_batches=2)

    accepted = [ingestion.submit_metrics("production", metrics(1)) for _ in range(3)]
    ingestion.drain()

    assert accepted == [True, True, False]
    assert ingestion.dropped == 1
    assert services.client_metrics.usage()["checkout"]["production"].yes == 2


def test_the_queue_is_bounded_by_the_flags_it_holds_too(services: Services) -> None:
    ingestion = MetricsIngestion(services.client_metrics, max_toggles=3)
    two = metrics(1, "checkout", "other")

    assert ingestion.submit_metrics("production", two) is True
    assert ingestion.submit_metrics("production", two) is False
    ingestion.drain()
    # stored, the room is free again
    assert ingestion.submit_metrics("production", two) is True
    assert ingestion.dropped == 1


def test_the_thread_stores_batches_and_registrations_until_stopped(services: Services) -> None:
    ingestion = MetricsIngestion(services.client_metrics)
    ingestion.start()
    try:
        for _ in range(5):
            ingestion.submit_metrics("production", metrics(2))
        ingestion.submit_registration(
            "production", parse_registration(b'{"appName": "shop", "instanceId": "pod-1"}')
        )
        wait_for(lambda: ingestion.stored == 6, timeout=15)
    finally:
        ingestion.stop()
    assert services.client_metrics.usage()["checkout"]["production"].yes == 10
    # the metrics came without an instanceId: Unleash's "default"
    assert sorted(app.instance_id for app in services.client_metrics.applications()) == [
        "default",
        "pod-1",
    ]


def test_a_batch_the_store_refuses_does_not_stop_the_thread(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("ERROR", logger="relgate.flags.ingestion")
    ingestion = MetricsIngestion(services.client_metrics)
    # no environment: every database refuses the row (NOT NULL)
    ingestion.submit_metrics(None, metrics(1))  # type: ignore[arg-type]
    ingestion.submit_metrics("production", metrics(1))
    ingestion.start()
    try:
        wait_for(lambda: ingestion.stored == 2, timeout=15)
    finally:
        ingestion.stop()
    assert services.client_metrics.usage()["checkout"]["production"].yes == 1
    assert "storing SDK metrics of None failed" in caplog.text


def test_parse_metrics_refuses_too_many_flags_before_validating_them() -> None:
    from relgate.errors import BadInput

    flags = ",".join(f'"f{n}": {{"yes": "not a number"}}' for n in range(10_001))
    raw = (
        '{"appName": "a", "bucket": {"start": "2026-11-02T10:00:00Z", '
        f'"stop": "2026-11-02T10:01:00Z", "toggles": {{{flags}}}}}}}'
    ).encode()
    with pytest.raises(BadInput) as caught:
        parse_metrics(raw)
    assert str(caught.value) == (
        "the metrics body is not valid: bucket.toggles: 10001 flags, "
        "at most 10000 are taken in one bucket"
    )


def test_counts_of_a_flag_created_after_a_bucket_are_stored_once_it_exists(
    services: Services,
) -> None:
    # the known keys are kept between buckets; a new flag must not be taken for unknown
    assert services.client_metrics.record("production", metrics(1, "checkout", "later")) == 1
    services.flags.create(ADMIN, "later")

    stored = services.client_metrics.record("production", metrics(2, "checkout", "later"))

    usage = services.client_metrics.usage()
    assert stored == 2
    assert usage["later"]["production"].yes == 2
    assert usage["checkout"]["production"].yes == 3
