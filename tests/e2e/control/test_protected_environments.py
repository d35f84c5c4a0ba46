"""Protected environments through the real CLI and server: reviewed changes, deployers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.control.conftest import RelgateServer, api, deploy, run_cli

DIGEST = "sha256:" + "7" * 64

PIPELINE = """\
service: {service}
environments:
  - name: dev
    deployer: {{type: record}}
  - name: production
    deployer: {{ref: {service}-prod}}
    gates:
{gates}"""

GATES = """\
      - type: verified_in
      - type: approval
        count: 1
"""

Tokens = dict[str, str]


@pytest.fixture(scope="module")
def tokens(relgate_server: RelgateServer) -> Tokens:
    """Tokens by name: admin; pat (ci) and Pat (approver), one person; quinn (approver)."""
    made = {"admin": relgate_server[1]}
    for name, role in (("pat", "ci"), ("Pat", "approver"), ("quinn", "approver")):
        created = api(relgate_server, "POST", "/api/v1/tokens", json={"name": name, "role": role})
        made[name] = created["token"]
    return made


def _register(server: RelgateServer, service: str, folder: Path) -> None:
    url, admin, _ = server
    added = run_cli(
        "deployers", "add", f"{service}-prod", "--type", "command",
        "--command",
        f'echo "deploying $RELGATE_VERSION"; echo "$RELGATE_VERSION" > {folder}/prod.txt',
        "--env-allow", "KUBECONFIG", "--secret", "API_TOKEN=s3cret",
        url=url, token=admin,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert f"registered deployer {service}-prod" in added.stdout


def _apply(
    server: RelgateServer, token: str, folder: Path, text: str, *extra: str
) -> tuple[int, str, str]:
    (folder / "relgate.yaml").write_text(text)
    proc = run_cli("apply", *extra, url=server[0], token=token, cwd=folder)
    return proc.returncode, proc.stdout, proc.stderr


def _service(server: RelgateServer, tokens: Tokens, folder: Path, service: str) -> None:
    """Register the service's deployer and apply its first pipeline, as admin; one release."""
    _register(server, service, folder)
    code, _, err = _apply(
        server, tokens["admin"], folder, PIPELINE.format(service=service, gates=GATES)
    )
    assert code == 0, err
    artifact = f"registry.example.com/{service}@{DIGEST}"
    body = {"service": service, "version": "1.0.0", "artifact": artifact, "author": "dora"}
    api(server, "POST", "/api/v1/releases", token=tokens["pat"], json=body)
    assert deploy(server, tokens["pat"], service, "1.0.0", "dev")["state"] == "succeeded"


def test_a_ci_token_removing_the_production_approval_gets_a_pending_revision_and_the_gate_holds(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, tokens, tmp_path, "guarded-vault")
    weaker = PIPELINE.format(service="guarded-vault", gates="      - type: verified_in\n")

    code, out, err = _apply(relgate_server, tokens["pat"], tmp_path, weaker)
    again_code, again_out, _ = _apply(relgate_server, tokens["pat"], tmp_path, weaker, "--json")
    promoted = run_cli(
        "promote",
        "guarded-vault@1.0.0",
        "--to",
        "production",
        "--json",
        url=url,
        token=tokens["pat"],
    )
    pending = run_cli("pipeline", "pending", "guarded-vault", url=url, token=tokens["quinn"])

    assert code == 1
    assert out.splitlines()[:2] == [
        "revision 2 weakens protection:",
        "  - production no longer needs an approval (the approval gate needing 1 approval is "
        "removed)",
    ]
    assert "pending: guarded-vault pipeline revision 2 weakens a protected environment" in err
    assert "relgate pipeline approve guarded-vault 2" in err
    answer = json.loads(again_out)
    assert again_code == 1
    assert (answer["status"], answer["revision"], answer["in_force"]) == ("pending", 2, 1)
    assert answer["weakens"] == [
        {
            "environment": "production",
            "effect": "weakens",
            "message": "production no longer needs an approval "
            "(the approval gate needing 1 approval is removed)",
        }
    ]
    assert promoted.returncode == 0, promoted.stderr
    assert json.loads(promoted.stdout)["state"] == "waiting_for_approval"
    assert pending.returncode == 0, pending.stderr
    assert "guarded-vault revision 2: pending, applied by pat" in pending.stdout
    assert "in force: revision 1" in pending.stdout
    assert not (tmp_path / "prod.txt").exists()


def test_the_applier_cannot_approve_their_revision_and_another_approver_puts_it_in_force(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, tokens, tmp_path, "guarded-ledger")
    weaker = PIPELINE.format(service="guarded-ledger", gates="      - type: verified_in\n")
    assert _apply(relgate_server, tokens["pat"], tmp_path, weaker)[0] == 1

    own = run_cli("pipeline", "approve", "guarded-ledger", "2", url=url, token=tokens["Pat"])
    other = run_cli(
        "pipeline", "approve", "guarded-ledger", "2", "--comment", "freeze lifted",
        url=url, token=tokens["quinn"],
    )  # fmt: skip
    twice = run_cli("pipeline", "approve", "guarded-ledger", "2", url=url, token=tokens["quinn"])
    promoted = deploy(relgate_server, tokens["pat"], "guarded-ledger", "1.0.0", "production")
    events = api(
        relgate_server, "GET", "/api/v1/audit", params={"subject": "service/guarded-ledger"}
    )

    assert own.returncode == 2
    assert (
        "Pat applied revision 2 of guarded-ledger and cannot approve it: another approver must"
        in (own.stderr)
    )
    assert other.returncode == 0, other.stderr
    assert "approved guarded-ledger pipeline revision 2: it is in force now" in other.stdout
    assert twice.returncode == 1
    assert "revision 2 of guarded-ledger was approved by quinn" in twice.stderr
    # the new rules are in force: production no longer waits for an approval
    assert promoted["state"] == "succeeded"
    assert (tmp_path / "prod.txt").read_text() == "1.0.0\n"
    assert [e["action"] for e in events if e["action"].startswith("pipeline.")] == [
        "pipeline.approved",
        "pipeline.pending",
        "pipeline.applied",
    ]


def test_tightening_and_reformatting_apply_at_once(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    _service(relgate_server, tokens, tmp_path, "guarded-mint")
    stricter = GATES.replace("count: 1", "count: 2")
    reordered = "      - {count: 2, type: approval}\n      - {type: verified_in}\n"

    tightened = _apply(
        relgate_server,
        tokens["pat"],
        tmp_path,
        PIPELINE.format(service="guarded-mint", gates=stricter),
    )
    reformatted = _apply(
        relgate_server,
        tokens["pat"],
        tmp_path,
        "# reordered\n" + PIPELINE.format(service="guarded-mint", gates=reordered),
        "--json",
    )

    assert tightened[0] == 0, tightened[2]
    assert tightened[1].splitlines() == [
        "applied guarded-mint pipeline revision 2: dev -> production",
        "it tightens protection:",
        "  + production approvals needed raised from 1 to 2",
    ]
    assert reformatted[0] == 0, reformatted[2]
    answer = json.loads(reformatted[1])
    assert (answer["status"], answer["revision"], answer["weakens"], answer["tightens"]) == (
        "active",
        3,
        [],
        [],
    )


def test_a_relgate_yaml_with_its_own_command_for_production_is_refused(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    text = (
        "service: guarded-rogue\nenvironments:\n  - name: dev\n    deployer: {type: record}\n"
        "  - name: production\n"
        "    deployer: {type: command, command: 'env > /tmp/stolen'}\n"
    )

    code, _, err = _apply(relgate_server, tokens["admin"], tmp_path, text)
    through_api = run_cli("status", "guarded-rogue", url=relgate_server[0], token=tokens["admin"])

    assert code == 2
    assert err.startswith(
        "error: relgate.yaml:6: environments[1].deployer: production is "
        "protected: its deployer must be one an admin registered on the server"
    )
    assert "Traceback" not in err
    assert through_api.returncode == 2  # nothing was sent: no such service


def test_a_registered_deployer_runs_and_only_an_admin_sees_it_without_its_secrets(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, tokens, tmp_path, "guarded-atlas")

    shown = run_cli("deployers", "show", "guarded-atlas-prod", url=url, token=tokens["admin"])
    listed = run_cli("deployers", "list", "--json", url=url, token=tokens["admin"])
    by_ci = run_cli("deployers", "list", url=url, token=tokens["pat"])
    waiting = api(
        relgate_server,
        "POST",
        "/api/v1/deployments",
        token=tokens["pat"],
        json={"service": "guarded-atlas", "version": "1.0.0", "environment": "production"},
    )
    approved = run_cli(
        "approve", "guarded-atlas@1.0.0", "--env", "production", "--wait", "--timeout", "60",
        url=url, token=tokens["quinn"],
    )  # fmt: skip
    logs = run_cli("deploy", "logs", str(waiting["id"]), url=url, token=tokens["admin"])

    assert shown.returncode == 0, shown.stderr
    assert "env_allow: KUBECONFIG" in shown.stdout
    assert "secrets: API_TOKEN" in shown.stdout
    assert "s3cret" not in shown.stdout + listed.stdout
    entry = next(d for d in json.loads(listed.stdout) if d["name"] == "guarded-atlas-prod")
    assert (entry["secrets"], entry["source"]) == (["API_TOKEN"], "database")
    assert by_ci.returncode == 2
    assert "manage registered deployers needs the role admin" in by_ci.stderr
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert (tmp_path / "prod.txt").read_text() == "1.0.0\n"
    assert "deployer: the registered deployer 'guarded-atlas-prod'" in logs.stdout
    assert "deploying 1.0.0" in logs.stdout
