"""Promotion through gitops environments with a real server, its worker and a bare remote.

dev names a gitops deployer of relgate.yaml's own; production (protected) the
one an admin registered with `relgate deployers add --type gitops`. The
remote's files, commit messages and `relgate status` show what ran; a
rollback of production is a git revert of the deploy that brought the bad version.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.e2e.control.conftest import RelgateServer, api, run_cli
from tests.support.gitrepo import git_env

SERVICE = "gitops-shop"
GOOD = f"registry.example/{SERVICE}@sha256:" + "1" * 64
BAD = f"registry.example/{SERVICE}@sha256:" + "2" * 64

OVERLAY = """\
# {env} overlay: relgate sets the image
resources:
  - ../../base

images:
  - name: shop  # the application
    newName: registry.example/{service}
    newTag: latest
"""

PIPELINE = """\
service: {service}
environments:
  - name: dev
    deployer:
      type: gitops
      repository: {bare}
      file: overlays/dev/kustomization.yaml
      format: kustomize
      image: shop
  - name: production
    deployer: {{ref: {service}-config}}
    gates:
      - type: verified_in
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(), capture_output=True, text=True, check=True
    )
    return done.stdout


def _remote(tmp_path: Path) -> Path:
    bare = tmp_path / "config.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", str(bare), str(seed))
    for env in ("dev", "production"):
        (seed / "overlays" / env).mkdir(parents=True)
        (seed / "overlays" / env / "kustomization.yaml").write_text(
            OVERLAY.format(env=env, service=SERVICE)
        )
    git(seed, "add", ".")
    git(seed, "commit", "--quiet", "-m", "Seed")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    return bare


def _overlay(env: str, digest_char: str) -> str:
    return OVERLAY.format(env=env, service=SERVICE).replace(
        "    newTag: latest\n", "    digest: sha256:" + digest_char * 64 + "\n"
    )


def test_a_release_promoted_through_gitops_environments_lands_in_the_config_repository(
    fresh_relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = fresh_relgate_server
    bare = _remote(tmp_path)
    added = run_cli(
        "deployers", "add", f"{SERVICE}-config", "--type", "gitops",
        "--repository", str(bare), "--file", "overlays/production/kustomization.yaml",
        "--format", "kustomize", "--image", "shop",
        url=url, token=admin,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    hostile = run_cli(
        "deployers", "add", "hostile-config", "--type", "gitops",
        "--repository", str(bare), "--file", "../../etc/passwd",
        "--format", "kustomize", "--image", "shop",
        url=url, token=admin,
    )  # fmt: skip
    assert hostile.returncode == 2, hostile.stdout + hostile.stderr
    assert "gitops.file" in hostile.stderr
    assert "must be a file path inside the repository" in hostile.stderr
    assert "Traceback" not in hostile.stderr
    listed = run_cli("deployers", "list", url=url, token=admin)
    assert f"gitops {bare} overlays/production/kustomization.yaml@main" in " ".join(
        listed.stdout.split()
    ), listed.stdout
    shown = run_cli("deployers", "show", f"{SERVICE}-config", url=url, token=admin)
    assert "gitops.file: overlays/production/kustomization.yaml" in shown.stdout
    folder = tmp_path / "service"
    folder.mkdir()
    (folder / "relgate.yaml").write_text(PIPELINE.format(service=SERVICE, bare=bare))
    applied = run_cli("apply", url=url, token=admin, cwd=folder)
    assert applied.returncode == 0, applied.stderr
    for version, artifact in (("1.0.0", GOOD), ("1.1.0", BAD)):
        body = {"service": SERVICE, "version": version, "artifact": artifact, "author": "dora"}
        api(fresh_relgate_server, "POST", "/api/v1/releases", json=body)

    for version in ("1.0.0", "1.1.0"):
        for env in ("dev", "production"):
            promoted = run_cli(
                "promote", f"{SERVICE}@{version}", "--to", env, "--wait", url=url, token=admin
            )
            assert promoted.returncode == 0, promoted.stdout + promoted.stderr

    assert git(bare, "show", "main:overlays/dev/kustomization.yaml") == _overlay("dev", "2")
    assert git(bare, "show", "main:overlays/production/kustomization.yaml") == _overlay(
        "production", "2"
    )
    last = git(bare, "log", "-1", "--format=%B", "main")
    assert last.startswith(f"Deploy {SERVICE} 1.1.0 to production\n")
    assert "Relgate-Environment: production\n" in last
    deployment = last.split("Relgate-Deployment: ", 1)[1].split("\n", 1)[0]
    assert deployment.endswith(".1")  # deployment id and the job's first attempt
    status = run_cli("status", SERVICE, "--json", url=url, token=admin)
    rows = {row["environment"]: row for row in json.loads(status.stdout)}
    assert rows["production"]["current"] == "1.1.0"
    assert rows["dev"]["current"] == "1.1.0"

    rolled = run_cli(
        "rollback", SERVICE, "production", "--reason", "errors after 1.1.0", "--wait",
        url=url, token=admin,
    )  # fmt: skip

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert git(bare, "show", "main:overlays/production/kustomization.yaml") == _overlay(
        "production", "1"
    )
    reverted = git(bare, "log", "-1", "--format=%B", "main")
    assert reverted.startswith(f"Roll back {SERVICE} in production to 1.0.0\n")
    assert "This reverts commit " in reverted
    rows = {
        row["environment"]: row
        for row in json.loads(run_cli("status", SERVICE, "--json", url=url, token=admin).stdout)
    }
    assert rows["production"]["current"] == "1.0.0"
    assert git(bare, "show", "main:overlays/dev/kustomization.yaml") == _overlay("dev", "2")
