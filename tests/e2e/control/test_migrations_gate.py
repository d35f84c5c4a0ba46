"""The migrations gate against a real server: a release that drops a column waits until the
expand release it names is stable in production, then enters; through the CLI, the API and
the web UI's gate table."""

from __future__ import annotations

import html
import json
from pathlib import Path

import httpx

from tests.e2e.control.conftest import RelgateServer, api, deploy, run_cli

DIGEST = "sha256:" + "c" * 64

PIPELINE = """\
service: {service}
environments:
  - name: dev
    deployer: {{type: record}}
  - name: production
    deployer: {{type: record}}
    gates:
      - type: migrations
"""

EXPAND = "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN email_address text;\n"
CONTRACT = (
    "SET lock_timeout = '5s';\n"
    "-- relgate:contract after=1.4.0\n"
    "ALTER TABLE users DROP COLUMN email;\n"
)


def _release(server: RelgateServer, service: str, version: str) -> None:
    artifact = f"registry.example.com/{service}@{DIGEST}"
    api(server, "POST", "/api/v1/releases", json={"service": service, "version": version,
                                                 "artifact": artifact})  # fmt: skip


def _attach(server: RelgateServer, release: str, sql: str, folder: Path) -> None:
    """Run the check as CI does and attach its JSON with `relgate evidence add`."""
    url, admin, _ = server
    migration = folder / release.replace("@", "-") / "0007.sql"
    migration.parent.mkdir(parents=True)
    migration.write_text(sql)
    checked = run_cli("migrations", "check", "--json", str(migration.parent))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = migration.parent / "migrations.json"
    report.write_text(checked.stdout)
    added = run_cli(
        "evidence", "add", release, "--kind", "migrations", "--file", str(report),
        url=url, token=admin,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


def _gate(server: RelgateServer, release: str) -> dict[str, str]:
    service, _, version = release.partition("@")
    check = api(
        server, "GET", f"/api/v1/releases/{service}/{version}/gates",
        params={"environment": "production"},
    )  # fmt: skip
    (row,) = [g for g in check["gates"] if g["gate"] == "migrations"]
    return {"status": row["status"], "reason": row["reason"]}


def test_a_contract_release_enters_production_only_after_the_expand_release_is_stable(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    service = "accounts-mig"
    api(relgate_server, "POST", "/api/v1/pipelines", json={"source": PIPELINE.format(
        service=service)})  # fmt: skip
    for version in ("1.3.0", "1.4.0", "1.5.0"):
        _release(relgate_server, service, version)

    missing = _gate(relgate_server, f"{service}@1.3.0")
    _attach(relgate_server, f"{service}@1.3.0", EXPAND, tmp_path)
    assert deploy(relgate_server, admin, service, "1.3.0", "production")["state"] == "succeeded"
    _attach(relgate_server, f"{service}@1.4.0", EXPAND, tmp_path)
    _attach(relgate_server, f"{service}@1.5.0", CONTRACT, tmp_path)

    shown = run_cli("gates", "check", f"{service}@1.5.0", "--env", "production",
                    url=url, token=admin)  # fmt: skip
    refused = run_cli("promote", f"{service}@1.5.0", "--to", "production", url=url, token=admin)
    waiting = _gate(relgate_server, f"{service}@1.5.0")

    assert missing["status"] == "missing"
    assert "--kind migrations" in missing["reason"]
    assert shown.returncode == 1
    assert "migrations" in shown.stdout
    assert "production runs 1.3.0" in shown.stdout
    assert refused.returncode == 1
    assert waiting["status"] == "fail"
    assert waiting["reason"] == (
        "drops or renames users.email (contract after 1.4.0), but production runs 1.3.0, "
        f"which may still use them: relgate promote {service}@1.4.0 --to production first"
    )

    assert deploy(relgate_server, admin, service, "1.4.0", "production")["state"] == "succeeded"
    ready = _gate(relgate_server, f"{service}@1.5.0")
    page = _web_release_page(relgate_server, service, "1.5.0")
    entered = run_cli(
        "promote", f"{service}@1.5.0", "--to", "production", "--wait", "--json",
        url=url, token=admin,
    )  # fmt: skip

    assert ready["status"] == "pass"
    assert "production runs 1.4.0, deployed and verified" in ready["reason"]
    assert "migrations" in page
    assert "production runs 1.4.0, deployed and verified" in page
    assert entered.returncode == 0, entered.stderr
    assert json.loads(entered.stdout)["state"] == "succeeded"


def test_a_migration_report_that_is_not_one_is_refused_with_400_naming_the_field(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server
    service = "accounts-mig-bad"
    api(relgate_server, "POST", "/api/v1/pipelines", json={"source": PIPELINE.format(
        service=service)})  # fmt: skip
    _release(relgate_server, service, "1.0.0")
    forged = {"format": "relgate-migrations", "findings": [{"rule": "drop-table", "line": 0}]}

    response = httpx.post(
        f"{url}/api/v1/releases/{service}/1.0.0/evidence",
        params={"kind": "migrations", "filename": "migrations.json"},
        content=json.dumps(forged).encode(),
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    stored = api(relgate_server, "GET", f"/api/v1/releases/{service}/1.0.0/evidence")

    assert response.status_code == 400
    assert "migrations.json: findings.0.level: Field required" in response.text
    assert stored == []


def _web_release_page(server: RelgateServer, service: str, version: str) -> str:
    url, admin, _ = server
    with httpx.Client(base_url=url, timeout=30) as browser:
        signed = browser.post("/sign-in", data={"token": admin, "next": "/"})
        assert signed.status_code == 303, signed.text
        page = browser.get(f"/releases/{service}/{version}")
        assert page.status_code == 200
        return html.unescape(page.text)
