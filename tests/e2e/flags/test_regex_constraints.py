"""REGEX constraints through a real server: refused when saved, linear when evaluated."""

from __future__ import annotations

import httpx

from tests.e2e.control.conftest import RelgateServer, api


def test_saving_a_lookahead_regex_answers_400_naming_the_constraint(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server
    api(relgate_server, "POST", "/api/v1/flags", json={"key": "regex-api-refused"})
    strategies = [
        {
            "name": "default",
            "constraints": [{"contextName": "email", "operator": "REGEX", "value": "(?=a)b"}],
        }
    ]
    response = httpx.put(
        f"{url}/api/v1/flags/regex-api-refused/environments/production/strategies",
        headers={"Authorization": f"Bearer {admin}"},
        json=strategies,
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert "strategies[0].constraints[0].value" in response.json()["error"]["message"]
    assert "cannot be a REGEX constraint" in response.json()["error"]["message"]


def test_a_catastrophic_regex_against_a_crafted_value_is_answered(
    relgate_server: RelgateServer,
) -> None:
    api(relgate_server, "POST", "/api/v1/flags", json={"key": "regex-api-redos"})
    constraint = {"contextName": "email", "operator": "REGEX", "value": "^(a+)+$"}
    api(
        relgate_server,
        "PUT",
        "/api/v1/flags/regex-api-redos/environments/production/strategies",
        json=[{"name": "default", "constraints": [constraint]}],
    )
    api(relgate_server, "POST", "/api/v1/flags/regex-api-redos/environments/production/enable")
    client = api(
        relgate_server,
        "POST",
        "/api/v1/tokens",
        json={"name": "regex-redos-client", "role": "client", "environment": "production"},
    )["token"]
    crafted = "a" * 30_000 + "!"
    answer = api(
        relgate_server,
        "POST",
        "/ofrep/v1/evaluate/flags/regex-api-redos",
        token=client,
        json={"context": {"targetingKey": "u1", "email": crafted}},
    )
    assert answer["value"] is False


def test_the_cli_refuses_a_rollout_with_an_unsupported_regex_with_exit_2(
    relgate_server: RelgateServer,
) -> None:
    from tests.e2e.control.conftest import run_cli

    url, admin, _ = relgate_server
    api(relgate_server, "POST", "/api/v1/flags", json={"key": "regex-cli-refused"})
    proc = run_cli(
        "flags",
        "rollout",
        "regex-cli-refused",
        "50",
        "--env",
        "production",
        "--constraint",
        "email REGEX [a-z&&[aeiou]]",
        url=url,
        token=admin,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "constraints[0].value: '[a-z&&[aeiou]]' cannot be a REGEX constraint" in proc.stderr
    assert "class set operations" in proc.stderr
    assert "Traceback" not in proc.stderr
