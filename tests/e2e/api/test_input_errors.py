"""Bad input through a real server: field lengths, ids out of range, parse errors, log access."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.api.conftest import DIGESTS, SERVICE, Seeded


def _post(seeded: Seeded, path: str, body: dict[str, Any], role: str = "ci") -> httpx.Response:
    return httpx.post(seeded.url + path, json=body, headers=seeded.headers(role), timeout=30)


def _release(**fields: Any) -> dict[str, Any]:
    return {
        "service": SERVICE,
        "version": "2.0.0",
        "artifact": f"registry.example.com/{SERVICE}@{DIGESTS['1.0.0']}",
        **fields,
    }


def _message(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_input"
    message: str = error["message"]
    return message


def test_a_65_character_commit_gets_400_naming_the_field(seeded: Seeded) -> None:
    response = _post(seeded, "/api/v1/releases", _release(commit="a" * 65))

    assert _message(response).startswith("commit: ")
    assert "at most 64 characters" in _message(response)


def test_a_201_character_author_gets_400_naming_the_field(seeded: Seeded) -> None:
    response = _post(seeded, "/api/v1/releases", _release(author="a" * 201))

    assert _message(response).startswith("author: ")


def test_a_600_character_evidence_file_name_gets_400_naming_the_field(seeded: Seeded) -> None:
    response = httpx.post(
        f"{seeded.url}/api/v1/releases/{SERVICE}/1.0.0/evidence",
        params={"kind": "tests", "filename": "r" * 600 + ".xml"},
        content=b"<testsuite tests='1'><testcase name='a'/></testsuite>",
        headers=seeded.headers("ci"),
        timeout=30,
    )

    assert _message(response).startswith("filename: ")
    assert "at most 500 characters" in _message(response)


def test_a_101_character_environment_name_gets_400_naming_the_field(seeded: Seeded) -> None:
    environment = "e" * 101
    token = _post(
        seeded,
        "/api/v1/tokens",
        {"name": "too-long-env", "role": "client", "environment": environment},
        role="admin",
    )
    deployment = _post(
        seeded,
        "/api/v1/deployments",
        {"service": SERVICE, "version": "1.0.0", "environment": environment},
    )
    flag = httpx.post(
        f"{seeded.url}/api/v1/flags/new-checkout/environments/{environment}/enable",
        headers=seeded.headers("admin"),
        timeout=30,
    )

    assert _message(token).startswith("environment: ")
    assert _message(deployment).startswith("environment: ")
    assert _message(flag).startswith("environment: ")


def test_the_release_that_was_refused_was_not_half_written(seeded: Seeded) -> None:
    _post(seeded, "/api/v1/releases", _release(version="3.0.0", commit="c" * 65))

    response = httpx.get(
        f"{seeded.url}/api/v1/releases/{SERVICE}/3.0.0", headers=seeded.headers("ci"), timeout=30
    )

    assert response.status_code == 404


@pytest.mark.parametrize("deployment_id", [0, -1, 2**31, 2**63, 2**70])
@pytest.mark.parametrize("suffix", ["", "/log"])
def test_a_deployment_id_out_of_range_gets_404(
    seeded: Seeded, deployment_id: int, suffix: str
) -> None:
    response = httpx.get(
        f"{seeded.url}/api/v1/deployments/{deployment_id}{suffix}",
        headers=seeded.headers("admin"),
        timeout=30,
    )

    assert response.status_code == 404, response.text
    assert response.json()["error"]["message"] == f"no deployment {deployment_id}"


def test_cancelling_a_deployment_id_out_of_range_gets_404(seeded: Seeded) -> None:
    response = _post(seeded, f"/api/v1/deployments/{2**63}/cancel", {"reason": "typo"})

    assert response.status_code == 404


def test_a_body_that_is_not_json_gets_400_in_relgates_shape(seeded: Seeded) -> None:
    response = httpx.post(
        seeded.url + "/api/v1/releases",
        content=b"{not json",
        headers={**seeded.headers("ci"), "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_input"


def test_a_missing_field_gets_400_naming_it(seeded: Seeded) -> None:
    response = _post(seeded, "/api/v1/deployments", {"service": SERVICE, "version": "1.0.0"})

    assert _message(response) == "environment: Field required"


def test_a_query_parameter_of_the_wrong_type_gets_400_naming_it(seeded: Seeded) -> None:
    response = httpx.get(
        f"{seeded.url}/api/v1/services/{SERVICE}/history",
        params={"limit": "many"},
        headers=seeded.headers("ci"),
        timeout=30,
    )

    assert _message(response).startswith("limit: ")


def test_an_unknown_route_gets_404_in_relgates_shape(seeded: Seeded) -> None:
    response = httpx.get(seeded.url + "/api/v1/nothing-here", headers=seeded.headers("ci"))

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "GET /api/v1/nothing-here: Not Found"}
    }


def test_the_deployment_log_is_text_for_a_role_that_may_deploy_there(seeded: Seeded) -> None:
    response = httpx.get(
        f"{seeded.url}/api/v1/deployments/{seeded.deployment_id}/log",
        headers=seeded.headers("ci"),
        timeout=30,
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "deploying 1.0.0" in response.text


@pytest.mark.parametrize("role", ["approver", "client"])
def test_the_deployment_log_is_refused_to_roles_that_may_not_deploy(
    seeded: Seeded, role: str
) -> None:
    response = httpx.get(
        f"{seeded.url}/api/v1/deployments/{seeded.deployment_id}/log",
        headers=seeded.headers(role),
        timeout=30,
    )

    assert response.status_code == 403
    assert "to promote needs the role" in response.json()["error"]["message"]
    assert "deploying" not in response.text


def test_the_openapi_document_says_400_never_422_and_names_every_standard_error(
    seeded: Seeded,
) -> None:
    document = httpx.get(seeded.url + "/api/v1/openapi.json", timeout=30).json()
    operations = {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }

    assert all("422" not in op["responses"] for op in operations.values())
    release = operations[("post", "/api/v1/releases")]["responses"]
    assert {"400", "401", "403", "404", "409", "413"} <= set(release)
    assert release["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    evidence = operations[("post", "/api/v1/releases/{service}/{version}/evidence")]
    assert "application/xml" in evidence["requestBody"]["content"]
    assert "50 MiB" in evidence["responses"]["413"]["description"]
    metrics = operations[("post", "/api/client/metrics")]
    assert metrics["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClientMetrics"
    }
    assert "requestBody" in operations[("post", "/ofrep/v1/evaluate/flags/{key}")]
    log = operations[("get", "/api/v1/deployments/{deployment_id}/log")]["responses"]["200"]
    assert list(log["content"]) == ["text/plain"]
    whoami = operations[("get", "/api/v1/whoami")]["responses"]
    assert "401" in whoami and "400" not in whoami


@pytest.mark.parametrize(
    "path",
    ["/api/v1/services/a%00b/releases", "/api/v1/flags/a%00b", "/api/v1/status?service=a%00"],
)
def test_a_nul_character_in_the_path_or_query_gets_400(seeded: Seeded, path: str) -> None:
    response = httpx.get(seeded.url + path, headers=seeded.headers("admin"), timeout=30)

    assert _message(response) == "the path and query may not contain the NUL character"


def test_a_nul_character_in_a_json_body_gets_400(seeded: Seeded) -> None:
    response = _post(seeded, "/api/v1/releases", _release(author="a\x00b"))

    assert _message(response) == "the request body may not contain the NUL character"


def test_a_metrics_count_larger_than_the_store_holds_gets_400_naming_the_field(
    seeded: Seeded,
) -> None:
    bucket = {
        "start": "2026-01-01T00:00:00Z",
        "stop": "2026-01-01T00:01:00Z",
        "toggles": {"new-checkout": {"yes": 2**64, "no": 0}},
    }

    response = httpx.post(
        seeded.url + "/api/client/metrics",
        json={"appName": "shop", "bucket": bucket},
        headers={"Authorization": seeded.tokens["client"]},
        timeout=30,
    )

    assert "bucket.toggles.new-checkout.yes" in _message(response)


def test_the_cli_names_the_field_when_a_commit_is_too_long(seeded: Seeded) -> None:
    from tests.e2e.control.conftest import run_cli

    result = run_cli(
        "release", "create", SERVICE, "--version", "4.0.0",
        "--artifact", f"registry.example.com/{SERVICE}@{DIGESTS['1.1.0']}",
        "--commit", "f" * 65,
        url=seeded.url, token=seeded.tokens["ci"],
    )  # fmt: skip

    assert result.returncode == 2
    assert "commit: String should have at most 64 characters" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_refuses_deployment_logs_to_an_approver(seeded: Seeded) -> None:
    from tests.e2e.control.conftest import run_cli

    approver = run_cli(
        "deploy", "logs", str(seeded.deployment_id), url=seeded.url, token=seeded.tokens["approver"]
    )
    ci = run_cli(
        "deploy", "logs", str(seeded.deployment_id), url=seeded.url, token=seeded.tokens["ci"]
    )

    assert approver.returncode == 2
    assert "to promote needs the role admin or ci" in approver.stderr
    assert "deploying" not in approver.stdout
    assert ci.returncode == 0, ci.stderr
    assert "deploying 1.0.0" in ci.stdout
