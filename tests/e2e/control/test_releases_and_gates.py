"""relgate apply, release, evidence and gates check against a real server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.control.conftest import RelgateServer, api, run_cli
from tests.support.gitrepo import GitRepo

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64

PIPELINE = """\
service: {service}
environments:
  - name: dev
    deployer: {{type: record}}
  - name: staging
    deployer: {{type: record}}
    gates:
      - type: tests_passed
"""

JUNIT_PASSED = """\
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="unit" tests="2" failures="0" errors="0" skipped="0">
  <testcase classname="shop" name="test_a"/>
  <testcase classname="shop" name="test_b"/>
</testsuite>
"""


def _apply(server: RelgateServer, service: str) -> None:
    api(server, "POST", "/api/v1/pipelines", json={"source": PIPELINE.format(service=service)})


def _release(server: RelgateServer, service: str, version: str, digest: str = DIGEST_A) -> None:
    artifact = f"registry.example.com/{service}@{digest}"
    body = {"service": service, "version": version, "artifact": artifact}
    api(server, "POST", "/api/v1/releases", json=body)


def test_apply_of_an_invalid_relgate_yaml_names_file_line_and_field_and_sends_nothing(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    manifest = tmp_path / "relgate.yaml"
    manifest.write_text(
        "service: broken\nenvironments:\n  - name: dev\n    deployer: {type: record}\n"
        "    gates:\n      - type: coverage\n"
        "        min: 200\n"
    )

    proc = run_cli("apply", "-f", str(manifest), url=url, token=admin)
    status = api(relgate_server, "GET", "/api/v1/status")

    assert proc.returncode == 2
    assert f"{manifest}:" in proc.stderr
    assert "environments[0].gates[0]" in proc.stderr
    assert "min" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "broken" not in {row["service"] for row in status}


def test_apply_stores_a_revision_and_an_unchanged_file_stores_none(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    (tmp_path / "relgate.yaml").write_text(PIPELINE.format(service="cart"))

    first = run_cli("apply", url=url, token=admin, cwd=tmp_path)
    again = run_cli("apply", "--json", url=url, token=admin, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert "applied cart pipeline revision 1: dev -> staging" in first.stdout
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {
        "service": "cart",
        "revision": 1,
        "changed": False,
        "status": "active",
        "in_force": 1,
        "created": False,
        "environments": [],
        "weakens": [],
        "tightens": [],
        "superseded": [],
        "message": "cart pipeline unchanged (revision 1)",
    }


def test_a_version_bound_to_one_digest_cannot_be_rebound_to_another(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    _apply(relgate_server, "ledger")
    _release(relgate_server, "ledger", "1.0.0", DIGEST_A)

    same = run_cli(
        "release", "create", "ledger", "--version", "1.0.0",
        "--artifact", f"registry.example.com/ledger@{DIGEST_A}", url=url, token=admin,
    )  # fmt: skip
    other = run_cli(
        "release", "create", "ledger", "--version", "1.0.0",
        "--artifact", f"registry.example.com/ledger@{DIGEST_B}", url=url, token=admin,
    )  # fmt: skip
    shown = api(relgate_server, "GET", "/api/v1/releases/ledger/1.0.0")

    assert same.returncode == 0, same.stderr
    assert other.returncode == 1
    assert "never changes its artifact" in other.stderr
    assert shown["digest"] == DIGEST_A


def test_an_artifact_without_a_digest_is_bad_input(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    _apply(relgate_server, "search")

    proc = run_cli(
        "release", "create", "search", "--version", "1.0.0",
        "--artifact", "registry.example.com/search:latest", url=url, token=admin,
    )  # fmt: skip
    listed = api(relgate_server, "GET", "/api/v1/services/search/releases")

    assert proc.returncode == 2
    assert "not pinned by digest" in proc.stderr
    assert listed == []


def test_version_auto_releases_the_version_computed_from_the_commits_at_head(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    _apply(relgate_server, "notes")
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: first feature")
    repo.tag("v1.0.0")
    repo.commit("fix: handle empty notes")
    head = repo.commit("feat: search notes")

    proc = run_cli(
        "release", "create", "notes", "--version", "auto", "--repo", str(repo.path),
        "--artifact", f"registry.example.com/notes@{DIGEST_A}", "--json", url=url, token=admin,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    release = json.loads(proc.stdout)
    assert release["version"] == "1.1.0"
    assert release["commit"] == head
    assert "search notes" in release["changelog"]


def test_version_auto_with_nothing_to_release_is_bad_input(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    _apply(relgate_server, "wiki")
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: first feature")
    repo.tag("v1.0.0")
    repo.commit("docs: explain")

    proc = run_cli(
        "release", "create", "wiki", "--version", "auto", "--repo", str(repo.path),
        "--artifact", f"registry.example.com/wiki@{DIGEST_A}", url=url, token=admin,
    )  # fmt: skip

    assert proc.returncode == 2
    assert "nothing to release" in proc.stderr
    assert "v1.0.0" in proc.stderr


def test_a_malformed_report_is_refused_naming_the_file(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    _apply(relgate_server, "mail")
    _release(relgate_server, "mail", "1.0.0")
    report = tmp_path / "junit.xml"
    report.write_text("this is not XML <")

    proc = run_cli(
        "evidence", "add", "mail@1.0.0", "--kind", "tests", "--file", str(report),
        url=url, token=admin,
    )  # fmt: skip
    listed = run_cli("evidence", "list", "mail@1.0.0", "--json", url=url, token=admin)

    assert proc.returncode == 2
    assert "junit.xml" in proc.stderr
    assert json.loads(listed.stdout) == []


def test_a_missing_report_file_is_named(relgate_server: RelgateServer, tmp_path: Path) -> None:
    url, admin, _ = relgate_server

    proc = run_cli(
        "evidence", "add", "mail@1.0.0", "--kind", "tests", "--file", str(tmp_path / "gone.xml"),
        url=url, token=admin,
    )  # fmt: skip

    assert proc.returncode == 2
    assert "gone.xml: file not found" in proc.stderr


def test_gates_check_shows_missing_evidence_then_passes_once_it_is_attached(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    _apply(relgate_server, "photos")
    _release(relgate_server, "photos", "2.0.0")
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT_PASSED)

    before = run_cli("gates", "check", "photos@2.0.0", "--env", "staging", url=url, token=admin)
    added = run_cli(
        "evidence", "add", "photos@2.0.0", "--kind", "tests", "--file", str(report),
        url=url, token=admin,
    )  # fmt: skip
    after = run_cli(
        "gates", "check", "photos@2.0.0", "--env", "staging", "--json", url=url, token=admin
    )
    shown = run_cli("release", "show", "photos@2.0.0", url=url, token=admin)

    assert before.returncode == 1
    assert "tests_passed" in before.stdout
    assert "missing" in before.stdout
    assert "cannot enter staging" in before.stdout
    assert added.returncode == 0, added.stderr
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["gates"][0]["status"] == "pass"
    assert "junit.xml" in shown.stdout
    assert "registry.example.com/photos@" + DIGEST_A in shown.stdout
