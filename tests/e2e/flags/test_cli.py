"""`relgate flags …` run as a real process against a real `relgate serve`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx

from tests.e2e.control.conftest import RelgateServer, api, run_cli

FIXTURE = Path(__file__).parents[2] / "fixtures" / "unleash-export" / "production.json"


def flags(server: RelgateServer, *args: str, token: str | None = None) -> tuple[int, str, str]:
    url, admin, _ = server
    done = run_cli("flags", *args, url=url, token=token or admin)
    return done.returncode, done.stdout, done.stderr


def test_create_roll_out_list_and_show_a_flag(relgate_server: RelgateServer) -> None:
    code, out, err = flags(
        relgate_server,
        "create",
        "cli-checkout",
        "--type",
        "release",
        "--owner",
        "payments",
        "--tag",
        "checkout",
        "--expires",
        "2099-01-15",
    )
    assert code == 0, err
    assert "created release flag cli-checkout, off everywhere; expires 2099-01-15" in out

    code, out, err = flags(
        relgate_server,
        "rollout",
        "cli-checkout",
        "25",
        "--env",
        "production",
        "--stickiness",
        "userId",
        "--constraint",
        "userTier IN premium,gold",
    )
    assert code == 0, err
    assert "cli-checkout is on 25% in production" in out

    code, out, err = flags(relgate_server, "list")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("cli-checkout"))
    assert "payments" in row and "on 25%" in row

    code, out, err = flags(relgate_server, "show", "cli-checkout")
    assert code == 0, err
    assert "production: on 25%" in out
    assert "if userTier IN premium,gold" in out
    assert "expires: 2099-01-15" in out

    code, out, _ = flags(relgate_server, "show", "cli-checkout", "--json")
    strategy = json.loads(out)["environments"]["production"]["strategies"][0]
    assert strategy["parameters"] == {
        "rollout": "25",
        "stickiness": "userId",
        "groupId": "cli-checkout",
    }


def test_kill_turns_a_flag_off_in_every_environment(relgate_server: RelgateServer) -> None:
    assert flags(relgate_server, "create", "cli-kill")[0] == 0
    assert flags(relgate_server, "enable", "cli-kill", "--env", "staging")[0] == 0
    assert flags(relgate_server, "rollout", "cli-kill", "50", "--env", "production")[0] == 0

    code, out, err = flags(relgate_server, "kill", "cli-kill", "--reason", "errors", "--json")

    assert code == 0, err
    environments = json.loads(out)["environments"]
    assert {name: env["enabled"] for name, env in environments.items()} == {
        "production": False,
        "staging": False,
    }
    events = api(relgate_server, "GET", "/api/v1/audit", params={"subject": "flag/cli-kill"})
    assert "flag.killed" in json.dumps(events)
    # the trail filtered as the audit page filters it
    url, admin, _ = relgate_server
    listed = run_cli(
        "audit", "list", "--environment", "staging", "--action", "flag.", "--json",
        url=url, token=admin,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    found = [e for e in json.loads(listed.stdout) if e["subject"] == "flag/cli-kill"]
    assert [e["action"] for e in found] == ["flag.killed", "flag.enabled"]
    assert {"path": "reason", "kind": "added", "before": None, "after": '"errors"'} in found[0][
        "changes"
    ]


def test_bad_input_gets_a_clear_message_and_exit_code(relgate_server: RelgateServer) -> None:
    code, _, err = flags(relgate_server, "create", "has space")
    assert code == 2
    assert "'has space' is not a valid flag key" in err
    assert "Traceback" not in err

    code, _, err = flags(relgate_server, "enable", "cli-ghost", "--env", "production")
    assert code == 2
    assert "no flag 'cli-ghost'" in err

    code, _, err = flags(relgate_server, "create", "cli-expiry", "--expires", "tomorrow")
    assert code == 2
    assert "--expires: 'tomorrow' is not a date YYYY-MM-DD" in err

    assert flags(relgate_server, "create", "cli-twice")[0] == 0
    code, _, err = flags(relgate_server, "create", "cli-twice")
    assert code == 1
    assert "'cli-twice' already exists" in err


def test_an_approver_may_list_flags_but_not_change_them(relgate_server: RelgateServer) -> None:
    approver = api(
        relgate_server, "POST", "/api/v1/tokens", json={"name": "flag-reader", "role": "approver"}
    )["token"]
    assert flags(relgate_server, "create", "cli-guarded")[0] == 0

    code, out, err = flags(relgate_server, "list", "--json", token=approver)
    assert code == 0, err
    assert "cli-guarded" in {flag["key"] for flag in json.loads(out)}

    code, _, err = flags(relgate_server, "archive", "cli-guarded", token=approver)
    assert code == 2
    assert "manage feature flags needs the role admin or ci" in err


def test_import_an_unleash_export_then_export_it(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    constraints = [{"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@beta.test"]}]
    api(
        relgate_server,
        "POST",
        "/api/v1/segments",
        json={"name": "beta-testers", "constraints": constraints},
    )
    source = tmp_path / "unleash.json"
    shutil.copy(FIXTURE, source)

    code, out, err = flags(relgate_server, "import", str(source), "--env", "cli-import")
    assert code == 0, err
    assert "5 flags created" in out
    assert "environments: cli-import" in out

    target = tmp_path / "exported.json"
    code, out, err = flags(relgate_server, "export", "--env", "cli-import", "-o", str(target))
    assert code == 0, err
    exported = json.loads(target.read_text())
    names = {f["name"] for f in exported["features"]}
    assert {"express-checkout-v2", "new-search", "search.typo-tolerance"} <= names
    assert {e["environment"] for e in exported["featureEnvironments"]} == {"cli-import"}
    assert [s["name"] for s in exported["segments"]] == ["beta-testers"]


def test_importing_a_file_that_is_not_json_names_the_file_and_line(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "features": [\n    {"name": "x",}\n  ]\n}\n')

    code, _, err = flags(relgate_server, "import", str(broken))

    assert code == 2
    assert f"{broken}:3: not JSON" in err


def test_an_import_with_a_malformed_strategy_names_the_file_and_path(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    document = json.loads(FIXTURE.read_text())
    document["featureStrategies"][0]["parameters"]["rollout"] = "lots"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))

    code, _, err = flags(relgate_server, "import", str(bad), "--env", "cli-bad")

    assert code == 2
    assert f"{bad}: featureStrategies[0].parameters.rollout: 'lots'" in err


# ------------------------------------------------------------------- the REST API the CLI uses


def call(server: RelgateServer, method: str, path: str, json: object = None) -> httpx.Response:
    url, admin, _ = server
    headers = {"Authorization": f"Bearer {admin}"}
    return httpx.request(method, url + path, headers=headers, json=json, timeout=30)


def test_the_admin_api_sets_strategies_variants_dependencies_and_metadata(
    relgate_server: RelgateServer,
) -> None:
    api(relgate_server, "POST", "/api/v1/flags", json={"key": "api-parent"})
    created = api(
        relgate_server,
        "POST",
        "/api/v1/flags",
        json={"key": "api-child", "type": "experiment", "expires_at": None},
    )
    assert created["expires_at"] is None
    base = "/api/v1/flags/api-child"

    strategies = [{"name": "userWithId", "parameters": {"userIds": "u1,u2"}}]
    flag = api(relgate_server, "PUT", f"{base}/environments/dev/strategies", json=strategies)
    assert flag["environments"]["dev"]["strategies"][0]["parameters"] == {"userIds": "u1,u2"}
    flag = api(
        relgate_server,
        "PUT",
        f"{base}/environments/dev/variants",
        json=[{"name": "b"}, {"name": "a"}, {"name": "c"}],
    )
    assert [(v["name"], v["weight"]) for v in flag["environments"]["dev"]["variants"]] == [
        ("a", 333),
        ("b", 334),
        ("c", 333),
    ]
    flag = api(relgate_server, "PUT", f"{base}/dependencies", json=[{"feature": "api-parent"}])
    assert flag["dependencies"] == [{"feature": "api-parent", "enabled": True}]
    flag = api(relgate_server, "PATCH", base, json={"owner": "growth", "description": "A/B"})
    assert (flag["owner"], flag["description"], flag["type"]) == ("growth", "A/B", "experiment")
    flag = api(relgate_server, "POST", f"{base}/environments/dev/disable")
    assert flag["environments"]["dev"]["enabled"] is False
    api(relgate_server, "POST", f"{base}/archive")
    assert api(relgate_server, "POST", f"{base}/revive")["archived_at"] is None


def test_the_admin_api_answers_bad_input_400_unknown_404_and_conflict_409(
    relgate_server: RelgateServer,
) -> None:
    api(relgate_server, "POST", "/api/v1/flags", json={"key": "api-errors"})

    bad = call(
        relgate_server,
        "PUT",
        "/api/v1/flags/api-errors/environments/dev/strategies",
        json=[{"name": "default", "constraints": [{"operator": "IN"}]}],
    )
    missing = call(relgate_server, "GET", "/api/v1/flags/api-nothing")
    taken = call(relgate_server, "POST", "/api/v1/flags", json={"key": "api-errors"})

    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == (
        "strategies[0].constraints[0].contextName: expected a string, got null"
    )
    assert missing.status_code == 404
    assert taken.status_code == 409


def test_segments_are_managed_through_the_api(relgate_server: RelgateServer) -> None:
    constraints = [{"contextName": "country", "operator": "IN", "values": ["NO"]}]
    segment = api(
        relgate_server, "POST", "/api/v1/segments", json={"name": "api-nordics", "constraints": []}
    )
    updated = api(
        relgate_server, "PATCH", "/api/v1/segments/api-nordics", json={"constraints": constraints}
    )
    assert updated["id"] == segment["id"]
    assert updated["constraints"][0]["values"] == ["NO"]
    assert call(relgate_server, "DELETE", "/api/v1/segments/api-nordics").status_code == 204
    names = [s["name"] for s in api(relgate_server, "GET", "/api/v1/segments")]
    assert "api-nordics" not in names
