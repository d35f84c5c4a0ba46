"""OpenFeature remote evaluation (OFREP) of a real `relgate serve`, spoken over plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.store import db
from tests.support.server import ServerProcess, start_server, wait_for

ADMIN = Principal("tester", Role.ADMIN)


class OfrepServer:
    def __init__(self, server: ServerProcess, services: Services, token: str, ci: str) -> None:
        self.server = server
        self.services = services
        self.token = token
        self.ci_token = ci

    def post(self, path: str, body: Any = None, **headers: str) -> httpx.Response:
        return httpx.post(
            self.server.url + "/ofrep/v1" + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token}", **headers},
            timeout=10,
        )

    def evaluate(self, key: str, context: dict[str, Any]) -> httpx.Response:
        return self.post(f"/evaluate/flags/{key}", {"context": context})


@pytest.fixture(scope="module")
def ofrep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfrepServer]:
    workdir = tmp_path_factory.mktemp("ofrep-server")
    url = f"sqlite:///{workdir / 'relgate.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    services = build(Settings(database_url=url))
    _, token = services.tokens.create("web-sdk", "client", "tester", environment="production")
    _, ci = services.tokens.create("pipeline", "ci", "tester")
    flags = services.flags
    flags.create(ADMIN, "express-checkout-v2")
    flags.set_strategies(
        ADMIN,
        "express-checkout-v2",
        "production",
        [
            {
                "name": "default",
                "parameters": {},
                "constraints": [
                    {"contextName": "userTier", "operator": "IN", "values": ["premium"]}
                ],
            }
        ],
    )
    flags.enable(ADMIN, "express-checkout-v2", "production")
    flags.create(ADMIN, "checkout-banner", type="experiment")
    flags.enable(ADMIN, "checkout-banner", "production")
    flags.set_variants(
        ADMIN,
        "checkout-banner",
        "production",
        [
            {
                "name": "summer",
                "weight": 1000,
                "stickiness": "default",
                "payload": {"type": "json", "value": '{"text": "Summer sale", "discount": 10}'},
            }
        ],
    )
    flags.create(ADMIN, "max-items")
    flags.enable(ADMIN, "max-items", "production")
    flags.set_variants(
        ADMIN,
        "max-items",
        "production",
        [{"name": "ten", "weight": 1000, "payload": {"type": "number", "value": "10"}}],
    )
    flags.create(ADMIN, "dark-mode")  # off everywhere
    server = start_server(workdir, {"RELGATE_DATABASE_URL": url})
    try:
        yield OfrepServer(server, services, token, ci)
    finally:
        server.stop()
        services.uow.engine.dispose()


def test_a_boolean_flag_follows_its_targeting(ofrep: OfrepServer) -> None:
    premium = ofrep.evaluate("express-checkout-v2", {"targetingKey": "u-1", "userTier": "premium"})
    free = ofrep.evaluate("express-checkout-v2", {"targetingKey": "u-2", "userTier": "free"})

    assert premium.status_code == 200
    assert premium.json() == {
        "key": "express-checkout-v2",
        "value": True,
        "reason": "TARGETING_MATCH",
        "variant": "on",
        "metadata": {"environment": "production"},
    }
    assert (free.json()["value"], free.json()["reason"]) == (False, "DEFAULT")


def test_a_flag_off_in_the_environment_is_disabled(ofrep: OfrepServer) -> None:
    answer = ofrep.evaluate("dark-mode", {"targetingKey": "u-1"}).json()

    assert (answer["value"], answer["reason"]) == (False, "DISABLED")


def test_a_variant_flag_gives_its_typed_payload_and_variant_name(ofrep: OfrepServer) -> None:
    banner = ofrep.evaluate("checkout-banner", {"targetingKey": "u-1"}).json()
    items = ofrep.evaluate("max-items", {"targetingKey": "u-1"}).json()

    assert banner["value"] == {"text": "Summer sale", "discount": 10}
    assert (banner["variant"], banner["reason"]) == ("summer", "SPLIT")
    assert items["value"] == 10


def test_an_unknown_flag_is_404_flag_not_found(ofrep: OfrepServer) -> None:
    response = ofrep.evaluate("no-such-flag", {"targetingKey": "u-1"})

    assert response.status_code == 404
    assert response.json()["errorCode"] == "FLAG_NOT_FOUND"
    assert response.json()["key"] == "no-such-flag"


@pytest.mark.parametrize(
    "body",
    [
        {"context": "premium"},
        {"context": {"targetingKey": ["u-1"]}},
        {"context": {"currentTime": "not a date"}},
    ],
)
def test_a_bad_context_is_400_invalid_context(ofrep: OfrepServer, body: Any) -> None:
    response = ofrep.post("/evaluate/flags/express-checkout-v2", body)

    assert response.status_code == 400
    assert response.json()["errorCode"] == "INVALID_CONTEXT"
    assert response.json()["errorDetails"]


def test_a_body_that_is_not_json_is_400_invalid_context(ofrep: OfrepServer) -> None:
    response = httpx.post(
        ofrep.server.url + "/ofrep/v1/evaluate/flags/express-checkout-v2",
        content=b"{context",
        headers={"Authorization": ofrep.token, "Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json()["errorCode"] == "INVALID_CONTEXT"
    assert "not JSON" in response.json()["errorDetails"]


def test_bulk_evaluation_answers_every_flag_with_an_etag(ofrep: OfrepServer) -> None:
    body = {"context": {"targetingKey": "u-1", "userTier": "premium"}}
    response = ofrep.post("/evaluate/flags", body)

    assert response.status_code == 200
    flags = {flag["key"]: flag for flag in response.json()["flags"]}
    assert flags["express-checkout-v2"]["value"] is True
    assert flags["checkout-banner"]["variant"] == "summer"
    assert flags["dark-mode"]["value"] is False

    again = ofrep.post("/evaluate/flags", body, **{"If-None-Match": response.headers["ETag"]})
    other_context = ofrep.post(
        "/evaluate/flags",
        {"context": {"targetingKey": "u-2", "userTier": "free"}},
        **{"If-None-Match": response.headers["ETag"]},
    )
    assert again.status_code == 304
    assert other_context.status_code == 200
    assert {f["key"]: f["value"] for f in other_context.json()["flags"]}[
        "express-checkout-v2"
    ] is False


def test_bulk_etag_changes_when_a_flag_changes(ofrep: OfrepServer) -> None:
    body = {"context": {"targetingKey": "u-9"}}
    etag = ofrep.post("/evaluate/flags", body).headers["ETag"]

    ofrep.services.flags.enable(ADMIN, "dark-mode", "production")

    def fresh() -> httpx.Response | None:
        response = ofrep.post("/evaluate/flags", body, **{"If-None-Match": etag})
        return response if response.status_code == 200 else None

    response = wait_for(fresh, timeout=10)
    assert isinstance(response, httpx.Response)
    assert {f["key"]: f["value"] for f in response.json()["flags"]}["dark-mode"] is True
    ofrep.services.flags.disable(ADMIN, "dark-mode", "production")


def test_configuration_names_relgate_and_its_capabilities(ofrep: OfrepServer) -> None:
    response = httpx.get(
        ofrep.server.url + "/ofrep/v1/configuration",
        headers={"X-API-Key": ofrep.token},
        timeout=10,
    )

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "relgate"
    polling = body["capabilities"]["cacheInvalidation"]["polling"]
    assert polling["enabled"] is True
    assert polling["minPollingIntervalMs"] == 1000
    assert "boolean" in body["capabilities"]["flagEvaluation"]["supportedTypes"]
    cached = httpx.get(
        ofrep.server.url + "/ofrep/v1/configuration",
        headers={"X-API-Key": ofrep.token, "If-None-Match": response.headers["ETag"]},
        timeout=10,
    )
    assert cached.status_code == 304


def test_a_ci_token_gets_403_and_no_token_401(ofrep: OfrepServer) -> None:
    forbidden = httpx.post(
        ofrep.server.url + "/ofrep/v1/evaluate/flags",
        json={"context": {}},
        headers={"Authorization": f"Bearer {ofrep.ci_token}"},
        timeout=10,
    )
    anonymous = httpx.post(
        ofrep.server.url + "/ofrep/v1/evaluate/flags", json={"context": {}}, timeout=10
    )

    assert forbidden.status_code == 403
    assert "role client" in forbidden.json()["error"]["message"]
    assert anonymous.status_code == 401
