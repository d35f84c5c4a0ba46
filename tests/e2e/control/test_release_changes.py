"""`relgate release changes` and `relgate evidence get` against real servers, both stores."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.control.conftest import RelgateServer, api, deploy, run_cli

PIPELINE = """\
service: {service}
environments:
  - name: dev
    deployer: {{type: record}}
"""
CHANGELOGS = {
    "1.0.0": "## 1.0.0\n\n### Features\n\n- first screen (1111111)\n",
    "1.1.0": "## 1.1.0\n\n### Bug fixes\n\n- **ui:** flicker (2222222)\n",
    "2.0.0": "## 2.0.0\n\n### Breaking changes\n\n- /v1 is gone (3333333)\n",
    "2.1.0": "We rewrote the docs.",
}


def _service(server: RelgateServer, service: str) -> None:
    api(server, "POST", "/api/v1/pipelines", json={"source": PIPELINE.format(service=service)})
    for n, (version, text) in enumerate(CHANGELOGS.items(), start=1):
        body = {
            "service": service,
            "version": version,
            "artifact": f"registry.example.com/{service}@sha256:{str(n) * 64}",
            "changelog": text,
        }
        api(server, "POST", "/api/v1/releases", json=body)


def test_release_changes_lists_the_range_breaking_first_and_raw_text_as_registered(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server
    _service(relgate_server, "changes-cli")
    deploy(relgate_server, admin, "changes-cli", "1.0.0", "dev")

    shown = run_cli("release", "changes", "changes-cli@2.1.0", "--env", "dev", url=url, token=admin)
    as_json = run_cli(
        "release", "changes", "changes-cli@2.1.0", "--env", "dev", "--json", url=url, token=admin
    )
    back = run_cli("release", "changes", "changes-cli@1.0.0", "--env", "dev", url=url, token=admin)
    unknown = run_cli(
        "release", "changes", "changes-cli@1.0.0", "--env", "qa", url=url, token=admin
    )

    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "From 1.0.0 to 2.1.0: 3 releases" in out
    assert out.index("Breaking changes:") < out.index("Bug fixes:")
    assert "/v1 is gone (3333333, 2.0.0)" in out
    assert "ui: flicker (2222222, 1.1.0)" in out
    assert "We rewrote the docs." in out
    assert "first screen" not in out
    body = json.loads(as_json.stdout)
    assert body["direction"] == "upgrade"
    assert [r["version"] for r in body["releases"]] == ["1.1.0", "2.0.0", "2.1.0"]
    assert [s["title"] for s in body["sections"]] == ["Breaking changes", "Bug fixes"]
    assert back.returncode == 0, back.stderr
    assert "1.0.0 already runs here: a redeploy changes nothing" in back.stdout
    assert unknown.returncode == 2
    assert "no environment 'qa'" in unknown.stderr


def test_evidence_get_writes_the_report_byte_for_byte(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    _service(relgate_server, "evidence-get")
    report = json.dumps(
        {"meta": {"version": "7.5.0"}, "totals": {"percent_covered": 88.5}, "files": {}}
    ).encode()
    added = api(
        relgate_server,
        "POST",
        "/api/v1/releases/evidence-get/1.0.0/evidence",
        params={"kind": "coverage", "filename": "coverage.json"},
        content=report,
    )
    target = tmp_path / "got.json"

    got = run_cli(
        "evidence", "get", "evidence-get@1.0.0", str(added["id"]), "-o", str(target),
        url=url, token=admin,
    )  # fmt: skip
    missing = run_cli(
        "evidence", "get", "evidence-get@1.1.0", str(added["id"]), "-o", str(target),
        url=url, token=admin,
    )  # fmt: skip

    assert got.returncode == 0, got.stderr
    assert target.read_bytes() == report
    assert missing.returncode != 0
    assert "has no evidence" in missing.stderr
