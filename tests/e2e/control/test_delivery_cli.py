"""`relgate release create` sends the commits' times; `relgate incident` and `relgate metrics`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.control.conftest import RelgateServer, api, run_cli
from tests.support.gitrepo import GitRepo

PIPELINE = """\
service: {service}
environments:
  - name: production
    protected: false
    deployer: {{type: record}}
"""


def _ok(*args: str, server: RelgateServer, cwd: Path | None = None) -> str:
    url, admin, _ = server
    proc = run_cli(*args, url=url, token=admin, cwd=cwd)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}: {proc.stderr}"
    return proc.stdout


def test_release_commits_incidents_and_the_delivery_measures_from_the_cli(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    service = f"ledger-dora-{relgate_server[0].rsplit(':', 1)[1]}"
    api(
        relgate_server,
        "POST",
        "/api/v1/pipelines",
        json={"source": PIPELINE.format(service=service)},
    )
    now = int(time.time())
    repo = GitRepo.init(tmp_path / "repo")
    first = repo.commit("feat: the ledger", date=now - 86400 * 90)
    repo.tag("v1.0.0")
    second = repo.commit("fix: rounding", date=now - 7200)
    third = repo.commit("fix: totals", date=now - 3600)
    artifact = "registry.example.com/ledger@sha256:"

    for version, commit, digit in (("1.0.0", first, "1"), ("1.1.0", third, "2")):
        _ok(
            "release", "create", service, "--version", version, "--commit", commit,
            "--artifact", artifact + digit * 64, "--repo", str(repo.path),
            server=relgate_server,
        )  # fmt: skip
    released = api(relgate_server, "GET", f"/api/v1/releases/{service}/1.1.0")
    # the commits since v1.0.0, and the release commit's own time
    assert released["commit_count"] == 2
    assert datetime.fromisoformat(released["committed_at"]) == datetime.fromtimestamp(
        now - 3600, UTC
    )

    _ok("promote", f"{service}@1.0.0", "--to", "production", "--wait", server=relgate_server)
    hotfix = json.loads(
        _ok(
            "promote", f"{service}@1.1.0", "--to", "production", "--wait", "--hotfix", "--json",
            server=relgate_server,
        )
    )  # fmt: skip
    assert hotfix["kind"] == "hotfix" and hotfix["state"] == "succeeded"

    opened = json.loads(
        _ok(
            "incident", "open", "--deployment", str(hotfix["id"]), "--summary", "totals off",
            "--json", server=relgate_server,
        )
    )  # fmt: skip
    listed = _ok("incident", "list", "--service", service, server=relgate_server)
    assert "totals off" in listed and str(hotfix["id"]) in listed
    resolved = _ok("incident", "resolve", str(opened["id"]), server=relgate_server)
    assert f"incident {opened['id']}" in resolved and "resolved" in resolved

    since = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%d")
    report = json.loads(
        _ok(
            "metrics", "delivery", "--service", service, "--env", "production",
            "--since", since, "--json", server=relgate_server,
        )
    )  # fmt: skip
    assert report["frequency"]["deployments"] == 2
    # 1.0.0 is the baseline: the 90-day-old commit is not a lead time
    lead = report["lead_time"]
    assert sorted(r["sha"] for r in lead["rows"]) == sorted([second, third])
    by_sha = {r["sha"]: r["seconds"] for r in lead["rows"]}
    assert 3600 <= by_sha[third] < 3600 + 600
    assert 7200 <= by_sha[second] < 7200 + 600
    assert report["change_fail_rate"]["rate"] == 0.5
    assert report["change_fail_rate"]["rows"][0]["failure_reasons"] == [f"incident {opened['id']}"]
    assert report["rework"]["hotfixes"] == 1 and report["rework"]["rate"] == 0.5

    # the spelling, and the table for people
    same = json.loads(
        _ok("metrics", "--service", service, "--since", since, "--json", server=relgate_server)
    )
    assert same["change_fail_rate"] == report["change_fail_rate"]
    table = _ok("metrics", "--service", service, "--since", since, "--rows", server=relgate_server)
    assert "change fail rate" in table and "50.0 %" in table
    assert third[:12] in table

    url, admin, _ = relgate_server
    missing = run_cli("metrics", "delivery", url=url, token=admin)
    assert missing.returncode == 2 and "--service" in missing.stderr
    bad = run_cli("metrics", "--service", service, "--since", "yesterday", url=url, token=admin)
    assert bad.returncode == 2 and "since" in bad.stderr


def test_version_auto_sends_the_commits_since_the_tag_it_computed_from(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    service = f"ledger-auto-{relgate_server[0].rsplit(':', 1)[1]}"
    api(
        relgate_server,
        "POST",
        "/api/v1/pipelines",
        json={"source": PIPELINE.format(service=service)},
    )
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: start")
    repo.tag("v1.0.0")
    repo.tag("v1.0.1-rc.1")  # a prerelease tag: not where a final's range starts
    fixes = repo.commits(["fix: one", "fix: two"])

    out = _ok(
        "release", "create", service, "--version", "auto", "--json",
        "--artifact", "registry.example.com/ledger@sha256:" + "3" * 64, "--repo", str(repo.path),
        server=relgate_server,
    )  # fmt: skip

    created = json.loads(out)
    assert created["version"] == "1.0.1" and created["commit_count"] == 2
    release = api(relgate_server, "GET", f"/api/v1/releases/{service}/1.0.1")
    assert release["commit_count"] == 2 and fixes[-1] == release["commit"]
