"""Bodies against a real server: a token before the body, size limits (413), JSON depth (400)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx

from tests.e2e.api.conftest import Seeded, raw_request

MIB = 2**20


def _chunked(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"
        sent += size
    yield b"0\r\n\r\n"


def test_a_300_mb_json_body_without_a_token_is_refused_with_401_before_any_of_it_is_read(
    seeded: Seeded,
) -> None:
    head = (
        "POST /api/v1/releases HTTP/1.1\nHost: relgate\n"
        "Content-Type: application/json\nContent-Length: 300000000\n"
    )

    status, body, sent = raw_request(seeded.url, head)

    assert status == 401
    assert json.loads(body)["error"]["code"] == "unauthorized"
    assert sent == 0


def test_a_body_with_an_unknown_token_is_refused_with_401_before_it_is_read(
    seeded: Seeded,
) -> None:
    head = (
        "POST /api/client/metrics HTTP/1.1\nHost: relgate\nAuthorization: rg_not-a-token\n"
        "Content-Type: application/json\nContent-Length: 300000000\n"
    )

    status, body, _ = raw_request(seeded.url, head)

    assert status == 401
    assert "unknown or revoked" in json.loads(body)["error"]["message"]


def test_a_ci_token_posting_to_the_flag_client_api_is_refused_with_403_before_the_body(
    seeded: Seeded,
) -> None:
    head = (
        f"POST /api/client/metrics HTTP/1.1\nHost: relgate\nAuthorization: {seeded.tokens['ci']}\n"
        "Content-Type: application/json\nContent-Length: 300000000\n"
    )

    status, body, _ = raw_request(seeded.url, head)

    assert status == 403
    assert "needs a token with the role client" in json.loads(body)["error"]["message"]


def test_a_200_mb_evidence_upload_that_says_its_length_is_refused_with_413_at_once(
    seeded: Seeded,
) -> None:
    head = (
        "POST /api/v1/releases/shop/1.0.0/evidence?kind=tests HTTP/1.1\nHost: relgate\n"
        f"Authorization: Bearer {seeded.tokens['ci']}\nContent-Length: {200 * MIB}\n"
    )

    status, body, sent = raw_request(seeded.url, head)

    assert status == 413
    assert "limit of 50 MiB" in json.loads(body)["error"]["message"]
    assert sent == 0


def test_a_200_mb_chunked_evidence_upload_is_refused_with_413_as_soon_as_it_passes_50_mib(
    seeded: Seeded,
) -> None:
    head = (
        "POST /api/v1/releases/shop/1.0.0/evidence?kind=tests HTTP/1.1\nHost: relgate\n"
        f"Authorization: Bearer {seeded.tokens['ci']}\nTransfer-Encoding: chunked\n"
    )

    status, body, sent = raw_request(seeded.url, head, _chunked(200 * MIB))

    assert status == 413
    assert json.loads(body)["error"] == {
        "code": "too_large",
        "message": "the request body is larger than this endpoint's limit of 50 MiB",
    }
    # the answer came while the client was still sending: the rest was never read
    assert sent < 100 * MIB


def test_an_admin_json_body_over_1_mib_is_refused_with_413_naming_the_limit(
    seeded: Seeded,
) -> None:
    body = {"key": "big-flag", "description": "x" * (2 * MIB)}

    response = httpx.post(
        seeded.url + "/api/v1/flags", json=body, headers=seeded.headers("admin"), timeout=30
    )

    assert response.status_code == 413
    assert "limit of 1 MiB" in response.json()["error"]["message"]


def test_a_metrics_body_within_its_limit_but_over_the_default_is_accepted(
    seeded: Seeded,
) -> None:
    # 10 000 flags (the most one bucket takes) with long names: over 1 MiB
    toggles = {f"flag-{i:05d}-{'x' * 100}": {"yes": 1, "no": 0} for i in range(10_000)}
    body = {
        "appName": "shop",
        "instanceId": "one",
        "bucket": {
            "start": "2026-01-01T00:00:00Z",
            "stop": "2026-01-01T00:01:00Z",
            "toggles": toggles,
        },
    }
    data = json.dumps(body).encode()
    assert 1 * MIB < len(data) < 4 * MIB

    response = httpx.post(
        seeded.url + "/api/client/metrics",
        content=data,
        headers={"Authorization": seeded.tokens["client"], "Content-Type": "application/json"},
        timeout=60,
    )

    assert response.status_code == 202, response.text


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_a_json_body_nested_100000_levels_deep_gets_400_naming_the_limit_on_every_endpoint(
    seeded: Seeded,
) -> None:
    client_token = {"Authorization": seeded.tokens["client"], "Content-Type": "application/json"}
    admin = {**seeded.headers("admin"), "Content-Type": "application/json"}
    deep = b'{"context": ' + _deep(100_000) + b"}"
    cases = [
        ("/ofrep/v1/evaluate/flags", client_token),
        ("/ofrep/v1/evaluate/flags/new-checkout", client_token),
        ("/api/client/register", client_token),
        ("/api/client/metrics", client_token),
        ("/api/v1/flags", admin),
        ("/api/v1/flags-import", admin),
    ]

    for path, headers in cases:
        response = httpx.post(seeded.url + path, content=deep, headers=headers, timeout=30)

        assert response.status_code == 400, (path, response.text)
        assert "deeper than 64 levels" in response.json()["error"]["message"], path


def test_a_json_body_without_a_content_type_is_checked_for_depth_too(seeded: Seeded) -> None:
    response = httpx.post(
        seeded.url + "/api/client/register",
        content=_deep(5000),
        headers={"Authorization": seeded.tokens["client"]},
        timeout=30,
    )

    assert response.status_code == 400
    assert "deeper than 64 levels" in response.json()["error"]["message"]


def test_a_deeply_nested_json_evidence_report_gets_400_naming_the_file(seeded: Seeded) -> None:
    response = httpx.post(
        seeded.url + "/api/v1/releases/shop/1.0.0/evidence",
        params={"kind": "vulnerabilities", "filename": "trivy.json"},
        content=b'{"Results": ' + _deep(100_000) + b"}",
        headers=seeded.headers("ci"),
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "trivy.json nests arrays and objects deeper than 64 levels"
    )


def test_a_json_body_of_ordinary_depth_still_works(seeded: Seeded) -> None:
    strategies = [
        {
            "name": "flexibleRollout",
            "parameters": {"rollout": "50", "stickiness": "default", "groupId": "new-checkout"},
            "constraints": [{"contextName": "country", "operator": "IN", "values": ["[", "{"]}],
        }
    ]

    response = httpx.put(
        seeded.url + "/api/v1/flags/new-checkout/environments/dev/strategies",
        json=strategies,
        headers=seeded.headers("admin"),
        timeout=30,
    )

    assert response.status_code == 200, response.text


def test_the_cached_features_poll_still_answers_without_a_body(seeded: Seeded) -> None:
    headers = {"Authorization": seeded.tokens["client"]}
    first = httpx.get(seeded.url + "/api/client/features", headers=headers, timeout=30)
    again = httpx.get(
        seeded.url + "/api/client/features",
        headers={**headers, "If-None-Match": first.headers["etag"]},
        timeout=30,
    )

    assert first.status_code == 200
    assert "new-checkout" in first.text
    assert again.status_code == 304
