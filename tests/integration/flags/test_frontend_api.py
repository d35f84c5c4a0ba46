"""The Unleash frontend API (/api/frontend) on a real uvicorn server on 127.0.0.1.

Evaluation with the client's context, only enabled flags, ETag/304, token
scope (a frontend token reads its one environment and nothing else), CORS
per token, hostile contexts, and metrics stored as the client API stores them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import mmh3
import pytest
import uvicorn

from relgate.api.app import create_app
from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.errors import BadInput
from tests.support.server import free_port, wait_for

ADMIN = Principal("tester", Role.ADMIN)
SHOP = "https://shop.example"
ROLLOUT = "fe-rollout"


def in_rollout(user: str, percentage: int, group: str = ROLLOUT) -> bool:
    """Unleash's normalized hash, computed here independently of relgate's evaluator."""
    return mmh3.hash(f"{group}:{user}", 0, signed=False) % 100 + 1 <= percentage


@dataclass
class Running:
    url: str
    services: Services
    production: str  # a frontend token of production, for https://shop.example
    staging: str  # a frontend token of staging, no origin
    client: str  # a client (server-side SDK) token of production

    def get(self, token: str | None, path: str = "/api/frontend", **kw: object) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if token is not None:
            headers.setdefault("Authorization", token)
        return httpx.get(self.url + path, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]

    def post(self, token: str | None, path: str = "/api/frontend", **kw: object) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if token is not None:
            headers.setdefault("Authorization", token)
        return httpx.post(self.url + path, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


@pytest.fixture
def running(database_url: str) -> Iterator[Running]:
    services = build(Settings(database_url=database_url))
    tokens = services.tokens
    _, production = tokens.create(
        "shop-web", "frontend", "tester", environment="production", origins=[SHOP + "/"]
    )
    _, staging = tokens.create("shop-web-staging", "frontend", "tester", environment="staging")
    _, client = tokens.create("shop-backend", "client", "tester", environment="production")
    flags = services.flags
    flags.create(ADMIN, "fe-on", impression_data=True)
    flags.enable(ADMIN, "fe-on", "production")
    flags.create(ADMIN, "fe-off")
    flags.create(ADMIN, ROLLOUT)
    flags.rollout(ADMIN, ROLLOUT, "production", 50)
    flags.create(ADMIN, "fe-staging-only")
    flags.enable(ADMIN, "fe-staging-only", "staging")
    flags.create(ADMIN, "fe-premium")
    flags.enable(ADMIN, "fe-premium", "production")
    flags.set_strategies(
        ADMIN,
        "fe-premium",
        "production",
        [
            {
                "name": "default",
                "constraints": [
                    {"contextName": "tier", "operator": "IN", "values": ["premium"]},
                ],
            }
        ],
    )
    flags.set_variants(
        ADMIN,
        "fe-premium",
        "production",
        [{"name": "blue", "weight": 1000, "payload": {"type": "string", "value": "b"}}],
    )
    app = create_app(services, start_workers=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10, interval=0.02)
    try:
        yield Running(f"http://127.0.0.1:{port}", services, production, staging, client)
    finally:
        server.should_exit = True
        thread.join(10)
        services.uow.engine.dispose()


def _names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [t["name"] for t in response.json()["toggles"]]


def _users() -> tuple[str, str]:
    inside = next(f"user-{i}" for i in range(1000) if in_rollout(f"user-{i}", 50))
    outside = next(f"user-{i}" for i in range(1000) if not in_rollout(f"user-{i}", 50))
    return inside, outside


def test_only_the_flags_on_for_the_context_are_returned(running: Running) -> None:
    inside, outside = _users()

    answer = running.get(running.production, params={"userId": inside})
    assert _names(answer) == ["fe-on", ROLLOUT]
    assert _names(running.get(running.production, params={"userId": outside})) == ["fe-on"]
    on = answer.json()["toggles"][0]
    assert on == {
        "name": "fe-on",
        "enabled": True,
        "variant": {"name": "disabled", "enabled": False, "feature_enabled": True},
        "impressionData": True,
    }


def test_properties_in_every_encoding_and_post(running: Running) -> None:
    expected = {"name": "blue", "enabled": True, "payload": {"type": "string", "value": "b"}}
    for params in (
        {"properties[tier]": "premium"},
        {"properties.tier": "premium"},
        {"tier": "premium"},
        {"properties": '{"tier": "premium"}'},
    ):
        toggles = running.get(running.production, params=params).json()["toggles"]
        premium = next(t for t in toggles if t["name"] == "fe-premium")
        assert premium["variant"] == {**expected, "feature_enabled": True}, params
    assert "fe-premium" not in _names(
        running.get(running.production, params={"properties[tier]": "free"})
    )
    posted = running.post(
        running.production, json={"context": {"userId": "u", "properties": {"tier": "premium"}}}
    )
    assert "fe-premium" in _names(posted)
    assert "fe-premium" not in _names(running.post(running.production, json={"context": {}}))
    inside, _ = _users()
    assert _names(running.post(running.production, json={"context": {"userId": inside}})) == [
        "fe-on",
        ROLLOUT,
    ]
    # an empty body is an empty context (no user: the rollout's default stickiness is random)
    assert "fe-on" in _names(running.post(running.production, content=b""))


def test_remote_address_defaults_to_the_caller(running: Running) -> None:
    running.services.flags.create(ADMIN, "fe-local")
    running.services.flags.set_strategies(
        ADMIN,
        "fe-local",
        "production",
        [{"name": "remoteAddress", "parameters": {"IPs": "127.0.0.1"}}],
    )
    running.services.flags.enable(ADMIN, "fe-local", "production")
    assert "fe-local" in _names(running.get(running.production))
    assert "fe-local" not in _names(
        running.get(running.production, params={"remoteAddress": "10.1.1.1"})
    )


def test_etag_and_304(running: Running) -> None:
    first = running.get(running.production, params={"userId": "a"})
    etag = first.headers["ETag"]
    again = running.get(running.production, params={"userId": "a"}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    # another context's answer with other flags has another ETag
    inside, outside = _users()
    a = running.get(running.production, params={"userId": inside}).headers["ETag"]
    b = running.get(running.production, params={"userId": outside}).headers["ETag"]
    assert a != b
    # a change of the flags makes the old ETag stale
    running.services.flags.disable(ADMIN, "fe-on", "production")
    changed = wait_for(
        lambda: (
            running.get(
                running.production, params={"userId": "a"}, headers={"If-None-Match": etag}
            ).status_code
            == 200
        )
    )
    assert changed
    assert "fe-on" not in _names(running.get(running.production, params={"userId": "a"}))


def test_a_frontend_token_reads_its_one_environment_and_nothing_else(running: Running) -> None:
    assert "fe-staging-only" in _names(running.get(running.staging))
    assert "fe-staging-only" not in _names(running.get(running.production))
    # the client's "environment" is ignored: the token's environment decides
    assert "fe-staging-only" not in _names(
        running.get(running.production, params={"environment": "staging"})
    )
    assert "fe-on" not in _names(running.get(running.staging, params={"environment": "production"}))
    # never the definitions of the client API, nor OFREP, nor the admin API
    for path in ("/api/client/features", "/api/v1/flags", "/api/v1/services/shop/releases"):
        assert running.get(running.production, path).status_code == 403, path
    assert running.post(running.production, "/api/client/metrics", json={}).status_code == 403
    assert running.post(running.production, "/ofrep/v1/evaluate/flags", json={}).status_code == 403
    # and the client token is not a frontend token
    assert running.get(running.client).status_code == 403
    assert running.post(running.client, json={}).status_code == 403
    assert running.get(None).status_code == 401
    assert running.get("rg_unknown").status_code == 401
    assert "fe-on" in _names(running.get("Bearer " + running.production))


def test_cors_preflight_and_origins_per_token(running: Running) -> None:
    preflight = httpx.options(
        running.url + "/api/frontend",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, unleash-appname, if-none-match",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    refused = httpx.options(
        running.url + "/api/frontend",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers

    allowed = running.get(running.production, headers={"Origin": SHOP})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP
    assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
    assert "Origin" in allowed.headers["Vary"]
    # the staging token lists no origin: a browser page cannot use it, even from SHOP
    other = running.get(running.staging, headers={"Origin": SHOP})
    assert other.status_code == 403
    assert "Access-Control-Allow-Origin" not in other.headers
    evil = running.get(running.production, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert "Access-Control-Allow-Origin" not in evil.headers
    # errors are readable by an allowed page: the SDK sees its 401
    unknown = running.get("rg_nope", headers={"Origin": SHOP})
    assert unknown.status_code == 401
    assert unknown.headers["Access-Control-Allow-Origin"] == SHOP


def test_a_wildcard_origin_is_answered_without_credentials(running: Running) -> None:
    _, anywhere = running.services.tokens.create(
        "any-web", "frontend", "tester", environment="production", origins=["*"]
    )
    answer = running.get(anywhere, headers={"Origin": "https://blog.example"})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_origins_are_checked_when_the_token_is_made(running: Running) -> None:
    for bad in (
        "shop.example",
        "https://shop.example/path",
        "https://user@shop.example",
        "https://shöp.example",
        "ftp://",
    ):
        with pytest.raises(BadInput):
            running.services.tokens.create(
                f"bad-{abs(hash(bad))}",
                "frontend",
                "tester",
                environment="production",
                origins=[bad],
            )
    with pytest.raises(BadInput, match="origins are for frontend tokens"):
        running.services.tokens.create(
            "c2", "client", "tester", environment="production", origins=[SHOP]
        )
    with pytest.raises(BadInput, match="exactly one environment"):
        running.services.tokens.create("f2", "frontend", "tester")
    info = next(t for t in running.services.tokens.list_tokens() if t.name == "shop-web")
    assert info.origins == [SHOP]
    assert info.environment == "production"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({f"p{i}": "x" for i in range(150)}, "more than 100"),
        ({"userId": "x" * 5000}, "userId"),
        ({"properties[" + "k" * 500 + "]": "v"}, "field name"),
        ({"properties[a][b]": "v"}, "do not nest"),
        ({"currentTime": "yesterday"}, "currentTime"),
        ({"properties": "[1, 2]"}, "JSON object"),
    ],
)
def test_hostile_query_contexts_are_refused_with_400(
    running: Running, params: dict[str, str], field: str
) -> None:
    answer = running.get(running.production, params=params)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[1]", "JSON object"),
        (b"{not json", "not JSON"),
        (b'{"context": {"properties": {"a": {"b": 1}}}}', "property 'a'"),
        (b'{"context": {"userId": ["x"]}}', "userId"),
        (b'{"context": "x"}', "context"),
        (b'{"context": {"properties": [1]}}', "properties"),
    ],
)
def test_hostile_post_contexts_are_refused_with_400(
    running: Running, body: bytes, field: str
) -> None:
    answer = running.post(
        running.production, content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]["message"]


def test_a_large_post_body_is_refused_with_413(running: Running) -> None:
    answer = running.post(
        running.production, content=b'{"context": {"a": "' + b"x" * 70_000 + b'"}}'
    )
    assert answer.status_code == 413


def test_metrics_and_register_are_stored_like_the_client_api(running: Running) -> None:
    registered = running.post(
        running.production,
        "/api/frontend/client/register",
        json={"appName": "shop-web", "instanceId": "browser", "sdkVersion": "unleash-js-sdk:3"},
    )
    assert registered.status_code == 202
    sent = running.post(
        running.production,
        "/api/frontend/client/metrics",
        json={
            "appName": "shop-web",
            "instanceId": "browser",
            "bucket": {
                "start": "2026-12-02T10:00:00Z",
                "stop": "2026-12-02T10:01:00Z",
                "toggles": {"fe-on": {"yes": 3, "no": 1, "variants": {"disabled": 4}}},
            },
            "impactMetrics": [],
        },
        headers={"Origin": SHOP},
    )
    assert sent.status_code == 202
    assert sent.headers["Access-Control-Allow-Origin"] == SHOP
    metrics = running.services.client_metrics
    usage = wait_for(lambda: metrics.usage(["fe-on"]).get("fe-on", {}).get("production"))
    assert (usage.yes, usage.no, usage.variants) == (3, 1, {"disabled": 4})  # type: ignore[attr-defined]
    apps = wait_for(
        lambda: [a for a in metrics.applications("production") if a.app_name == "shop-web"]
    )
    assert apps[0].sdk_version == "unleash-js-sdk:3"  # type: ignore[index]
    bad = running.post(running.production, "/api/frontend/client/metrics", json={"bucket": 1})
    assert bad.status_code == 400
