"""The gitops deployer against real repositories: a bare remote in a temp folder, real git.

Other clones push to the same remote while a deployment runs (between its read
and its push) to show the fetch-rebase-retry, the conflict and the fencing.
The Argo CD health check runs against FakeArgoCd (a fake of a third-party API,
tests/support/fake_argocd.py); the HTTP health check against a real local server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from relgate.deploy.config import GitopsDeployerSpec
from relgate.deploy.factory import BuildContext, default_registry
from relgate.deploy.gitops import GitOpsDeployer
from relgate.deploy.ports import DeployRequest
from tests.integration.deploy.test_verifiers import HealthServer
from tests.support.fake_argocd import FakeArgoCd, application
from tests.support.gitrepo import git_env

A = "registry.example/payments@sha256:" + "a" * 64
B = "registry.example/payments@sha256:" + "b" * 64
C = "registry.example/payments@sha256:" + "c" * 64

KUSTOMIZATION = """\
# production overlay of payments
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base  # the shared base

images:
  # the application image: relgate sets it
  - name: payments
    newName: registry.example/payments
    newTag: "1.3.0"  # set by hand before relgate
  - name: envoy
    newTag: v1.29
"""

VALUES = """\
# Helm values for production
replicaCount: 3

image:
  repository: registry.example/payments   # where the image lives
  digest: ""  # relgate writes the digest here
  pullPolicy: IfNotPresent

resources:
  limits: {cpu: 500m, memory: 256Mi}
"""


def run_git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(), capture_output=True, text=True, check=True
    )
    return done.stdout


@dataclass
class Remote:
    """A bare repository and a helper clone that plays a person pushing to it."""

    bare: Path
    tmp: Path

    def show(self, path: str, ref: str = "main") -> str:
        return run_git(self.bare, "show", f"{ref}:{path}")

    def head(self) -> str:
        return run_git(self.bare, "rev-parse", "main").strip()

    def message(self, ref: str = "main") -> str:
        return run_git(self.bare, "log", "-1", "--format=%B", ref)

    def count(self) -> int:
        return int(run_git(self.bare, "rev-list", "--count", "main"))

    def push_change(self, path: str, edit: Callable[[str], str], message: str) -> None:
        """Clone, change ``path`` with ``edit``, commit and push, as another person would."""
        other = self.tmp / f"other-{self.count()}"
        run_git(self.tmp, "clone", "--quiet", str(self.bare), str(other))
        file = other / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(edit(file.read_text() if file.exists() else ""))
        run_git(other, "add", path)
        run_git(other, "commit", "--quiet", "-m", message)
        run_git(other, "push", "--quiet", "origin", "HEAD:main")


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    bare = tmp_path / "config.git"
    run_git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    run_git(tmp_path, "clone", "--quiet", str(bare), str(seed))
    (seed / "overlays/production").mkdir(parents=True)
    (seed / "overlays/production/kustomization.yaml").write_text(KUSTOMIZATION)
    (seed / "values.yaml").write_text(VALUES)
    (seed / "README.md").write_text("config\n")
    run_git(seed, "add", ".")
    run_git(seed, "commit", "--quiet", "-m", "Seed the config repository")
    run_git(seed, "push", "--quiet", "origin", "HEAD:main")
    return Remote(bare=bare, tmp=tmp_path)


def server_env() -> dict[str, str]:
    """What the server would hand the deployer: PATH, HOME and the test's git settings."""
    return {
        name: os.environ[name]
        for name in ("PATH", "HOME", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL")
        if name in os.environ
    }


def kustomize(remote: Remote, **overrides: Any) -> GitopsDeployerSpec:
    return GitopsDeployerSpec.model_validate(
        {
            "type": "gitops",
            "repository": str(remote.bare),
            "file": "overlays/production/kustomization.yaml",
            "format": "kustomize",
            "image": "payments",
            **overrides,
        }
    )


def deployer(
    spec: GitopsDeployerSpec, tmp: Path, environ: dict[str, str] | None = None
) -> GitOpsDeployer:
    return GitOpsDeployer(
        spec, base_dir=tmp, environ=environ or server_env(), cache_dir=tmp / "data" / "gitops"
    )


def request(artifact: str = A, **changes: Any) -> DeployRequest:
    base = DeployRequest(
        deployment_id="7",
        service="payments",
        environment="production",
        version="1.4.0",
        artifact=artifact,
        previous_artifact=None,
        reason="promote",
        fence="7.1",
    )
    return replace(base, **changes)


class Lines:
    """A log sink that keeps the lines and can act when one starts with a prefix."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.hooks: list[tuple[str, Callable[[], None]]] = []

    def on(self, prefix: str, action: Callable[[], None]) -> None:
        self.hooks.append((prefix, action))

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        for hook in list(self.hooks):
            if line.startswith(hook[0]):
                self.hooks.remove(hook)
                hook[1]()


def test_a_deploy_writes_the_digest_into_the_kustomization_keeping_its_comments(
    remote: Remote, tmp_path: Path
) -> None:
    log = Lines()
    outcome = deployer(kustomize(remote), tmp_path).deploy(request(), log)

    assert outcome.succeeded, outcome.reason
    assert remote.show("overlays/production/kustomization.yaml") == KUSTOMIZATION.replace(
        '    newTag: "1.3.0"  # set by hand before relgate\n',
        "    digest: sha256:" + "a" * 64 + "\n",
    )
    head = remote.head()
    assert outcome.reason == f"committed {head[:12]} on main of {remote.bare}"
    assert remote.message() == (
        "Deploy payments 1.4.0 to production\n\n"
        f"Image: {A}\n\n"
        "Relgate-Service: payments\n"
        "Relgate-Environment: production\n"
        "Relgate-Version: 1.4.0\n"
        f"Relgate-Artifact: {A}\n"
        "Relgate-Deployment: 7.1\n"
        "Relgate-Reason: promote\n\n"
    )
    assert run_git(remote.bare, "log", "-1", "--format=%an <%ae>").strip() == (
        "relgate <relgate@localhost>"
    )
    assert f"pushed {head[:12]} to main of {remote.bare}" in log.lines
    # the clone was made in the cache folder and removed after
    assert list((tmp_path / "data" / "gitops").iterdir()) == []


def test_a_helm_values_digest_and_repository_keys_are_set_in_place(
    remote: Remote, tmp_path: Path
) -> None:
    spec = GitopsDeployerSpec.model_validate(
        {
            "type": "gitops",
            "repository": str(remote.bare),
            "file": "values.yaml",
            "format": "helm",
            "repository_key": "image.repository",
            "digest_key": "image.digest",
        }
    )
    outcome = deployer(spec, tmp_path).deploy(request(previous_artifact=B), Lines())

    assert outcome.succeeded, outcome.reason
    assert remote.show("values.yaml") == VALUES.replace(
        'digest: ""', f'digest: "sha256:{"a" * 64}"'
    )
    assert f"Previous: {B}\n" in remote.message()


def test_an_image_already_pinned_succeeds_without_an_empty_commit(
    remote: Remote, tmp_path: Path
) -> None:
    gitops = deployer(kustomize(remote), tmp_path)
    assert gitops.deploy(request(), Lines()).succeeded
    commits = remote.count()

    again = gitops.deploy(request(fence="8.1", deployment_id="8"), Lines())

    assert again.succeeded
    assert again.reason == ("overlays/production/kustomization.yaml on main already pins " + A)
    assert remote.count() == commits


def test_a_push_rejected_because_the_branch_moved_is_rebased_and_retried(
    remote: Remote, tmp_path: Path
) -> None:
    log = Lines()
    log.on(
        "$ git push",
        lambda: remote.push_change("README.md", lambda text: text + "more\n", "Docs"),
    )

    outcome = deployer(kustomize(remote), tmp_path).deploy(request(), log)

    assert outcome.succeeded, outcome.reason
    assert any(line.startswith("push rejected: main moved") for line in log.lines)
    assert remote.show("README.md") == "config\nmore\n"
    assert "digest: sha256:" + "a" * 64 in remote.show("overlays/production/kustomization.yaml")
    assert run_git(remote.bare, "log", "--format=%s", "-2", "main").splitlines() == [
        "Deploy payments 1.4.0 to production",
        "Docs",
    ]


def test_a_conflicting_change_pushed_meanwhile_fails_clearly_and_is_kept(
    remote: Remote, tmp_path: Path
) -> None:
    log = Lines()
    path = "overlays/production/kustomization.yaml"
    log.on(
        "$ git push",
        lambda: remote.push_change(
            path, lambda text: text.replace('"1.3.0"', '"1.3.1"'), "Pin 1.3.1 by hand"
        ),
    )

    outcome = deployer(kustomize(remote), tmp_path).deploy(request(), log)

    assert not outcome.succeeded
    assert outcome.reason.startswith(
        f"main of {remote.bare} changed {path} in a way that conflicts with setting {A}"
    )
    assert remote.message().strip() == "Pin 1.3.1 by hand"
    assert '"1.3.1"' in remote.show(path)


def test_a_branch_that_keeps_moving_fails_after_the_retries(remote: Remote, tmp_path: Path) -> None:
    log = Lines()

    def move() -> None:
        remote.push_change("README.md", lambda text: text + "x\n", "Docs")

    for _ in range(2):
        log.on("$ git push", move)
        log.on("push rejected", lambda: log.on("$ git push", move))

    outcome = deployer(kustomize(remote, push_retries=1), tmp_path).deploy(request(), log)

    assert not outcome.succeeded
    assert outcome.reason == (
        f"git push to main of {remote.bare} was rejected 2 times: the branch kept moving; "
        "deploy again"
    )


def test_a_stale_attempt_finding_a_newer_deployment_on_the_branch_writes_nothing(
    remote: Remote, tmp_path: Path
) -> None:
    path = "overlays/production/kustomization.yaml"
    newer = (
        "Deploy payments 1.5.0 to production\n\n"
        "Relgate-Service: payments\nRelgate-Environment: production\nRelgate-Deployment: 9.1\n"
    )
    remote.push_change(path, lambda text: text.replace('"1.3.0"', '"1.5.0"'), newer)
    before = remote.head()

    outcome = deployer(kustomize(remote), tmp_path).deploy(request(fence="7.2"), Lines())

    assert not outcome.succeeded
    assert outcome.reason == (
        f"refused: main already has commit {before[:12]} of a newer deployment (9.1) of "
        "payments in production; this attempt (7.2) is stale and does not overwrite it"
    )
    assert remote.head() == before


def test_a_newer_deployment_landing_between_read_and_push_is_refused(
    remote: Remote, tmp_path: Path
) -> None:
    log = Lines()
    path = "overlays/production/kustomization.yaml"
    newer = (
        "Deploy payments 1.5.0 to production\n\n"
        "Relgate-Service: payments\nRelgate-Environment: production\nRelgate-Deployment: 8.1\n"
    )
    log.on(
        "$ git push",
        lambda: remote.push_change(
            path, lambda text: text.replace("  - name: envoy", "  - name: envoy  # 8.1"), newer
        ),
    )

    outcome = deployer(kustomize(remote), tmp_path).deploy(request(fence="7.1"), log)

    assert not outcome.succeeded
    assert "of a newer deployment (8.1) of payments in production" in outcome.reason
    assert remote.message().strip() == newer.strip()
    assert "sha256:" + "a" * 64 not in remote.show(path)


def test_a_rollback_is_a_git_revert_of_the_deploy_that_brought_the_bad_version(
    remote: Remote, tmp_path: Path
) -> None:
    gitops = deployer(kustomize(remote), tmp_path)
    path = "overlays/production/kustomization.yaml"
    assert gitops.deploy(request(A, fence="1.1", deployment_id="1"), Lines()).succeeded
    good = remote.show(path)
    assert gitops.deploy(
        request(B, fence="2.1", deployment_id="2", version="1.5.0", previous_artifact=A),
        Lines(),
    ).succeeded
    bad_commit = remote.head()
    log = Lines()

    outcome = gitops.deploy(
        request(
            A,
            fence="3.1",
            deployment_id="3",
            reason="rollback",
            previous_artifact=B,
            previous_version="1.5.0",
        ),
        log,
    )

    assert outcome.succeeded, outcome.reason
    assert outcome.reason.startswith("reverted ")
    assert remote.show(path) == good
    assert f"rolling back by git revert of {bad_commit[:12]} (the deploy of 1.5.0)" in log.lines
    message = remote.message()
    assert message.startswith("Roll back payments in production to 1.4.0\n")
    assert f"This reverts commit {bad_commit}." in message
    assert f"Relgate-Reverts: {bad_commit}" in message
    assert "Relgate-Deployment: 3.1" in message


def test_a_rollback_whose_revert_does_not_apply_is_a_new_commit_restoring_the_image(
    remote: Remote, tmp_path: Path
) -> None:
    gitops = deployer(kustomize(remote), tmp_path)
    path = "overlays/production/kustomization.yaml"
    assert gitops.deploy(request(A, fence="1.1", deployment_id="1"), Lines()).succeeded
    assert gitops.deploy(
        request(B, fence="2.1", deployment_id="2", previous_artifact=A), Lines()
    ).succeeded
    # someone edits the line next to the digest afterwards: the revert conflicts
    remote.push_change(
        path,
        lambda text: text.replace(
            "newName: registry.example/payments", "newName: registry.example/payments  # pinned"
        ),
        "Note the pin",
    )
    log = Lines()

    outcome = gitops.deploy(
        request(A, fence="3.1", deployment_id="3", reason="auto-rollback", previous_artifact=B),
        log,
    )

    assert outcome.succeeded, outcome.reason
    assert outcome.reason.startswith("committed ")
    assert any("does not apply cleanly" in line for line in log.lines)
    assert f"rolling back by a new commit restoring {A}" in log.lines
    text = remote.show(path)
    assert "    newName: registry.example/payments  # pinned\n" in text
    assert "    digest: sha256:" + "a" * 64 + "\n" in text
    assert remote.message().startswith("Roll back payments in production to 1.4.0\n")


def test_a_manifest_that_is_a_symlink_out_of_the_clone_is_refused(
    remote: Remote, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("image: {digest: x}\n")
    other = tmp_path / "linker"
    run_git(tmp_path, "clone", "--quiet", str(remote.bare), str(other))
    (other / "linked.yaml").symlink_to(outside)
    run_git(other, "add", "linked.yaml")
    run_git(other, "commit", "--quiet", "-m", "A link")
    run_git(other, "push", "--quiet", "origin", "HEAD:main")
    spec = GitopsDeployerSpec.model_validate(
        {
            "type": "gitops",
            "repository": str(remote.bare),
            "file": "linked.yaml",
            "format": "yaml",
            "digest_key": "image.digest",
        }
    )

    outcome = deployer(spec, tmp_path).deploy(request(), Lines())

    assert not outcome.succeeded
    assert outcome.reason == "linked.yaml on main is a symlink or not a regular file"
    assert outside.read_text() == "image: {digest: x}\n"


def test_a_missing_repository_an_unknown_branch_and_a_tag_fail_with_reasons(
    remote: Remote, tmp_path: Path
) -> None:
    missing = deployer(kustomize(remote, repository=str(tmp_path / "nope.git")), tmp_path)
    outcome = missing.deploy(request(), Lines())
    assert not outcome.succeeded
    assert outcome.reason.startswith(f"could not clone branch main of {tmp_path / 'nope.git'}: ")

    branch = deployer(kustomize(remote, branch="release"), tmp_path).deploy(request(), Lines())
    assert not branch.succeeded
    assert "could not clone branch release" in branch.reason

    tagged = deployer(kustomize(remote), tmp_path).deploy(
        request("registry.example/payments:1.4.0"), Lines()
    )
    assert tagged.reason == (
        "the gitops deployer writes digest-pinned images: 'registry.example/payments:1.4.0' "
        "is not NAME@sha256:<64 hex>"
    )


def test_a_cancelled_deployment_stops_and_pushes_nothing(remote: Remote, tmp_path: Path) -> None:
    cancel = threading.Event()
    log = Lines()
    log.on("$ git push", cancel.set)
    before = remote.head()

    outcome = deployer(kustomize(remote), tmp_path).deploy(request(), log, cancel=cancel)

    assert outcome.reason == "cancelled"
    assert remote.head() == before


# ------------------------------------------------------------------ health checks


@pytest.fixture
def argocd() -> Iterator[FakeArgoCd]:
    fake = FakeArgoCd(token="s3cret").start()
    try:
        yield fake
    finally:
        fake.stop()


def _argocd_spec(remote: Remote, fake: FakeArgoCd) -> GitopsDeployerSpec:
    return kustomize(
        remote,
        health={
            "type": "argocd",
            "url": fake.url,
            "application": "payments-prod",
            "token_env": "ARGOCD_TOKEN",
            "interval_seconds": 0.01,
            "timeout_seconds": 30,
        },
    )


def test_the_argocd_health_check_waits_for_sync_at_the_pushed_commit_and_health(
    remote: Remote, tmp_path: Path, argocd: FakeArgoCd
) -> None:
    old = remote.head()
    pushed: list[str] = []

    def answer(name: str, count: int) -> tuple[int, dict[str, Any]]:
        if not pushed:
            pushed.append(remote.head())
        new = pushed[0]
        steps = [
            application(name, revision=old),  # still at the old commit: not yet
            application(name, sync="OutOfSync", revision=old),
            application(name, revision=new, health="Progressing"),
            application(name, revision=new),
        ]
        return 200, steps[min(count, len(steps)) - 1]

    argocd.answer = answer
    log = Lines()
    environ = {**server_env(), "ARGOCD_TOKEN": "s3cret"}

    outcome = deployer(_argocd_spec(remote, argocd), tmp_path, environ).deploy(request(), log)

    assert outcome.succeeded, outcome.reason
    head = remote.head()
    assert outcome.reason.endswith(
        f"argocd application payments-prod synced at {head[:12]} and healthy"
    )
    assert [path for path, _, _ in argocd.requests] == ["/api/v1/applications/payments-prod"] * 4
    assert argocd.requests[0][1] == {"refresh": ["normal"]}
    assert all(auth == "Bearer s3cret" for _, _, auth in argocd.requests)
    assert f"argocd payments-prod: sync Synced at {head[:12]}, health Progressing" in log.lines
    assert not any("s3cret" in line for line in log.lines)


def test_an_argocd_application_degraded_at_the_pushed_commit_fails_the_deployment(
    remote: Remote, tmp_path: Path, argocd: FakeArgoCd
) -> None:
    argocd.answer = lambda name, count: (
        200,
        application(
            name, revision=remote.head(), health="Degraded", health_message="CrashLoopBackOff"
        ),
    )
    environ = {**server_env(), "ARGOCD_TOKEN": "s3cret"}

    outcome = deployer(_argocd_spec(remote, argocd), tmp_path, environ).deploy(request(), Lines())

    assert not outcome.succeeded
    assert outcome.reason.endswith(
        f"argocd application payments-prod is Degraded at {remote.head()[:12]}: CrashLoopBackOff"
    )


def test_an_argocd_token_missing_or_refused_fails_with_the_variable_named(
    remote: Remote, tmp_path: Path, argocd: FakeArgoCd
) -> None:
    spec = _argocd_spec(remote, argocd)
    missing = deployer(spec, tmp_path).deploy(request(), Lines())
    assert missing.reason.endswith(
        "argocd: the server's variable ARGOCD_TOKEN (the Argo CD token) is not set where "
        "relgate runs"
    )
    refused = deployer(spec, tmp_path, {**server_env(), "ARGOCD_TOKEN": "wrong"}).deploy(
        request(fence="8.1", deployment_id="8"), Lines()
    )
    assert not refused.succeeded
    assert refused.reason.endswith(
        "argocd refused the token in ARGOCD_TOKEN (401): it needs `applications, get` on "
        "payments-prod"
    )


def test_an_http_health_check_against_a_real_server_passes_once_the_version_answers(
    remote: Remote, tmp_path: Path
) -> None:
    health = HealthServer()
    health.answers = [(503, "starting"), (200, "1.3.0"), (200, "1.4.0")]
    health.thread.start()
    try:
        spec = kustomize(
            remote,
            health={
                "type": "http",
                "url": health.url("/version"),
                "expect_body_contains": "{version}",
                "interval_seconds": 0.01,
                "timeout_seconds": 30,
            },
        )
        outcome = deployer(spec, tmp_path).deploy(request(), Lines())
    finally:
        health.httpd.shutdown()
        health.httpd.server_close()

    assert outcome.succeeded, outcome.reason
    assert outcome.reason.endswith(f"health check {health.url('/version')} answered 200")
    assert health.paths == ["/version"] * 3


def test_the_default_registry_builds_a_gitops_deployer_that_clones_under_the_data_folder(
    remote: Remote, tmp_path: Path
) -> None:
    registry = default_registry(tmp_path / "data")
    built = registry.deployer(kustomize(remote), BuildContext(tmp_path, environ=server_env()))
    log = Lines()

    outcome = built.deploy(request(), log)

    assert outcome.succeeded, outcome.reason
    clone = next(line for line in log.lines if line.startswith("$ git clone"))
    assert f" {tmp_path / 'data' / 'gitops'}/gitops-" in clone
    assert "gitops" in registry.deployer_types


def test_a_deployment_with_a_working_folder_clones_there_and_cleans_up(
    remote: Remote, tmp_path: Path
) -> None:
    workdir = tmp_path / "deployment-7"
    workdir.mkdir()
    log = Lines()

    outcome = deployer(kustomize(remote), tmp_path).deploy(request(workdir=workdir), log)

    assert outcome.succeeded, outcome.reason
    clone = next(line for line in log.lines if line.startswith("$ git clone"))
    assert clone.endswith(f" -- {remote.bare} {workdir / 'gitops' / 'repo'}")
    assert list(workdir.iterdir()) == []


def test_a_remote_that_never_answers_times_out_with_the_step_named(
    remote: Remote, tmp_path: Path
) -> None:
    # a TCP listener that never accepts: git connects and waits for an answer forever
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        spec = kustomize(remote, repository=f"git://127.0.0.1:{port}/config.git", timeout_seconds=1)

        outcome = deployer(spec, tmp_path).deploy(request(), Lines())

    assert outcome.reason == (
        f"could not clone branch main of git://127.0.0.1:{port}/config.git: timed out after 1 s"
    )


def test_a_failed_argocd_sync_of_the_pushed_commit_fails_with_its_message(
    remote: Remote, tmp_path: Path, argocd: FakeArgoCd
) -> None:
    argocd.answer = lambda name, count: (
        200,
        application(
            name,
            sync="OutOfSync",
            revision="0" * 40,
            health="Healthy",
            phase="Failed",
            operation_revision=remote.head(),
            message="one or more objects failed to apply",
        ),
    )
    environ = {**server_env(), "ARGOCD_TOKEN": "s3cret"}

    outcome = deployer(_argocd_spec(remote, argocd), tmp_path, environ).deploy(request(), Lines())

    assert not outcome.succeeded
    assert outcome.reason.endswith(
        f"argocd sync of payments-prod to {remote.head()[:12]} failed: one or more objects "
        "failed to apply"
    )


def test_a_commit_with_deployment_zero_starts_the_count_again_after_a_new_database(
    remote: Remote, tmp_path: Path
) -> None:
    path = "overlays/production/kustomization.yaml"
    old_server = "Relgate-Service: payments\nRelgate-Environment: production\n"
    remote.push_change(
        path, lambda t: t + "# 900\n", f"Old\n\n{old_server}Relgate-Deployment: 900.1"
    )
    gitops = deployer(kustomize(remote), tmp_path)
    assert not gitops.deploy(request(fence="1.1", deployment_id="1"), Lines()).succeeded
    remote.push_change(
        path, lambda t: t + "# reset\n", f"Reset\n\n{old_server}Relgate-Deployment: 0"
    )

    outcome = gitops.deploy(request(fence="1.1", deployment_id="1"), Lines())

    assert outcome.succeeded, outcome.reason
    assert "Relgate-Deployment: 1.1" in remote.message()


def test_a_push_the_remote_refuses_by_a_hook_fails_at_once_without_retries(
    remote: Remote, tmp_path: Path
) -> None:
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = remote.head()
    log = Lines()

    outcome = deployer(kustomize(remote), tmp_path).deploy(request(), log)

    assert outcome.reason == f"git push to {remote.bare} failed: pre-receive hook declined"
    assert not any(line.startswith("push rejected") for line in log.lines)
    assert remote.head() == before


def test_a_command_health_check_runs_after_the_push_and_its_failure_fails_the_deployment(
    remote: Remote, tmp_path: Path
) -> None:
    spec = kustomize(
        remote,
        health={
            "type": "command",
            "command": ["sh", "-c", 'echo "checking $RELGATE_VERSION"; exit 4'],
        },
    )
    log = Lines()

    outcome = deployer(spec, tmp_path).deploy(request(), log)

    assert not outcome.succeeded
    head = remote.head()
    assert outcome.reason == (
        f"committed {head[:12]} on main of {remote.bare}; verify command exited 4"
    )
    assert "checking 1.4.0" in log.lines
    assert log.lines.index(f"health check (command) of {head[:12]}") > log.lines.index(
        f"pushed {head[:12]} to main of {remote.bare}"
    )
