"""relgate token create --role frontend through the real CLI, then /api/frontend with the token."""

from __future__ import annotations

import json

import httpx

from tests.e2e.control.conftest import RelgateServer, run_cli


def test_a_frontend_token_made_with_the_cli_reads_evaluated_flags_from_its_origin(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server
    created = run_cli(
        "token",
        "create",
        "--name",
        "fe-cli-shop",
        "--role",
        "frontend",
        "--env",
        "production",
        "--origin",
        "https://Shop.example/",
        "--origin",
        "http://127.0.0.1:5173",
        url=url,
        token=admin,
    )
    assert created.returncode == 0, created.stderr
    assert "origins http://127.0.0.1:5173, https://shop.example" in created.stdout
    secret = created.stdout.strip().splitlines()[-1]
    listed = json.loads(run_cli("token", "list", "--json", url=url, token=admin).stdout)
    mine = next(t for t in listed if t["name"] == "fe-cli-shop")
    assert (mine["role"], mine["environment"]) == ("frontend", "production")
    assert mine["origins"] == ["http://127.0.0.1:5173", "https://shop.example"]

    answer = httpx.get(
        url + "/api/frontend",
        headers={"Authorization": secret, "Origin": "https://shop.example"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json()["toggles"], list)
    assert answer.headers["access-control-allow-origin"] == "https://shop.example"
    features = httpx.get(
        url + "/api/client/features", headers={"Authorization": secret}, timeout=10
    )
    assert features.status_code == 403


def test_bad_frontend_token_options_exit_2_naming_the_problem(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server
    bad_origin = run_cli(
        "token",
        "create",
        "--name",
        "fe-cli-bad",
        "--role",
        "frontend",
        "--env",
        "production",
        "--origin",
        "https://shop.example/checkout",
        url=url,
        token=admin,
    )
    assert bad_origin.returncode == 2
    assert "no path" in bad_origin.stderr
    no_env = run_cli(
        "token", "create", "--name", "fe-cli-noenv", "--role", "frontend", url=url, token=admin
    )
    assert no_env.returncode == 2
    assert "exactly one environment" in no_env.stderr
    origin_for_ci = run_cli(
        "token",
        "create",
        "--name",
        "fe-cli-ci",
        "--role",
        "ci",
        "--origin",
        "https://a.example",
        url=url,
        token=admin,
    )
    assert origin_for_ci.returncode == 2
    assert "drop --origin" in origin_for_ci.stderr
    helped = run_cli("token", "create", "--help")
    assert "--origin" in helped.stdout and "frontend" in helped.stdout
