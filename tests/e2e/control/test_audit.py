"""relgate audit verify against a real server, before and after tampering with its database."""

from __future__ import annotations

import json
import sqlite3

from tests.e2e.control.conftest import RelgateServer, api, run_cli


def test_audit_verify_is_intact_until_an_event_row_is_changed_in_the_database(
    fresh_relgate_server: RelgateServer,
) -> None:
    url, admin, workdir = fresh_relgate_server
    for name in ("one", "two"):
        api(fresh_relgate_server, "POST", "/api/v1/tokens", json={"name": name, "role": "ci"})

    intact = run_cli("audit", "verify", url=url, token=admin)
    listed = run_cli("audit", "list", "--subject", "token/", "--json", url=url, token=admin)
    with sqlite3.connect(workdir / "relgate.db") as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE subject = 'token/one'")
    tampered = run_cli("audit", "verify", url=url, token=admin)

    assert intact.returncode == 0, intact.stderr
    assert "audit trail intact" in intact.stdout
    assert {e["subject"] for e in json.loads(listed.stdout)} >= {"token/one", "token/two"}
    assert tampered.returncode == 1
    assert "NOT intact" in tampered.stdout
    assert tampered.stdout.count("\n") >= 2  # the problems are listed
