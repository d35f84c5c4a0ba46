"""FlagClient against a real HTTP server (StubFeatureServer) on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from relgate.sdk import ImpressionEvent
from relgate.sdk.client import CLIENT_SPEC_VERSION, SDK_VERSION
from tests.integration.sdk.conftest import ClientFactory
from tests.integration.sdk.stub_server import CHECKOUT, StubFeatureServer, features, flag
from tests.support.server import free_port, wait_for


def test_client_fetches_the_flags_with_the_unleash_headers(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(stub.url, instance_id="web-1")

    assert client.is_enabled("checkout") is True
    assert client.is_enabled("kill-switch") is False
    headers = stub.feature_requests()[0].headers
    assert headers["Authorization"] == "client-token-1"
    assert headers["UNLEASH-APPNAME"] == "checkout-web"
    assert headers["UNLEASH-INSTANCEID"] == "web-1"
    assert headers["Unleash-Client-Spec"] == CLIENT_SPEC_VERSION
    assert headers["UNLEASH-SDK"] == SDK_VERSION


def test_custom_headers_are_sent_but_cannot_replace_the_token(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    make_client(stub.url, custom_headers={"X-Team": "payments", "authorization": "other"})

    headers = stub.feature_requests()[0].headers
    assert headers["X-Team"] == "payments"
    assert headers["Authorization"] == "client-token-1"
    assert "other" not in headers.values()


def test_polling_picks_up_a_change_within_one_interval(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(stub.url, refresh_interval=0.1)
    assert client.is_enabled("checkout") is True

    stub.set_payload(features(flag("checkout", False)))

    wait_for(lambda: client.is_enabled("checkout") is False, timeout=10)


def test_unchanged_flags_get_304_and_the_snapshot_is_kept(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(stub.url, refresh_interval=0.05)
    first = client.snapshot

    wait_for(lambda: stub.count(304) >= 3, timeout=10)

    assert client.snapshot is first
    assert client.etag == stub.etag
    assert stub.count(200) == 1
    later = stub.feature_requests()[-1].headers
    assert later["If-None-Match"] == stub.etag


def test_an_unreachable_server_gives_the_bootstrap_values_and_a_warning(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="relgate.sdk")

    client = make_client(f"http://127.0.0.1:{free_port()}", bootstrap=CHECKOUT)

    assert client.ready
    assert client.is_enabled("checkout") is True
    assert client.is_enabled("nope", default=True) is True
    assert any("cannot reach" in r.getMessage() for r in caplog.records)


def test_a_bootstrap_file_is_read_and_a_missing_one_is_named(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(CHECKOUT))
    client = make_client(f"http://127.0.0.1:{free_port()}", bootstrap=path, start=False)
    assert client.is_enabled("checkout") is True

    with pytest.raises(Exception, match=r"missing\.json: cannot read the flag bootstrap file"):
        make_client("http://127.0.0.1:1", bootstrap=tmp_path / "missing.json", start=False)


def test_a_server_that_went_down_leaves_the_flags_of_the_cache_file(
    stub: StubFeatureServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "shared-cache"
    first = make_client(stub.url, cache_dir=cache_dir)
    assert first.is_enabled("checkout") is True
    first.close()
    stub.stop()

    second = make_client(stub.url, cache_dir=cache_dir)

    assert second.ready
    assert second.is_enabled("checkout") is True
    assert second.etag == '"v1"'


def test_the_cache_wins_over_the_bootstrap(
    stub: StubFeatureServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    make_client(stub.url).close()
    stub.stop()

    client = make_client(stub.url, bootstrap=features(flag("checkout", False)))

    assert client.is_enabled("checkout") is True


@pytest.mark.parametrize("mode", ["error", "garbage", "bad-flags"])
def test_a_failing_server_keeps_the_last_good_flags_and_warns(
    stub: StubFeatureServer,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    client = make_client(stub.url)
    good = client.snapshot
    caplog.set_level(logging.WARNING, logger="relgate.sdk")
    stub.mode = mode
    stub.set_payload(features(flag("checkout", False)))

    assert client.refresh() is False

    assert client.snapshot is good
    assert client.is_enabled("checkout") is True
    expected = "answered 500" if mode == "error" else "cannot be used"
    assert any(expected in r.getMessage() for r in caplog.records)


def test_the_same_failure_is_logged_once_a_minute(
    stub: StubFeatureServer, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(stub.url)
    caplog.set_level(logging.WARNING, logger="relgate.sdk")
    stub.mode = "error"

    for _ in range(5):
        client.refresh()

    assert sum("answered 500" in r.getMessage() for r in caplog.records) == 1


def test_an_unknown_flag_gives_the_default_and_one_warning(
    stub: StubFeatureServer, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(stub.url)
    caplog.set_level(logging.WARNING, logger="relgate.sdk")

    assert client.is_enabled("no-such-flag") is False
    assert client.is_enabled("no-such-flag", default=True) is True
    assert client.variant("no-such-flag").name == "disabled"

    warnings = [r for r in caplog.records if "unknown flag 'no-such-flag'" in r.getMessage()]
    assert len(warnings) == 1


def test_a_bad_context_gives_the_default_instead_of_raising(
    stub: StubFeatureServer, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(stub.url)
    caplog.set_level(logging.WARNING, logger="relgate.sdk")

    assert client.is_enabled("checkout", {"currentTime": "not a date"}, default=False) is False
    assert client.is_enabled("checkout", {"properties": "not a mapping"}, default=True) is True
    assert any("evaluating flag 'checkout' failed" in r.getMessage() for r in caplog.records)


def test_usage_metrics_are_counted_and_sent_with_a_registration(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(stub.url, instance_id="web-2", environment="production")
    for user in range(3):
        client.is_enabled("checkout", {"userId": str(user)})
    client.is_enabled("kill-switch")
    client.variant("theme", {"userId": "7"})

    client.close()

    register = stub.register_posts[0]
    assert register["appName"] == "checkout-web"
    assert register["instanceId"] == "web-2"
    assert register["sdkVersion"] == SDK_VERSION
    assert "flexibleRollout" in register["strategies"]
    bucket = stub.metrics_posts[-1]["bucket"]
    assert stub.metrics_posts[-1]["environment"] == "production"
    assert bucket["toggles"]["checkout"] == {"yes": 3, "no": 0, "variants": {}}
    assert bucket["toggles"]["kill-switch"] == {"yes": 0, "no": 1, "variants": {}}
    assert bucket["toggles"]["theme"] == {"yes": 1, "no": 0, "variants": {"blue": 1}}
    assert bucket["start"] <= bucket["stop"]


def test_metrics_that_cannot_be_sent_are_kept_for_the_next_try(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(stub.url)
    client.is_enabled("checkout")
    stub.post_mode = "error"
    assert client.flush_metrics() is False

    client.is_enabled("checkout")
    stub.post_mode = "ok"
    assert client.flush_metrics() is True

    assert stub.metrics_posts[-1]["bucket"]["toggles"]["checkout"]["yes"] == 2


def test_metrics_are_sent_in_the_background_every_interval(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(stub.url, metrics_interval=0.05)
    client.is_enabled("checkout")

    wait_for(lambda: stub.metrics_posts, timeout=10)

    assert stub.metrics_posts[0]["bucket"]["toggles"]["checkout"]["yes"] == 1


def test_disabled_metrics_send_nothing(stub: StubFeatureServer, make_client: ClientFactory) -> None:
    client = make_client(stub.url, disable_metrics=True, metrics_interval=0.01)
    client.is_enabled("checkout")
    client.close()

    assert stub.metrics_posts == []
    assert stub.register_posts == []


def test_the_impression_callback_gets_flags_with_impression_data(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    events: list[ImpressionEvent] = []
    client = make_client(stub.url, impression_callback=events.append, environment="production")

    client.is_enabled("checkout", {"userId": "42"})
    client.variant("theme", {"userId": "42"})

    assert len(events) == 1
    event = events[0]
    assert event["flag"] == "theme"
    assert event["variant"] == "blue"
    assert event["enabled"] is True
    assert event["user_id"] == "42"
    assert event["app_name"] == "checkout-web"
    assert event["environment"] == "production"
    assert event["event_type"] == "getVariant"
    assert event["time"].endswith("+00:00")


def test_impressions_for_all_flags_and_a_failing_callback_never_raises(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    seen: list[str] = []

    def callback(event: ImpressionEvent) -> None:
        seen.append(event["flag"])
        raise RuntimeError("observability is down")

    client = make_client(stub.url, impression_callback=callback, impressions_for_all_flags=True)

    assert client.is_enabled("checkout") is True
    assert client.is_enabled("kill-switch") is False
    assert seen == ["checkout", "kill-switch"]


def test_the_client_fills_in_app_name_and_environment(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    stub.set_payload(
        features(
            {
                "name": "prod-only",
                "enabled": True,
                "strategies": [
                    {
                        "name": "default",
                        "constraints": [
                            {"contextName": "environment", "operator": "IN", "values": ["prod"]},
                            {"contextName": "appName", "operator": "IN", "values": ["shop"]},
                        ],
                    }
                ],
            }
        )
    )
    client = make_client(stub.url, app_name="shop", environment="prod")

    assert client.is_enabled("prod-only") is True
    assert client.is_enabled("prod-only", {"userId": "1"}) is True
    assert client.is_enabled("prod-only", {"environment": "dev"}) is False
    assert client.is_enabled("prod-only", {"appName": "other", "userId": "1"}) is False


def test_close_is_idempotent_and_the_client_still_answers(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(stub.url, refresh_interval=0.05)
    with client:
        assert client.is_enabled("checkout") is True
    client.close()
    requests = len(stub.feature_requests())
    stub.set_payload(features(flag("checkout", False)))

    assert client.is_enabled("checkout") is True
    assert len(stub.feature_requests()) == requests


def test_a_client_of_another_environment_never_starts_from_this_cache(
    stub: StubFeatureServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    make_client(stub.url, environment="production").close()
    stub.stop()

    staging = make_client(stub.url, environment="staging")

    assert not staging.ready
    assert staging.is_enabled("checkout") is False
    assert "client-token-1" not in "".join(p.name for p in (tmp_path / "cache").iterdir())
