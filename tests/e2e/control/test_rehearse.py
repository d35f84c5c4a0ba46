"""`relgate rehearse` against a real server, and the rollback_rehearsed gate it satisfies."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.control.conftest import RelgateServer, api, deploy, run_cli

DIGESTS = {"1.4.0": "4", "2.0.0": "2"}

# staging deploys with a command that writes what it deploys; with `fail_back`, deploying
# 1.4.0 a second time fails as a rollback over a schema 2.0.0 changed would
PIPELINE = """\
service: {service}
environments:
  - name: staging
    deployer:
      type: command
      command: >-
        echo "$RELGATE_VERSION" >> {folder}/staging.log;
        if [ -f {folder}/fail_back ] && [ "$RELGATE_VERSION" = 1.4.0 ]
        && [ "$(grep -c '^1.4.0$' {folder}/staging.log)" -gt 1 ];
        then echo "schema 2 cannot go back" >&2; exit 3; fi
  - name: production
    protected: false
    deployer: {{type: record}}
    gates:
      - type: verified_in
      - type: rollback_rehearsed
        in: staging
"""


@pytest.fixture(scope="module")
def ci_token(relgate_server: RelgateServer) -> str:
    created = api(
        relgate_server, "POST", "/api/v1/tokens", json={"name": "rehearser", "role": "ci"}
    )
    return str(created["token"])


def _service(server: RelgateServer, token: str, folder: Path, service: str) -> None:
    """A service with 1.4.0 stable in staging and production, and 2.0.0 registered."""
    source = PIPELINE.format(service=service, folder=folder)
    api(server, "POST", "/api/v1/pipelines", token=token, json={"source": source})
    for version, digit in DIGESTS.items():
        body = {
            "service": service,
            "version": version,
            "artifact": f"registry.example.com/{service}@sha256:{digit * 64}",
        }
        api(server, "POST", "/api/v1/releases", token=token, json=body)
    for environment in ("staging", "production"):
        assert deploy(server, token, service, "1.4.0", environment)["state"] == "succeeded"


def test_rehearse_runs_the_three_steps_and_then_the_major_release_may_enter_production(
    relgate_server: RelgateServer, ci_token: str, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, ci_token, tmp_path, "rehearsed-pay")
    assert deploy(relgate_server, ci_token, "rehearsed-pay", "2.0.0", "staging")["state"] == (
        "succeeded"
    )

    refused = run_cli(
        "promote", "rehearsed-pay@2.0.0", "--to", "production", url=url, token=ci_token
    )
    rehearsed = run_cli(
        "rehearse", "rehearsed-pay@2.0.0", "--env", "staging", url=url, token=ci_token
    )
    fresh = run_cli(
        "rehearse", "rehearsed-pay@2.0.0", "--env", "staging", "--json", url=url, token=ci_token
    )
    promoted = run_cli(
        "promote", "rehearsed-pay@2.0.0", "--to", "production", "--wait", "--json",
        url=url, token=ci_token,
    )  # fmt: skip

    assert refused.returncode == 1
    assert "rollback_rehearsed  missing" in refused.stdout
    assert "2.0.0 is a major bump over 1.4.0 (production's stable release)" in refused.stdout
    assert "relgate rehearse rehearsed-pay@2.0.0 --env staging" in refused.stderr

    assert rehearsed.returncode == 0, rehearsed.stdout + rehearsed.stderr
    # 2.0.0 already ran healthy in staging: the rehearsal went on from step 2
    assert "step 1/3" not in rehearsed.stderr
    assert "step 2/3: roll staging back to 1.4.0" in rehearsed.stderr
    assert "step 3/3: unpin staging and deploy rehearsed-pay@2.0.0 again" in rehearsed.stderr
    assert "rehearsed in staging" in rehearsed.stdout
    assert "recorded in the audit trail" in rehearsed.stdout
    assert (tmp_path / "staging.log").read_text() == "1.4.0\n2.0.0\n1.4.0\n2.0.0\n"

    again = json.loads(fresh.stdout)
    assert fresh.returncode == 0
    assert again["already"] is True
    assert again["rehearsal"]["progress"] == again["rehearsal"]["summary"]
    steps = again["rehearsal"]["rehearsal"]
    assert steps["rolled_back_to"] == "1.4.0"
    assert steps["rolled_back"]["kind"] == "rollback"
    assert steps["deployed"]["id"] < steps["rolled_back"]["id"] < steps["redeployed"]["id"]

    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    gates = {g["gate"]: g for g in json.loads(promoted.stdout)["gates"]}
    assert gates["rollback_rehearsed"]["status"] == "pass"
    assert gates["rollback_rehearsed"]["reason"].startswith("rehearsed in staging ")
    assert (
        f"redeployed #{steps['redeployed']['id']} (rehearser, "
        in (gates["rollback_rehearsed"]["reason"])
    )

    audit = api(relgate_server, "GET", "/api/v1/audit", params={"action": "rehearsal.recorded"})
    mine = [e for e in audit if e["subject"] == "release/rehearsed-pay@2.0.0"]
    assert len(mine) == 1
    assert mine[0]["actor"] == "rehearser"


def test_a_rehearsal_from_scratch_deploys_three_times(
    relgate_server: RelgateServer, ci_token: str, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, ci_token, tmp_path, "scratch-pay")

    rehearsed = run_cli(
        "rehearse", "scratch-pay@2.0.0", "--env", "staging", "--json", url=url, token=ci_token
    )

    assert rehearsed.returncode == 0, rehearsed.stdout + rehearsed.stderr
    answer = json.loads(rehearsed.stdout)
    assert answer["already"] is False
    assert [(s["kind"], s["version"], s["state"]) for s in answer["steps"]] == [
        ("promote", "2.0.0", "succeeded"),
        ("rollback", "1.4.0", "succeeded"),
        ("promote", "2.0.0", "succeeded"),
    ]
    assert "step 1/3: deploy scratch-pay@2.0.0 to staging" in rehearsed.stderr
    check = run_cli(
        "gates", "check", "scratch-pay@2.0.0", "--env", "production", url=url, token=ci_token
    )
    assert check.returncode == 0, check.stdout
    assert "rehearsed in staging" in check.stdout


def test_a_failed_rollback_names_the_step_and_the_gate_refuses_production(
    relgate_server: RelgateServer, ci_token: str, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, ci_token, tmp_path, "broken-pay")
    (tmp_path / "fail_back").write_text("")

    rehearsed = run_cli("rehearse", "broken-pay@2.0.0", "--env", "staging", url=url, token=ci_token)
    refused = run_cli("promote", "broken-pay@2.0.0", "--to", "production", url=url, token=ci_token)

    assert rehearsed.returncode == 1
    assert "step 2/3 (roll staging back to 1.4.0) failed: deployment" in rehearsed.stderr
    assert "ended failed" in rehearsed.stderr
    assert "staging now runs 1.4.0 (stable 2.0.0" in rehearsed.stderr
    assert refused.returncode == 1
    assert "rollback_rehearsed  fail" in refused.stdout
    assert "failed" in refused.stdout


def test_only_who_may_promote_and_roll_back_there_may_rehearse(
    relgate_server: RelgateServer, ci_token: str, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, ci_token, tmp_path, "scoped-pay")
    approver = api(
        relgate_server,
        "POST",
        "/api/v1/tokens",
        json={"name": "rehearsal-approver", "role": "approver"},
    )["token"]
    elsewhere = api(
        relgate_server,
        "POST",
        "/api/v1/tokens",
        json={"name": "prod-only-ci", "role": "ci", "environments": ["production"]},
    )["token"]
    body = {"service": "scoped-pay", "version": "2.0.0", "environment": "staging"}

    by_approver = httpx.post(
        f"{url}/api/v1/rehearsals", json=body, headers={"Authorization": f"Bearer {approver}"}
    )
    by_scoped = run_cli(
        "rehearse", "scoped-pay@2.0.0", "--env", "staging", url=url, token=elsewhere
    )
    unfinished = httpx.post(
        f"{url}/api/v1/rehearsals", json=body, headers={"Authorization": f"Bearer {ci_token}"}
    )

    assert by_approver.status_code == 403
    assert "to promote needs the role admin or ci" in by_approver.json()["error"]["message"]
    assert by_scoped.returncode == 2
    assert "scoped to the environments production, not 'staging'" in by_scoped.stderr
    assert unfinished.status_code == 409
    assert "no complete rollback rehearsal of scoped-pay@2.0.0 in staging" in unfinished.text
    assert (tmp_path / "staging.log").read_text() == "1.4.0\n"


def test_a_step_that_outlasts_the_timeout_is_named_with_what_runs_meanwhile(
    relgate_server: RelgateServer, ci_token: str, tmp_path: Path
) -> None:
    url = relgate_server[0]
    service = "slow-pay"
    source = PIPELINE.format(service=service, folder=tmp_path).replace(
        'echo "$RELGATE_VERSION" >> ',
        'if [ "$RELGATE_VERSION" = 2.0.0 ]; then sleep 8; fi; echo "$RELGATE_VERSION" >> ',
    )
    api(relgate_server, "POST", "/api/v1/pipelines", token=ci_token, json={"source": source})
    for version, digit in DIGESTS.items():
        body = {"service": service, "version": version,
                "artifact": f"registry.example.com/{service}@sha256:{digit * 64}"}  # fmt: skip
        api(relgate_server, "POST", "/api/v1/releases", token=ci_token, json=body)
    assert deploy(relgate_server, ci_token, service, "1.4.0", "staging")["state"] == "succeeded"

    timed_out = run_cli(
        "rehearse", f"{service}@2.0.0", "--env", "staging", "--timeout", "1",
        url=url, token=ci_token,
    )  # fmt: skip

    assert timed_out.returncode == 1
    assert f"step 1/3 (deploy {service}@2.0.0 to staging) failed: deployment" in timed_out.stderr
    assert "had not ended when --timeout 1 s ran out; it goes on" in timed_out.stderr
    assert "staging now runs 1.4.0 (stable 1.4.0, deployment" in timed_out.stderr
