"""The Unleash client API of a real `relgate serve`, used by the unmodified UnleashClient from PyPI.

Flags are changed through FlagService in the test process, on the same
database as the server: the server learns of every change only through the
revision rows, as a second replica would.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from UnleashClient import UnleashClient
from UnleashClient.constants import CLIENT_SPEC_VERSION
from UnleashClient.utils import InstanceAllowType

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.flags.metrics import ClientMetricsService
from tests.support.server import ServerProcess, start_server, wait_for

ADMIN = Principal("tester", Role.ADMIN)
CHECKOUT = "express-checkout-v2"
PREMIUM = {"userId": "u-1", "properties": {"userTier": "premium"}}
FREE = {"userId": "u-2", "properties": {"userTier": "free"}}


@dataclass
class FlagServer:
    server: ServerProcess
    services: Services
    token: str  # a client token of production
    admin_token: str

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(
            self.url + path, headers={"Authorization": self.token, **headers}, timeout=10
        )


def _start(workdir: Path, database_url: str) -> Iterator[FlagServer]:
    services = build(Settings(database_url=database_url))
    _, token = services.tokens.create("checkout-sdk", "client", "tester", environment="production")
    _, admin = services.tokens.create("flag-admin", "admin", "tester")
    server = start_server(workdir, {"RELGATE_DATABASE_URL": database_url})
    try:
        yield FlagServer(server, services, token, admin)
    finally:
        server.stop()
        services.uow.engine.dispose()


@pytest.fixture
def flag_server(database_url: str, tmp_path: Path) -> Iterator[FlagServer]:
    """A server of this test alone, on SQLite and on PostgreSQL."""
    yield from _start(tmp_path / "server", database_url)


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlagServer]:
    """A server on SQLite shared by the tests of this module (each uses its own flags)."""
    from relgate.store import db

    workdir = tmp_path_factory.mktemp("flag-server")
    url = f"sqlite:///{workdir / 'relgate.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    yield from _start(workdir, url)


def premium_checkout(services: Services, key: str = CHECKOUT) -> int:
    """The issue's example: on in production for userTier IN premium (through a segment)."""
    segment = services.flags.create_segment(
        ADMIN,
        f"{key}-premium",
        constraints=[{"contextName": "userTier", "operator": "IN", "values": ["premium"]}],
    )
    services.flags.create(ADMIN, key, description="one-click checkout")
    strategy = {"name": "default", "parameters": {}, "constraints": [], "segments": [segment.id]}
    services.flags.set_strategies(ADMIN, key, "production", [strategy])
    services.flags.enable(ADMIN, key, "production")
    return segment.id


def served(server: FlagServer, key: str, **headers: str) -> dict[str, Any]:
    """Return the features document once it holds ``key``.

    The server reads revisions at most every 200 ms, so a change made by
    another process (this test) shows within that time, not at once.
    """

    def document() -> dict[str, Any] | None:
        body: dict[str, Any] = server.get("/api/client/features", **headers).json()
        return body if key in [f["name"] for f in body["features"]] else None

    found = wait_for(document, timeout=10)
    assert isinstance(found, dict)
    return found


def unleash_client(server: FlagServer, tmp_path: Path, **options: Any) -> UnleashClient:
    client = UnleashClient(
        url=server.url + "/api",
        app_name="checkout",
        environment="production",
        instance_id="pod-1",
        refresh_interval=1,
        metrics_interval=1,
        custom_headers={"Authorization": server.token},
        cache_directory=str(tmp_path / "unleash-cache"),
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
        **options,
    )
    client.initialize_client()
    return client


def test_the_unleash_sdk_follows_the_checkout_flag_until_it_is_killed(
    flag_server: FlagServer, tmp_path: Path
) -> None:
    premium_checkout(flag_server.services)
    client = unleash_client(flag_server, tmp_path)
    try:
        assert client.is_initialized
        assert client.is_enabled(CHECKOUT, PREMIUM)
        assert not client.is_enabled(CHECKOUT, FREE)

        flag_server.services.flags.kill(ADMIN, CHECKOUT, reason="payment errors")

        # refresh_interval=1: the next poll brings the kill
        wait_for(lambda: not client.is_enabled(CHECKOUT, PREMIUM), timeout=15)
        assert not client.is_enabled(CHECKOUT, FREE)

        # the SDK's registration and usage metrics reach the store
        metrics = ClientMetricsService(flag_server.services.uow, flag_server.services.clock)
        usage = wait_for(lambda: metrics.usage([CHECKOUT]).get(CHECKOUT), timeout=15)
        assert isinstance(usage, dict)
        assert usage["production"].yes >= 1
        assert usage["production"].no >= 1
        [application] = metrics.applications("production")
        assert application.app_name == "checkout"
        assert application.instance_id == "pod-1"
        assert application.sdk_version is not None
        assert application.sdk_version.startswith("unleash-python-sdk:")
    finally:
        client.destroy()


def test_the_unleash_sdk_in_streaming_mode_gets_changes_pushed(
    sqlite_server: FlagServer, tmp_path: Path
) -> None:
    key = "streamed-checkout"
    premium_checkout(sqlite_server.services, key)
    client = unleash_client(sqlite_server, tmp_path, experimental_mode={"type": "streaming"})
    try:
        wait_for(lambda: client.is_enabled(key, PREMIUM), timeout=15)

        sqlite_server.services.flags.disable(ADMIN, key, "production")

        wait_for(lambda: not client.is_enabled(key, PREMIUM), timeout=15)
    finally:
        client.destroy()


def test_an_unchanged_environment_answers_304_to_its_etag(sqlite_server: FlagServer) -> None:
    premium_checkout(sqlite_server.services, "etag-checkout")
    served(sqlite_server, "etag-checkout", **{"Unleash-Client-Spec": "5.0.0"})
    first = sqlite_server.get("/api/client/features", **{"Unleash-Client-Spec": "5.0.0"})
    assert first.status_code == 200
    etag = first.headers["ETag"]

    again = sqlite_server.get(
        "/api/client/features", **{"Unleash-Client-Spec": "5.0.0", "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""

    sqlite_server.services.flags.disable(ADMIN, "etag-checkout", "production")

    def changed() -> httpx.Response | None:
        response = sqlite_server.get(
            "/api/client/features", **{"Unleash-Client-Spec": "5.0.0", "If-None-Match": etag}
        )
        return response if response.status_code == 200 else None

    response = wait_for(changed, timeout=10)
    assert isinstance(response, httpx.Response)
    assert response.headers["ETag"] != etag
    flags = {f["name"]: f for f in response.json()["features"]}
    assert flags["etag-checkout"]["enabled"] is False


def test_segments_are_top_level_for_new_sdks_and_inlined_for_old_ones(
    sqlite_server: FlagServer,
) -> None:
    segment_id = premium_checkout(sqlite_server.services, "segment-checkout")

    modern = served(
        sqlite_server, "segment-checkout", **{"Unleash-Client-Spec": CLIENT_SPEC_VERSION}
    )
    old = served(sqlite_server, "segment-checkout", **{"Unleash-Client-Spec": "4.1.0"})
    unversioned = served(sqlite_server, "segment-checkout")

    modern_flag = next(f for f in modern["features"] if f["name"] == "segment-checkout")
    assert modern_flag["strategies"][0]["segments"] == [segment_id]
    assert segment_id in [s["id"] for s in modern["segments"]]
    assert modern["version"] == 2
    for document in (old, unversioned):
        assert "segments" not in document
        flag = next(f for f in document["features"] if f["name"] == "segment-checkout")
        assert flag["strategies"][0]["constraints"][0]["values"] == ["premium"]


def test_features_are_gzipped_when_the_client_accepts_it(sqlite_server: FlagServer) -> None:
    premium_checkout(sqlite_server.services, "gzip-checkout")
    served(sqlite_server, "gzip-checkout")
    url = sqlite_server.url + "/api/client/features"
    with httpx.Client(headers={"Authorization": sqlite_server.token}, timeout=10) as client:
        with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as zipped:
            encoding = zipped.headers["Content-Encoding"]
            compressed = b"".join(zipped.iter_raw())
        plain = client.get(url, headers={"Accept-Encoding": "identity"})

    assert encoding == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(compressed) == plain.content
    assert len(compressed) < len(plain.content)


def test_a_token_that_is_not_a_client_token_gets_403_naming_the_role(
    sqlite_server: FlagServer,
) -> None:
    response = httpx.get(
        sqlite_server.url + "/api/client/features",
        headers={"Authorization": sqlite_server.admin_token},
        timeout=10,
    )

    assert response.status_code == 403
    assert "role client" in response.json()["error"]["message"]
    assert "has the role admin" in response.json()["error"]["message"]


def test_a_missing_or_unknown_token_gets_401(sqlite_server: FlagServer) -> None:
    missing = httpx.get(sqlite_server.url + "/api/client/features", timeout=10)
    unknown = httpx.get(
        sqlite_server.url + "/api/client/features",
        headers={"Authorization": "rg_nobody"},
        timeout=10,
    )

    assert missing.status_code == 401
    assert unknown.status_code == 401


def test_a_bearer_token_is_accepted_too(sqlite_server: FlagServer) -> None:
    response = sqlite_server.get(
        "/api/client/features", Authorization=f"Bearer {sqlite_server.token}"
    )

    assert response.status_code == 200


def test_the_client_token_environment_decides_what_is_served(sqlite_server: FlagServer) -> None:
    premium_checkout(sqlite_server.services, "env-checkout")
    _, staging = sqlite_server.services.tokens.create(
        "staging-sdk", "client", "tester", environment="staging"
    )

    document = served(sqlite_server, "env-checkout", Authorization=staging)

    flag = next(f for f in document["features"] if f["name"] == "env-checkout")
    assert flag["enabled"] is False
    assert document["query"]["environment"] == "staging"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/client/metrics", b"{not json", "the metrics body is not valid JSON"),
        (
            "/api/client/metrics",
            b'{"appName": "x", "bucket": {"start": "yesterday"}}',
            "bucket.start",
        ),
        ("/api/client/metrics", b'{"bucket": null}', "appName"),
        ("/api/client/register", b"[1, 2]", "the register body is not valid"),
        ("/api/client/register", b'{"appName": "x", "interval": -5}', "interval"),
        (
            "/api/client/register",
            b'{"appName": "x", "strategies": [' + b",".join([b'"s"'] * 101) + b"]}",
            "strategies: List should have at most 100 items",
        ),
        ("/api/client/register", b'{"appName": "' + b"a" * 201 + b'"}', "appName"),
        (
            "/api/client/metrics",
            b'{"appName": "x", "bucket": {"start": "2026-11-02T10:00:00Z", '
            b'"stop": "2026-11-02T10:01:00Z", "toggles": {"f": {"yes": -1}}}}',
            "bucket.toggles.f.yes: Input should be greater than or equal to 0",
        ),
        (
            "/api/client/metrics",
            b'{"appName": "x", "bucket": {"start": "2026-11-02T10:00:00Z", '
            b'"stop": "2026-11-02T10:01:00Z", "toggles": {"f": {"no": 10000000000000}}}}',
            "bucket.toggles.f.no: Input should be less than or equal to 1000000000000",
        ),
        (
            "/api/client/metrics",
            b'{"appName": "x", "bucket": {"start": "2026-11-02T10:00:00Z", '
            b'"stop": "2026-11-02T10:01:00Z", "toggles": {"f": {"variants": {"v": -3}}}}}',
            "bucket.toggles.f.variants.v",
        ),
    ],
)
def test_bad_register_and_metrics_bodies_get_400_naming_the_field(
    sqlite_server: FlagServer, path: str, body: bytes, message: str
) -> None:
    response = httpx.post(
        sqlite_server.url + path,
        content=body,
        headers={"Authorization": sqlite_server.token, "Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_register_and_metrics_answer_202_and_are_stored(sqlite_server: FlagServer) -> None:
    sqlite_server.services.flags.create(ADMIN, "billing-v2")
    headers = {"Authorization": sqlite_server.token}
    register = httpx.post(
        sqlite_server.url + "/api/client/register",
        json={
            "appName": "billing",
            "instanceId": "b-1",
            "sdkVersion": "unleash-node:6.0.0",
            "strategies": ["default"],
            "started": "2026-11-02T10:00:00Z",
            "interval": 10000,
        },
        headers=headers,
        timeout=10,
    )
    metrics = httpx.post(
        sqlite_server.url + "/api/client/metrics",
        json={
            "appName": "billing",
            "instanceId": "b-1",
            "bucket": {
                "start": "2026-11-02T10:00:00Z",
                "stop": "2026-11-02T10:01:00Z",
                "toggles": {
                    "billing-v2": {"yes": 7, "no": 2, "variants": {"green": 7}},
                    "billing-no-such-flag": {"yes": 1, "no": 1, "variants": {}},
                },
            },
        },
        headers=headers,
        timeout=10,
    )

    assert (register.status_code, metrics.status_code) == (202, 202)
    store = ClientMetricsService(sqlite_server.services.uow, sqlite_server.services.clock)
    # stored off the request path: it arrives shortly after the 202
    usage = wait_for(lambda: store.usage(["billing-v2"]).get("billing-v2"), timeout=15)
    assert isinstance(usage, dict)
    assert (usage["production"].yes, usage["production"].no) == (7, 2)
    assert usage["production"].variants == {"green": 7}
    assert wait_for(lambda: any(a.app_name == "billing" for a in store.applications("production")))
    # counts of a flag relgate does not know are dropped, not stored
    assert store.usage(["billing-no-such-flag"]) == {}


def test_a_200000_flag_metrics_post_is_refused_naming_the_bound_and_reads_go_on(
    sqlite_server: FlagServer,
) -> None:
    premium_checkout(sqlite_server.services, "huge-metrics-checkout")
    toggles = {f"flag-{n}": {"yes": 1, "no": 0, "variants": {}} for n in range(200_000)}
    body = {
        "appName": "flood",
        "bucket": {
            "start": "2026-11-02T10:00:00Z",
            "stop": "2026-11-02T10:01:00Z",
            "toggles": toggles,
        },
    }
    response = httpx.post(
        sqlite_server.url + "/api/client/metrics",
        json=body,
        headers={"Authorization": sqlite_server.token},
        timeout=60,
    )

    # 413 when the server's body size limit comes first; else the toggle bound
    assert response.status_code in (400, 413), response.text
    if response.status_code == 400:
        assert response.json()["error"]["message"] == (
            "the metrics body is not valid: bucket.toggles: 200000 flags, "
            "at most 10000 are taken in one bucket"
        )
    document = served(sqlite_server, "huge-metrics-checkout")
    assert "huge-metrics-checkout" in [f["name"] for f in document["features"]]


def test_admin_writes_and_flag_reads_succeed_while_metrics_flood_in(
    sqlite_server: FlagServer,
) -> None:
    import threading

    premium_checkout(sqlite_server.services, "flood-checkout")
    toggles = {f"flood-{n}": {"yes": 1, "no": 0, "variants": {}} for n in range(9_999)}
    toggles["flood-checkout"] = {"yes": 1, "no": 0, "variants": {}}
    body = json.dumps(
        {
            "appName": "flood",
            "bucket": {
                "start": "2026-11-02T10:00:00Z",
                "stop": "2026-11-02T10:01:00Z",
                "toggles": toggles,
            },
        }
    ).encode()
    statuses: list[int] = []

    def flood() -> None:
        with httpx.Client(timeout=60) as client:
            for _ in range(20):
                response = client.post(
                    sqlite_server.url + "/api/client/metrics",
                    content=body,
                    headers={
                        "Authorization": sqlite_server.token,
                        "Content-Type": "application/json",
                    },
                )
                statuses.append(response.status_code)

    flooder = threading.Thread(target=flood)
    flooder.start()
    admin = {"Authorization": f"Bearer {sqlite_server.admin_token}"}
    created, read = [], []
    try:
        for n in range(10):
            created.append(
                httpx.post(
                    sqlite_server.url + "/api/v1/flags",
                    json={"key": f"during-flood-{n}"},
                    headers=admin,
                    timeout=30,
                ).status_code
            )
            read.append(sqlite_server.get("/api/client/features").status_code)
    finally:
        flooder.join(120)

    assert created == [201] * 10
    assert read == [200] * 10
    assert statuses == [202] * 20
    # the known flag's counts arrive; the 9 999 unknown ones are dropped
    store = ClientMetricsService(sqlite_server.services.uow, sqlite_server.services.clock)
    assert wait_for(lambda: store.usage(["flood-checkout"]).get("flood-checkout"), timeout=60)
    assert store.usage(["flood-0", "flood-9998"]) == {}


def read_event(lines: Iterator[str]) -> tuple[str, dict[str, Any]]:
    """Return the next (event name, JSON data) of a server-sent event stream, skipping comments."""
    name, data = "", ""
    for line in lines:
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif line == "" and name:
            return name, json.loads(data)
    raise AssertionError("the stream ended")


def test_the_stream_pushes_a_change_as_an_unleash_updated_event(
    sqlite_server: FlagServer,
) -> None:
    premium_checkout(sqlite_server.services, "stream-checkout")
    served(sqlite_server, "stream-checkout", **{"Unleash-Client-Spec": "5.0.0"})
    headers = {"Authorization": sqlite_server.token, "Unleash-Client-Spec": "5.0.0"}
    with httpx.stream(
        "GET", sqlite_server.url + "/api/client/streaming", headers=headers, timeout=20
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        name, data = read_event(lines)
        assert name == "unleash-connected"
        [hydration] = data["events"]
        assert hydration["type"] == "hydration"
        assert "stream-checkout" in [f["name"] for f in hydration["features"]]

        changed_at = time.monotonic()
        sqlite_server.services.flags.disable(ADMIN, "stream-checkout", "production")
        name, data = read_event(lines)
        latency = time.monotonic() - changed_at

    assert name == "unleash-updated"
    assert [(e["type"], e["feature"]["name"], e["feature"]["enabled"]) for e in data["events"]] == [
        ("feature-updated", "stream-checkout", False)
    ]
    # reported, not asserted: the revision is polled every 250 ms
    print(f"stream latency: {latency * 1000:.0f} ms")
