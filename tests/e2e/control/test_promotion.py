"""Promotion through a real pipeline: command deployers, an approval gate, rollback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.control.conftest import RelgateServer, api, cli_env, deploy, run_cli

DIGEST = {"1.0.0": "sha256:" + "1" * 64, "1.1.0": "sha256:" + "2" * 64}

PIPELINE = """\
service: {service}
environments:
  - name: dev
    deployer:
      type: command
      command: 'echo "deploying $RELGATE_VERSION"; echo "$RELGATE_VERSION" > {folder}/dev.txt'
  - name: production
    gates:
      - type: verified_in
      - type: approval
    deployer: {{ref: {service}-production}}
"""

Tokens = dict[str, str]


@pytest.fixture(scope="module")
def tokens(relgate_server: RelgateServer) -> Tokens:
    """Tokens by name: admin, ci (role ci), alice and bob (role approver)."""
    made = {"admin": relgate_server[1]}
    for name, role in (("ci", "ci"), ("alice", "approver"), ("bob", "approver")):
        created = api(relgate_server, "POST", "/api/v1/tokens", json={"name": name, "role": role})
        made[name] = created["token"]
    return made


def _service(
    server: RelgateServer, tokens: Tokens, folder: Path, service: str, versions: list[str]
) -> None:
    """Apply the pipeline of ``service`` and create its releases, written by alice, as ci.

    Production is protected: an admin registers its deployer first.
    """
    command = f'echo "$RELGATE_VERSION" > {folder}/production.txt'
    registered = {"name": f"{service}-production", "command": command}
    api(server, "POST", "/api/v1/deployers", json=registered)
    source = PIPELINE.format(service=service, folder=folder)
    api(server, "POST", "/api/v1/pipelines", token=tokens["ci"], json={"source": source})
    for version in versions:
        body = {
            "service": service,
            "version": version,
            "artifact": f"registry.example.com/{service}@{DIGEST[version]}",
            "author": "alice",
        }
        api(server, "POST", "/api/v1/releases", token=tokens["ci"], json=body)


def _deploy_to_dev(server: RelgateServer, tokens: Tokens, release: str) -> None:
    service, _, version = release.partition("@")
    assert deploy(server, tokens["ci"], service, version, "dev")["state"] == "succeeded"


def _waiting_deployment(server: RelgateServer, service: str) -> int:
    """Return the id of the deployment of ``service`` waiting in production (polls briefly)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        history = api(server, "GET", f"/api/v1/services/{service}/history")
        waiting = [d for d in history if d["state"] == "waiting_for_approval"]
        if waiting:
            return int(waiting[0]["id"])
        time.sleep(0.05)
    raise AssertionError(f"no deployment of {service} waits for approval in production")


def test_a_failing_gate_refuses_promotion_and_prints_every_gate(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    _service(relgate_server, tokens, tmp_path, "orders", ["1.0.0"])

    proc = run_cli(
        "promote", "orders@1.0.0", "--to", "production", url=relgate_server[0], token=tokens["ci"]
    )

    assert proc.returncode == 1
    assert "verified_in  missing" in proc.stdout
    assert "not deployed and verified in dev yet" in proc.stdout
    assert "approval" in proc.stdout
    assert "cannot enter production" in proc.stderr
    assert not (tmp_path / "production.txt").exists()


def test_a_release_goes_to_dev_then_to_production_once_an_approver_approves(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, tokens, tmp_path, "shop", ["1.0.0"])

    to_dev = run_cli("promote", "shop@1.0.0", "--to", "dev", "--wait", url=url, token=tokens["ci"])
    assert to_dev.returncode == 0, to_dev.stdout + to_dev.stderr
    assert "shop@1.0.0 to dev: succeeded" in to_dev.stdout
    assert (tmp_path / "dev.txt").read_text() == "1.0.0\n"

    waiter = subprocess.Popen(
        [sys.executable, "-m", "relgate", "promote", "shop@1.0.0", "--to", "production",
         "--reason", "weekly release", "--wait", "--timeout", "60"],
        env=cli_env(url=url, token=tokens["ci"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deployment = _waiting_deployment(relgate_server, "shop")
        by_author = run_cli(
            "approve", "shop@1.0.0", "--env", "production", token=tokens["alice"], url=url
        )
        by_bob = run_cli(
            "approve", "shop@1.0.0", "--env", "production", "--comment", "looks good",
            url=url, token=tokens["bob"],
        )  # fmt: skip
        out, err = waiter.communicate(timeout=60)
    finally:
        waiter.kill()
        waiter.wait()

    assert by_author.returncode == 2
    assert "alice is the author of shop@1.0.0 and cannot approve it" in by_author.stderr
    assert by_bob.returncode == 0, by_bob.stderr
    assert waiter.returncode == 0, out + err
    assert "waits for approval" in err
    assert "relgate approve shop@1.0.0 --env production" in err
    assert f"deployment {deployment}: shop@1.0.0 to production: succeeded" in out
    assert (tmp_path / "production.txt").read_text() == "1.0.0\n"

    status = run_cli("status", "shop", "--json", url=url, token=tokens["ci"])
    rows = {row["environment"]: row for row in json.loads(status.stdout)}
    assert rows["production"]["current"] == "1.0.0"
    assert rows["production"]["stable"] == "1.0.0"
    assert rows["production"]["last_deployment"] == deployment
    table = run_cli("status", "shop", url=url, token=tokens["ci"])
    assert f"#{deployment} 1.0.0 succeeded" in table.stdout

    history = run_cli("history", "shop", url=url, token=tokens["ci"])
    assert history.returncode == 0, history.stderr
    assert "weekly release" in history.stdout
    shown = run_cli("deploy", "show", str(deployment), url=url, token=tokens["ci"])
    assert "approved by bob" in shown.stdout
    assert "looks good" in shown.stdout


def test_rollback_redeploys_the_earlier_version_and_pins_the_environment(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, tokens, tmp_path, "billing", ["1.0.0", "1.1.0"])
    _deploy_to_dev(relgate_server, tokens, "billing@1.0.0")
    _deploy_to_dev(relgate_server, tokens, "billing@1.1.0")

    rolled = run_cli(
        "rollback", "billing", "dev", "--reason", "errors after 1.1.0", "--wait",
        url=url, token=tokens["ci"],
    )  # fmt: skip
    status = api(relgate_server, "GET", "/api/v1/status", params={"service": "billing"})
    refused = run_cli("promote", "billing@1.1.0", "--to", "dev", url=url, token=tokens["ci"])
    unpinned = run_cli("unpin", "billing", "dev", url=url, token=tokens["ci"])
    history = api(relgate_server, "GET", "/api/v1/services/billing/history")

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "rolled back dev of billing from 1.1.0 to 1.0.0" in rolled.stdout
    assert (tmp_path / "dev.txt").read_text() == "1.0.0\n"
    dev = next(row for row in status if row["environment"] == "dev")
    assert (dev["current"], dev["pinned"]) == ("1.0.0", "1.0.0")
    assert refused.returncode == 1
    assert "pinned to 1.0.0" in refused.stderr
    assert unpinned.returncode == 0, unpinned.stderr
    newest = history[0]
    assert (newest["kind"], newest["reason"], newest["state"]) == (
        "rollback",
        "errors after 1.1.0",
        "succeeded",
    )


def test_a_rejected_deployment_ends_and_never_deploys(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, tokens, tmp_path, "catalog", ["1.0.0"])
    _deploy_to_dev(relgate_server, tokens, "catalog@1.0.0")

    requested = run_cli(
        "promote", "catalog@1.0.0", "--to", "production", "--json", url=url, token=tokens["ci"]
    )
    check = run_cli(
        "gates", "check", "catalog@1.0.0", "--env", "production", url=url, token=tokens["bob"]
    )
    rejected = run_cli(
        "reject", "catalog@1.0.0", "--env", "production", "--reason", "not during the sale",
        "--json", url=url, token=tokens["bob"],
    )  # fmt: skip

    assert requested.returncode == 0, requested.stderr
    assert json.loads(requested.stdout)["state"] == "waiting_for_approval"
    assert check.returncode == 1
    assert "waits only for an approval to enter production" in check.stdout
    assert rejected.returncode == 0, rejected.stderr
    assert json.loads(rejected.stdout)["state"] == "rejected"
    assert not (tmp_path / "production.txt").exists()


def test_a_waiting_deployment_can_be_cancelled_and_the_log_shows_the_deployer_output(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, tokens, tmp_path, "media", ["1.0.0"])
    _deploy_to_dev(relgate_server, tokens, "media@1.0.0")
    dev = api(relgate_server, "GET", "/api/v1/services/media/history")
    gave_up = run_cli(
        "promote", "media@1.0.0", "--to", "production", "--wait", "--timeout", "0.3",
        url=url, token=tokens["ci"],
    )  # fmt: skip
    waiting = api(relgate_server, "GET", "/api/v1/services/media/history")[0]

    logs = run_cli("deploy", "logs", str(dev[0]["id"]), "--follow", url=url, token=tokens["ci"])
    cancelled = run_cli(
        "deploy", "cancel", str(waiting["id"]), "--reason", "wrong day", url=url, token=tokens["ci"]
    )
    again = run_cli("deploy", "cancel", str(waiting["id"]), url=url, token=tokens["ci"])

    assert gave_up.returncode == 1
    assert f"deployment {waiting['id']} is still waiting_for_approval after 0.3 s" in gave_up.stderr
    assert logs.returncode == 0, logs.stderr
    assert "deploying 1.0.0" in logs.stdout
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled" in cancelled.stdout
    assert again.returncode == 1
    assert "can no longer be cancelled" in again.stderr


def test_waiting_for_a_deployment_that_fails_exits_1_with_its_outcome(
    relgate_server: RelgateServer, tokens: Tokens
) -> None:
    url = relgate_server[0]
    source = (
        "service: fragile\nenvironments:\n  - name: dev\n    protected: false\n    deployer:\n"
        "      type: command\n      command: 'echo cluster unreachable >&2; exit 3'\n"
    )
    api(relgate_server, "POST", "/api/v1/pipelines", token=tokens["ci"], json={"source": source})
    artifact = f"registry.example.com/fragile@{DIGEST['1.0.0']}"
    body = {"service": "fragile", "version": "1.0.0", "artifact": artifact}
    api(relgate_server, "POST", "/api/v1/releases", token=tokens["ci"], json=body)

    proc = run_cli("promote", "fragile@1.0.0", "--to", "dev", "--wait", url=url, token=tokens["ci"])

    assert proc.returncode == 1
    assert "fragile@1.0.0 to dev: failed" in proc.stdout


def test_rollback_dry_run_names_the_version_and_changes_nothing(
    relgate_server: RelgateServer, tokens: Tokens, tmp_path: Path
) -> None:
    url = relgate_server[0]
    _service(relgate_server, tokens, tmp_path, "dry-ledger", ["1.0.0", "1.1.0"])
    _deploy_to_dev(relgate_server, tokens, "dry-ledger@1.0.0")
    nothing = run_cli("rollback", "dry-ledger", "dev", "--dry-run", url=url, token=tokens["alice"])
    _deploy_to_dev(relgate_server, tokens, "dry-ledger@1.1.0")

    told = run_cli("rollback", "dry-ledger", "dev", "--dry-run", url=url, token=tokens["ci"])
    as_json = run_cli(
        "rollback", "dry-ledger", "dev", "--dry-run", "--json", url=url, token=tokens["ci"]
    )
    status = api(relgate_server, "GET", "/api/v1/status", params={"service": "dry-ledger"})

    assert nothing.returncode == 1
    assert "no rollback: dev of dry-ledger has no earlier release" in nothing.stdout
    assert told.returncode == 0, told.stdout + told.stderr
    assert "a rollback of dev of dry-ledger would deploy 1.0.0" in told.stdout
    assert json.loads(as_json.stdout)["version"] == "1.0.0"
    dev = next(row for row in status if row["environment"] == "dev")
    assert (dev["current"], dev["pinned"]) == ("1.1.0", None)
