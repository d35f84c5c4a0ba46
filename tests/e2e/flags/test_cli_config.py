"""`relgate flags segments|strategies|variants|depend` and `create --expires` against a real server.

Each test configures a flag through the real CLI, then asks the server what it
serves (``GET /api/client/features``) and how it evaluates (OFREP), with a
client token of the environment. Flag, segment and token names start with
``cfg-`` and are unique per test: the server is shared by the session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.control.conftest import RelgateServer, api, run_cli


def flags(server: RelgateServer, *args: str) -> tuple[int, str, str]:
    url, admin, _ = server
    done = run_cli("flags", *args, url=url, token=admin)
    return done.returncode, done.stdout, done.stderr


def ok(server: RelgateServer, *args: str) -> str:
    code, out, err = flags(server, *args)
    assert code == 0, f"relgate flags {' '.join(args)}: exit {code}\n{out}\n{err}"
    return out


def client_token(server: RelgateServer, name: str) -> str:
    body = {"name": name, "role": "client", "environment": "production"}
    token: str = api(server, "POST", "/api/v1/tokens", json=body)["token"]
    return token


def served(server: RelgateServer, token: str, key: str) -> tuple[dict[str, Any], dict[int, Any]]:
    """The flag in production's client payload, and the payload's segments by id."""
    # a current SDK: segments are a list of their own, strategies name them by id
    headers = {"Authorization": token, "Unleash-Client-Spec": "5.1.0"}
    answer = httpx.get(server[0] + "/api/client/features", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    payload = answer.json()
    feature = next(f for f in payload["features"] if f["name"] == key)
    return feature, {s["id"]: s for s in payload.get("segments") or []}


def evaluate(server: RelgateServer, token: str, key: str, **context: Any) -> dict[str, Any]:
    answer = httpx.post(
        f"{server[0]}/ofrep/v1/evaluate/flags/{key}",
        headers={"Authorization": token},
        json={"context": context},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_strategy_set_from_options_is_served_with_its_constraints(
    relgate_server: RelgateServer,
) -> None:
    ok(relgate_server, "create", "cfg-rollout")
    out = ok(
        relgate_server,
        "strategies", "set", "cfg-rollout", "--env", "production",
        "--strategy", "flexibleRollout", "--rollout", "100", "--stickiness", "userId",
        "--constraint", "appName IN web,ios",
        "--constraint", "appVersion NOT SEMVER_LT 2.0.0",
    )  # fmt: skip
    assert "cfg-rollout in production: flexibleRollout 100% by userId if appName IN web,ios" in out
    assert "off in production" in out
    ok(relgate_server, "enable", "cfg-rollout", "--env", "production")
    token = client_token(relgate_server, "cfg-rollout-sdk")

    feature, _ = served(relgate_server, token, "cfg-rollout")

    [strategy] = feature["strategies"]
    assert strategy["name"] == "flexibleRollout"
    assert strategy["parameters"] == {
        "rollout": "100",
        "stickiness": "userId",
        "groupId": "cfg-rollout",
    }
    assert [(c["contextName"], c["operator"], c["inverted"]) for c in strategy["constraints"]] == [
        ("appName", "IN", False),
        ("appVersion", "SEMVER_LT", True),
    ]
    assert strategy["constraints"][0]["values"] == ["web", "ios"]
    web = {"targetingKey": "u1", "appName": "web", "appVersion": "2.1.0"}
    assert evaluate(relgate_server, token, "cfg-rollout", **web)["value"] is True
    android = {**web, "appName": "android"}
    assert evaluate(relgate_server, token, "cfg-rollout", **android)["value"] is False
    old = {**web, "appVersion": "1.9.0"}
    assert evaluate(relgate_server, token, "cfg-rollout", **old)["value"] is False


def test_a_segment_from_a_yaml_file_is_used_by_strategies_from_a_file(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    segment_file = tmp_path / "nordics.yaml"
    segment_file.write_text(
        "description: Nordic customers\n"
        "constraints:\n"
        "  - country IN NO,SE\n"
        "  - contextName: plan\n"
        "    operator: NOT_IN\n"
        "    values: [free]\n"
    )
    out = ok(relgate_server, "segments", "create", "cfg-nordics", "--file", str(segment_file))
    assert "created segment cfg-nordics" in out
    assert "country IN NO,SE and plan NOT_IN free" in out
    strategies = tmp_path / "strategies.yaml"
    strategies.write_text(
        "- name: flexibleRollout\n"
        "  parameters: {rollout: 100}\n"
        "  segments: [cfg-nordics]\n"
        "- name: userWithId\n"
        "  parameters: {userIds: 'vip-1,vip-2'}\n"
        "  constraints: ['appName IN web']\n"
    )
    ok(relgate_server, "create", "cfg-segmented")
    ok(
        relgate_server,
        "strategies",
        "set",
        "cfg-segmented",
        "--env",
        "production",
        "--file",
        str(strategies),
    )
    ok(relgate_server, "enable", "cfg-segmented", "--env", "production")
    token = client_token(relgate_server, "cfg-segmented-sdk")

    feature, segments = served(relgate_server, token, "cfg-segmented")

    rollout, by_id = feature["strategies"]
    [segment_id] = rollout["segments"]
    assert [c["contextName"] for c in segments[segment_id]["constraints"]] == ["country", "plan"]
    assert by_id["constraints"][0]["values"] == ["web"]
    paying = {"targetingKey": "u1", "country": "NO", "plan": "pro"}
    assert evaluate(relgate_server, token, "cfg-segmented", **paying)["value"] is True
    free = {**paying, "plan": "free"}
    assert evaluate(relgate_server, token, "cfg-segmented", **free)["value"] is False
    vip = {"targetingKey": "vip-2", "appName": "web", "country": "DE"}
    assert evaluate(relgate_server, token, "cfg-segmented", **vip)["value"] is True

    # the segment is listed with its user; changing it changes the flag's answer
    listed = json.loads(ok(relgate_server, "segments", "list", "--json"))
    assert next(s for s in listed if s["name"] == "cfg-nordics")["used_by"] == ["cfg-segmented"]
    ok(relgate_server, "segments", "update", "cfg-nordics", "--constraint", "country IN DK")
    assert evaluate(relgate_server, token, "cfg-segmented", **paying)["value"] is False
    denmark = {**paying, "country": "DK"}
    assert evaluate(relgate_server, token, "cfg-segmented", **denmark)["value"] is True

    # a segment in use cannot be deleted; once no strategy uses it, it can
    code, _, err = flags(relgate_server, "segments", "delete", "cfg-nordics")
    assert code == 1
    assert "segment 'cfg-nordics' is used by cfg-segmented" in err
    empty = tmp_path / "none.json"
    empty.write_text("[]")
    ok(
        relgate_server,
        "strategies",
        "set",
        "cfg-segmented",
        "--env",
        "production",
        "--file",
        str(empty),
    )
    assert "deleted segment cfg-nordics" in ok(relgate_server, "segments", "delete", "cfg-nordics")


def test_variants_set_from_options_split_users_with_their_payloads(
    relgate_server: RelgateServer,
) -> None:
    ok(relgate_server, "create", "cfg-colors", "--type", "experiment")
    ok(relgate_server, "enable", "cfg-colors", "--env", "production")
    out = ok(
        relgate_server,
        "variants", "set", "cfg-colors", "--env", "production",
        "--variant", 'blue=25,stickiness=userId,payload=json:{"color":"#00f","size":2}',
        "--variant", "green",
    )  # fmt: skip
    assert "cfg-colors variants in production: blue 25%, green 75%" in out
    token = client_token(relgate_server, "cfg-colors-sdk")

    feature, _ = served(relgate_server, token, "cfg-colors")

    assert [(v["name"], v["weight"], v["weightType"]) for v in feature["variants"]] == [
        ("blue", 250, "fix"),
        ("green", 750, "variable"),
    ]
    assert feature["variants"][0]["stickiness"] == "userId"
    chosen = [
        evaluate(relgate_server, token, "cfg-colors", targetingKey=f"user-{n}") for n in range(80)
    ]
    names = [c["variant"] for c in chosen]
    assert 5 <= names.count("blue") <= 40, names
    assert names.count("blue") + names.count("green") == 80
    assert next(c["value"] for c in chosen if c["variant"] == "blue") == {
        "color": "#00f",
        "size": 2,
    }

    # every weight given: they must add up to 100
    out = ok(
        relgate_server, "variants", "set", "cfg-colors", "--env", "production",
        "--variant", "a=60", "--variant", "b=40", "--json",
    )  # fmt: skip
    stored = json.loads(out)["environments"]["production"]["variants"]
    assert [(v["name"], v["weight"]) for v in stored] == [("a", 600), ("b", 400)]
    ok(relgate_server, "variants", "set", "cfg-colors", "--env", "production", "--clear")
    assert served(relgate_server, token, "cfg-colors")[0]["variants"] == []


def test_depend_makes_a_flag_follow_its_parent(relgate_server: RelgateServer) -> None:
    ok(relgate_server, "create", "cfg-parent")
    ok(relgate_server, "create", "cfg-child")
    ok(relgate_server, "enable", "cfg-child", "--env", "production")
    out = ok(relgate_server, "depend", "cfg-child", "--on", "cfg-parent")
    assert "cfg-child depends on cfg-parent on" in out
    token = client_token(relgate_server, "cfg-child-sdk")

    assert evaluate(relgate_server, token, "cfg-child", targetingKey="u1")["value"] is False
    ok(relgate_server, "enable", "cfg-parent", "--env", "production")
    assert evaluate(relgate_server, token, "cfg-child", targetingKey="u1")["value"] is True

    out = ok(relgate_server, "depend", "cfg-child", "--on", "cfg-parent:blue,green")
    assert "cfg-child depends on cfg-parent on with variant blue, green" in out
    feature, _ = served(relgate_server, token, "cfg-child")
    assert feature["dependencies"] == [
        {"feature": "cfg-parent", "enabled": True, "variants": ["blue", "green"]}
    ]
    # the parent has no variant blue or green: the child is off
    assert evaluate(relgate_server, token, "cfg-child", targetingKey="u1")["value"] is False

    assert "depends on nothing" in ok(relgate_server, "depend", "cfg-child", "--clear")
    assert not served(relgate_server, token, "cfg-child")[0].get("dependencies")
    assert evaluate(relgate_server, token, "cfg-child", targetingKey="u1")["value"] is True


def test_bad_input_names_what_is_wrong_with_exit_2(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    ok(relgate_server, "create", "cfg-bad")
    base = ("strategies", "set", "cfg-bad", "--env", "production")
    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("- name: default\n  constraints: [appName IN web\n")
    bad_rollout = tmp_path / "rollout.yaml"
    bad_rollout.write_text(
        "strategies:\n  - name: flexibleRollout\n    parameters:\n      rollout: lots\n"
    )
    bad_text = tmp_path / "text.yaml"
    bad_text.write_text("- name: default\n  constraints:\n    - appName INN web\n")
    unknown_segment = tmp_path / "segment.yaml"
    unknown_segment.write_text("- name: default\n  segments: [cfg-nowhere]\n")
    missing = tmp_path / "missing.yaml"
    variants = ("variants", "set", "cfg-bad", "--env", "production")
    cases = [
        ((*base, "--strategy", "default", "--constraint", "appName"),
         "--constraint: constraint 'appName': write it as 'FIELD OPERATOR VALUE[,VALUE...]'"),
        ((*base, "--strategy", "default", "--constraint", "appName INN web"),
         "--constraint: constraint 'appName INN web': unknown operator 'INN'"),
        ((*base, "--file", str(missing)), f"{missing}: file not found"),
        ((*base, "--file", str(broken_yaml)), f"{broken_yaml}:3: not valid YAML"),
        ((*base, "--file", str(bad_rollout)),
         f"{bad_rollout}:4: strategies[0].parameters.rollout: 'lots' is not a whole percentage"),
        ((*base, "--file", str(bad_text)),
         f"{bad_text}:3: constraint 'appName INN web': unknown operator 'INN'"),
        ((*base, "--file", str(unknown_segment)),
         f"{unknown_segment}:2: strategies[0].segments: no segment 'cfg-nowhere'"),
        ((*base, "--strategy", "default", "--segment", "cfg-nowhere"),
         "--segment: no segment 'cfg-nowhere'"),
        ((*base, "--strategy", "gradualRolloutRandom"),
         "strategies[0].name: 'gradualRolloutRandom' is not a strategy"),
        (base, "give --file FILE or --strategy NAME"),
        ((*variants, "--variant", "a=60", "--variant", "b=60"),
         "the weights add up to 120%, not 100%"),
        ((*variants, "--variant", "a=x"),
         "--variant 'a=x': weight 'x' is not a percentage"),
        ((*variants, "--variant", "a,payload=json:{x"),
         "the json payload is not JSON"),
        (("depend", "cfg-bad", "--on", "cfg-bad"),
         "dependencies[0].feature: a flag cannot depend on itself"),
        (("depend", "cfg-bad"), "give --on PARENT / --off PARENT, or --clear"),
        (("segments", "create", "cfg-bad-seg", "--constraint", "plan BETWEEN a,b"),
         "unknown operator 'BETWEEN'"),
        (("segments", "update", "cfg-no-such-segment", "--description", "x"),
         "no segment 'cfg-no-such-segment'"),
    ]  # fmt: skip
    for args, message in cases:
        code, out, err = flags(relgate_server, *args)
        assert (code, message in err) == (2, True), f"{args}: exit {code}\n{out}\n{err}"
        assert "Traceback" not in err
    assert not json.loads(ok(relgate_server, "show", "cfg-bad", "--json"))["environments"]


def test_an_expiry_in_the_past_is_refused_unless_forced(relgate_server: RelgateServer) -> None:
    code, _, err = flags(relgate_server, "create", "cfg-expired", "--expires", "2020-01-01")
    assert code == 2
    assert "--expires 2020-01-01: the date is not in the future" in err
    assert "--force-expired" in err
    assert flags(relgate_server, "show", "cfg-expired")[0] == 2  # not created

    code, out, err = flags(
        relgate_server, "create", "cfg-expired", "--expires", "2020-01-01", "--force-expired"
    )
    assert code == 0, err
    assert "expires 2020-01-01" in out
    assert "warning: cfg-expired is created already expired on 2020-01-01" in err


def test_update_refuses_an_expiry_in_the_past_unless_forced(relgate_server: RelgateServer) -> None:
    ok(relgate_server, "create", "cfg-renewed", "--expires", "2099-03-01")

    code, _, err = flags(relgate_server, "update", "cfg-renewed", "--expires", "2021-01-01")
    assert code == 2
    assert "--expires 2021-01-01: the date is not in the future" in err
    shown = json.loads(ok(relgate_server, "show", "cfg-renewed", "--json"))
    assert shown["expires_at"].startswith("2099-03-01")

    out = ok(relgate_server, "update", "cfg-renewed", "--owner", "growth", "--expires", "never")
    assert "updated cfg-renewed; expires never" in out
    code, _, err = flags(
        relgate_server, "update", "cfg-renewed", "--expires", "2021-01-01", "--force-expired"
    )
    assert code == 0, err
    assert "warning: cfg-renewed is already expired on 2021-01-01" in err
    shown = json.loads(ok(relgate_server, "show", "cfg-renewed", "--json"))
    assert (shown["owner"], shown["expires_at"][:10]) == ("growth", "2021-01-01")
    code, _, err = flags(relgate_server, "update", "cfg-renewed")
    assert (code, "nothing to change" in err) == (2, True)


def test_the_api_refuses_an_expiry_in_the_past_naming_expires_at(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server
    headers = {"Authorization": f"Bearer {admin}"}
    past = {"key": "cfg-api-expired", "expires_at": "2020-01-01"}

    refused = httpx.post(f"{url}/api/v1/flags", json=past, headers=headers)
    forced = httpx.post(
        f"{url}/api/v1/flags", json={**past, "force_expired": True}, headers=headers
    )
    patch = f"{url}/api/v1/flags/cfg-api-expired"
    later = httpx.patch(patch, json={"expires_at": "2099-01-01"}, headers=headers)
    again = httpx.patch(patch, json={"expires_at": "2021-06-01T12:00:00Z"}, headers=headers)

    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith(
        "expires_at: 2020-01-01T00:00:00+00:00 is not in the future"
    )
    assert "force_expired" in refused.json()["error"]["message"]
    assert forced.status_code == 201
    assert forced.json()["stale_reasons"][0] == "expired on 2020-01-01"
    assert later.status_code == 200
    assert again.status_code == 400
    assert again.json()["error"]["message"].startswith("expires_at:")


def test_flags_lint_help_shows_several_paths() -> None:
    done = run_cli("flags", "lint", "--help")

    assert done.returncode == 0
    assert "flags lint [OPTIONS] PATH...\n" in done.stdout
    assert "PATH...: one or more files and folders to search" in done.stdout
