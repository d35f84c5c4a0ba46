"""The pure rules of notifications: back-off, filters, subscriber validation, Slack, signatures."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from relgate.errors import BadInput
from relgate.notify import slack, webhook
from relgate.notify.backoff import Backoff
from relgate.notify.events import DomainEvent, EventType
from relgate.notify.subscribers import (
    Filters,
    SubscriberKind,
    SubscriberSpec,
    check_url,
    redacted_url,
    validate,
)

WHEN = datetime(2026, 12, 2, 3, 4, 5, tzinfo=UTC)


def rollback_event(**data: object) -> DomainEvent:
    return DomainEvent(
        type=EventType.DEPLOYMENT_SUCCEEDED,
        subject="deployment/42",
        time=WHEN,
        service="payments",
        environment="production",
        actor="alice",
        data={
            "kind": "rollback",
            "deployment_id": 42,
            "version": "1.4.0",
            "artifact": "registry/payments@sha256:aaa",
            "previous_version": "1.5.0",
            "previous_artifact": "registry/payments@sha256:bbb",
            "reason": "error rate up",
            **data,
        },
        id="0b7c6f7e-1111-4222-8333-444455556666",
    )


# ---------------------------------------------------------------------------- back-off


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(base=2, cap=60)
    assert [backoff.ceiling(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


def test_backoff_delay_is_jittered_within_the_upper_half_of_its_ceiling() -> None:
    backoff = Backoff(base=1, cap=600)
    rng = random.Random(7)
    delays = [backoff.delay(5, rng) for _ in range(200)]
    assert min(delays) >= 8 and max(delays) <= 16
    assert len({round(d, 6) for d in delays}) > 150  # spread, not one instant


def test_backoff_of_a_huge_attempt_number_stays_at_the_cap() -> None:
    assert Backoff(base=2, cap=600).ceiling(10_000) == 600


# ---------------------------------------------------------------------------- filters


def test_empty_filters_admit_every_event() -> None:
    assert Filters().admits("flag.changed", None, None)


def test_filters_admit_only_their_services_environments_and_types() -> None:
    filters = Filters(
        services=("payments",), environments=("production",), event_types=("deployment.failed",)
    )
    assert filters.admits("deployment.failed", "payments", "production")
    assert not filters.admits("deployment.succeeded", "payments", "production")
    assert not filters.admits("deployment.failed", "search", "production")
    assert not filters.admits("deployment.failed", "payments", "staging")


def test_a_service_filter_does_not_admit_an_event_of_no_service() -> None:
    assert not Filters(services=("payments",)).admits("flag.changed", None, "production")


# ---------------------------------------------------------------------------- validation


def spec(**changes: object) -> SubscriberSpec:
    values: dict[str, object] = {
        "name": "ops",
        "kind": SubscriberKind.WEBHOOK,
        "url": "https://hooks.example.com/relgate",
        "secret": "s3cret",
    }
    values.update(changes)
    return SubscriberSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("https:///nohost", "http:// or https://"),
        ("https://user:pw@example.com/", "user and password"),
        ("https://example.com/a b", "spaces"),
        ("http://[::1", "is not a URL"),
    ],
)
def test_a_receiver_url_must_be_http_or_https_with_a_host(url: str, message: str) -> None:
    with pytest.raises(BadInput, match="url") as caught:
        check_url(url)
    assert message in str(caught.value)


def test_validation_names_the_field_that_is_wrong() -> None:
    with pytest.raises(BadInput, match=r"^name 'Ops!'"):
        validate(spec(name="Ops!"))
    with pytest.raises(BadInput, match=r"event 'deployment\.exploded' is not an event"):
        validate(spec(filters=Filters(event_types=("deployment.exploded",))))
    with pytest.raises(BadInput, match="not both"):
        validate(spec(secret_env="HOOK_SECRET"))
    with pytest.raises(BadInput, match="Slack incoming webhook is not signed"):
        validate(spec(kind=SubscriberKind.SLACK))
    assert validate(spec()).name == "ops"


def test_a_slack_url_is_shown_without_its_secret_path() -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    assert redacted_url(SubscriberKind.SLACK, url) == "https://hooks.slack.com/…"
    assert redacted_url(SubscriberKind.WEBHOOK, "https://h.example/p?token=x") == (
        "https://h.example/p?…"
    )


# ---------------------------------------------------------------------------- Slack


def test_a_rollback_message_carries_the_runbook_fields_and_the_link() -> None:
    body = slack.message(rollback_event(), "https://relgate.example.com")
    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert fields == [
        "*Service*\npayments",
        "*Environment*\nproduction",
        "*Rolled back FROM*\n1.5.0 (registry/payments@sha256:bbb)",
        "*Rolled back TO*\n1.4.0 (registry/payments@sha256:aaa)",
        "*Executed by*\nalice",
        "*Time*\n2026-12-02 03:04:05 UTC",
    ]
    assert body["blocks"][0]["text"]["text"] == "Rollback: payments in production"
    button = body["blocks"][-1]["elements"][0]
    assert button["url"] == "https://relgate.example.com/api/v1/deployments/42"
    assert body["text"].startswith("Rollback: payments in production: 1.5.0")


def test_an_auto_rollback_and_a_rolled_back_deployment_are_rollbacks_too() -> None:
    assert slack.is_rollback(rollback_event(kind="auto-rollback"))
    rolled_back = DomainEvent(
        type=EventType.DEPLOYMENT_ROLLED_BACK,
        subject="deployment/41",
        time=WHEN,
        service="payments",
        environment="production",
        actor="relgate",
        data={"version": "1.4.0", "rolled_back_from": "1.5.0", "rolled_back_to": "1.4.0"},
    )
    fields = slack.rollback_fields(rolled_back)
    assert (fields["Rolled back FROM"], fields["Rolled back TO"]) == ("1.5.0", "1.4.0")
    assert not slack.is_rollback(rollback_event(kind="promote"))


def test_other_events_get_one_line_and_escape_slack_markup() -> None:
    event = DomainEvent(
        type=EventType.DEPLOYMENT_FAILED,
        subject="deployment/7",
        time=WHEN,
        service="payments",
        environment="staging",
        data={"version": "2.0.0", "outcome": "verify said <!channel> & failed"},
    )
    body = slack.message(event)
    assert body["text"] == (
        "*Deployment failed*: payments in staging, version 2.0.0\n"
        "verify said &lt;!channel&gt; &amp; failed"
    )
    assert [block["type"] for block in body["blocks"]] == ["section", "context"]


def test_without_a_public_url_there_is_no_link() -> None:
    body = slack.message(rollback_event(), "")
    assert body["blocks"][-1]["type"] != "actions"


# ---------------------------------------------------------------------------- CloudEvents


def test_a_webhook_body_is_a_structured_cloudevent_with_the_event_id() -> None:
    event = rollback_event()
    headers, body = webhook.cloudevent(event, "https://relgate.example.com")
    document = json.loads(body)
    assert headers["content-type"] == "application/cloudevents+json"
    assert document["specversion"] == "1.0"
    assert document["id"] == event.id
    assert document["type"] == "dev.relgate.deployment.succeeded"
    assert document["source"] == "https://relgate.example.com"
    assert document["subject"] == "deployment/42"
    assert document["data"]["service"] == "payments"
    assert document["data"]["previous_version"] == "1.5.0"


def test_the_signature_covers_timestamp_and_exact_body() -> None:
    body = b'{"id":"x"}'
    header = webhook.signature("key", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert webhook.verify("key", header, body, now=1_700_000_010)
    assert not webhook.verify("key", header, body + b" ", now=1_700_000_010)
    assert not webhook.verify("other", header, body, now=1_700_000_010)
    # replayed later than the tolerance
    assert not webhook.verify("key", header, body, now=1_700_000_000 + 301)
    assert not webhook.verify("key", "garbage", body, now=1_700_000_000)


def test_the_signature_matches_a_receiver_computing_it_by_the_documentation() -> None:
    import hashlib
    import hmac

    body = b'{"specversion":"1.0"}'
    expected = hmac.new(b"key", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhook.signature("key", 1_700_000_000, body) == f"t=1700000000,v1={expected}"


def test_a_secret_with_control_characters_is_refused() -> None:
    with pytest.raises(BadInput, match="secret: may not contain control characters"):
        validate(spec(secret="line\nbreak"))


# ---------------------------------------------------------------------------- settings


def test_the_notify_settings_are_read_from_the_environment() -> None:
    from relgate.config import Settings

    settings = Settings.from_env(
        {
            "RELGATE_PUBLIC_URL": "https://relgate.example.com/",
            "RELGATE_NOTIFY_MAX_ATTEMPTS": "4",
            "RELGATE_NOTIFY_BACKOFF_BASE_SECONDS": "0.5",
            "RELGATE_NOTIFY_BACKOFF_CAP_SECONDS": "30",
            "RELGATE_METRICS_TOKEN": "scrape",
        }
    )
    assert settings.public_url == "https://relgate.example.com"
    assert (settings.notify_max_attempts, settings.notify_backoff_base_seconds) == (4, 0.5)
    assert (settings.notify_backoff_cap_seconds, settings.metrics_token) == (30, "scrape")
    assert Settings.from_env({}).notify_max_attempts == 10


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RELGATE_PUBLIC_URL", "relgate.example.com", "is not an http(s) URL"),
        ("RELGATE_NOTIFY_MAX_ATTEMPTS", "0", "must be at least 1"),
        ("RELGATE_NOTIFY_READ_TIMEOUT_SECONDS", "soon", "is not a number"),
    ],
)
def test_a_bad_notify_setting_names_the_variable(variable: str, value: str, message: str) -> None:
    from relgate.config import Settings

    with pytest.raises(BadInput, match=variable) as caught:
        Settings.from_env({variable: value})
    assert message in str(caught.value)
