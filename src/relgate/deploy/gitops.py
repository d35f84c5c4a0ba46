"""The gitops deployer: the digest-pinned image goes into a manifest of a config repository.

One deployment is: clone the branch, set the image in the manifest
(relgate.deploy.gitops_manifest keeps comments and layout), commit with the
service, version and deployment in the message and as trailers, push, then
wait for the health check. The push is a plain one, never forced, so git
itself refuses it when the branch moved since it was read; relgate then
fetches, rebases its one commit onto the new tip and tries again (``push_retries``
times), failing clearly on a conflict.

Fencing: every commit carries ``Relgate-Deployment: <fence>`` (deployment id
and attempt). Before writing, and again on the tip a rejected push fetched,
the newest relgate commit of this service and environment in the file's
history is read; when its fence is newer than the request's, the request is
an old attempt that woke up late, and it refuses rather than overwrite.

A rollback (reason ``rollback`` or ``auto-rollback``) is a ``git revert`` of
the commit that brought the version running now, when that revert applies
cleanly and leaves the manifest pinning the artifact asked for; else a new
commit setting that artifact. The log says which.

The health check runs inside :meth:`GitOpsDeployer.deploy`, after the push,
because it needs the pushed commit (Argo CD must be synced *at it*), which
only the deployer knows; the environment's own ``verify:`` still runs after.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from relgate.deploy.argocd import ArgoCdHealth
from relgate.deploy.config import (
    ArgoCdHealthSpec,
    CommandVerifySpec,
    GitopsDeployerSpec,
    HttpVerifySpec,
)
from relgate.deploy.gitops_manifest import (
    MAX_MANIFEST_BYTES,
    ImageRef,
    ManifestError,
    parse_reference,
    pins,
    set_image,
)
from relgate.deploy.gitrun import Git, GitResult, git_environment
from relgate.deploy.ports import DeployRequest, LogSink, StepOutcome
from relgate.deploy.verify import CommandVerifier, HttpVerifier, redact

ROLLBACK_REASONS = frozenset({"rollback", "auto-rollback"})
HISTORY_LIMIT = 200
"""How many commits of the manifest's history are read for fencing and for the revert."""


class _Stop(Exception):
    """An expected end of the deployment (a refused push, a bad manifest): its outcome."""

    def __init__(self, outcome: StepOutcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _fail(reason: str) -> _Stop:
    return _Stop(StepOutcome(False, reason))


@dataclass(frozen=True)
class _Commit:
    sha: str
    trailers: dict[str, str]


def fence_key(fence: str) -> tuple[int, int] | None:
    """``"12.3"`` -> (12, 3); a bare deployment id is attempt 0; None when not a fence."""
    head, _, attempt = fence.partition(".")
    if not head.isdigit() or (attempt and not attempt.isdigit()):
        return None
    return int(head), int(attempt or 0)


class GitOpsDeployer:
    """Deploys by committing the image to a config repository and waiting for its health."""

    def __init__(
        self,
        spec: GitopsDeployerSpec,
        *,
        base_dir: Path,
        environ: Mapping[str, str],
        cache_dir: Path | None = None,
    ) -> None:
        self._spec = spec
        self._base_dir = base_dir
        self._environ = environ
        self._cache_dir = cache_dir
        self._remote = self._remote_of(spec.repository, base_dir)

    @staticmethod
    def _remote_of(repository: str, base_dir: Path) -> str:
        """A URL or scp-like address as it is; a path resolved against relgate.yaml's folder."""
        if "://" in repository or ":" in repository.split("/", 1)[0]:
            return repository
        path = Path(repository)
        return str(path if path.is_absolute() else (base_dir / path).resolve())

    def deploy(
        self, request: DeployRequest, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Commit ``request``'s image to the manifest, push it, then wait for the health check.

        Returns succeeded with the pushed commit (or "already pinned" when the
        manifest holds the image: no empty commit) and the health check's
        reason; a failed outcome naming the step otherwise. Never raises.
        """
        spec = self._spec
        target = parse_reference(request.artifact)
        if target is None:
            return StepOutcome(
                False,
                f"the gitops deployer writes digest-pinned images: {request.artifact!r} is not "
                "NAME@sha256:<64 hex>",
            )
        deadline = time.monotonic() + spec.timeout_seconds
        # the identity of relgate's commits, also as committer of a rebase or a revert
        identity = (f"user.name={spec.author_name}", f"user.email={spec.author_email}")
        git = Git(
            git_environment(self._environ),
            deadline=deadline,
            cancel=cancel,
            log=log,
            config=identity,
        )
        try:
            with self._workspace(request) as root:
                revision, written = self._write_and_push(git, root, request, target, log)
        except _Stop as stop:
            return stop.outcome
        except OSError as exc:
            return StepOutcome(False, f"gitops: the working folder failed ({exc})")
        health = self._health(request, revision, log, cancel)
        if health.reason == "cancelled":
            log(f"cancelled during the health check; {written}")
            return StepOutcome(False, "cancelled")
        if not health.succeeded:
            return StepOutcome(False, f"{written}; {health.reason}")
        return StepOutcome(True, f"{written}; {health.reason}" if spec.health else written)

    # ------------------------------------------------------------------ the steps

    @contextlib.contextmanager
    def _workspace(self, request: DeployRequest) -> Iterator[Path]:
        """A fresh folder for the clone: in the deployment's own folder, else the cache folder."""
        if request.workdir is not None:
            root = request.workdir / "gitops"
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
        else:
            if self._cache_dir is not None:
                self._cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            root = Path(tempfile.mkdtemp(prefix="gitops-", dir=self._cache_dir))
        try:
            yield root
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _write_and_push(
        self, git: Git, root: Path, request: DeployRequest, target: ImageRef, log: LogSink
    ) -> tuple[str, str]:
        """Clone, commit and push; return (the commit now at the branch, what was done in words).

        Raises _Stop with the outcome of any expected failure.
        """
        spec = self._spec
        clone = root / "repo"
        shown = redact(self._remote)
        self._check(
            git.run(
                "clone",
                "--quiet",
                "--no-tags",
                "--single-branch",
                "--branch",
                spec.branch,
                "--",
                self._remote,
                str(clone),
                cwd=root,
            ),
            f"could not clone branch {spec.branch} of {shown}",
        )
        base = self._head(git, clone)
        self._refuse_newer(git, clone, "HEAD", request)
        rollback = request.reason in ROLLBACK_REASONS
        committed = self._revert(git, clone, request, target, log) if rollback else False
        if not committed and not self._edit_and_commit(git, clone, request, target, log):
            log(f"{spec.file} already pins {target.reference}: nothing to commit")
            return base, f"{spec.file} on {spec.branch} already pins {target.reference}"
        for attempt in range(spec.push_retries + 1):
            pushed = git.run(
                "push", "--porcelain", "origin", f"HEAD:refs/heads/{spec.branch}", cwd=clone
            )
            if pushed.ok:
                head = self._head(git, clone)
                log(f"pushed {head[:12]} to {spec.branch} of {shown}")
                how = "reverted" if committed else "committed"
                return head, f"{how} {head[:12]} on {spec.branch} of {shown}"
            self._check_stopped(pushed, "git push")
            if not _moved(pushed):
                refused = _refusal(pushed)
                raise _fail(f"git push to {shown} failed: {refused or pushed.last_error()}")
            if attempt == spec.push_retries:
                break
            log(
                f"push rejected: {spec.branch} moved since it was read; fetching and rebasing "
                f"(retry {attempt + 1} of {spec.push_retries})"
            )
            self._check(
                git.run("fetch", "--quiet", "--no-tags", "origin", spec.branch, cwd=clone),
                f"could not fetch {spec.branch} of {shown}",
            )
            self._refuse_newer(git, clone, f"origin/{spec.branch}", request)
            rebased = git.run("rebase", "--quiet", f"origin/{spec.branch}", cwd=clone)
            if not rebased.ok:
                self._check_stopped(rebased, "git rebase")
                git.run("rebase", "--abort", cwd=clone)
                raise _fail(
                    f"{spec.branch} of {shown} changed {spec.file} in a way that conflicts with "
                    f"setting {target.reference} ({rebased.last_error()}); resolve it there "
                    "and deploy again"
                )
            head = self._head(git, clone)
            tip = self._rev(git, clone, f"origin/{spec.branch}")
            if head == tip:
                # the commit became empty on the new tip: the branch already pins the image
                log(f"{spec.branch} already pins {target.reference} after the rebase")
                return head, f"{spec.file} on {spec.branch} already pins {target.reference}"
        raise _fail(
            f"git push to {spec.branch} of {shown} was rejected {spec.push_retries + 1} times: "
            "the branch kept moving; deploy again"
        )

    def _edit_and_commit(
        self, git: Git, clone: Path, request: DeployRequest, target: ImageRef, log: LogSink
    ) -> bool:
        """Set ``target`` in the manifest and commit; return False when it already pins it."""
        spec = self._spec
        path = self._manifest(clone)
        try:
            text = path.read_text(encoding="utf-8")
            updated = set_image(text, spec, target)
        except UnicodeDecodeError:
            raise _fail(f"{spec.file} on {spec.branch} is not UTF-8 text") from None
        except ManifestError as exc:
            raise _fail(str(exc)) from None
        if updated is None:
            return False
        path.write_text(updated, encoding="utf-8")
        self._check(git.run("add", "--", spec.file, cwd=clone), f"git add {spec.file} failed")
        rollback = request.reason in ROLLBACK_REASONS
        if rollback:
            log(f"rolling back by a new commit restoring {target.reference}")
        self._commit(git, clone, self._message(request, target, reverts=None))
        return True

    def _revert(
        self, git: Git, clone: Path, request: DeployRequest, target: ImageRef, log: LogSink
    ) -> bool:
        """Roll back by ``git revert`` of the commit that brought the running version.

        Returns True when the revert is committed; False (the working tree left
        clean) when there is no such commit, it does not apply cleanly, or it
        would not leave ``target`` pinned: the caller then commits the image.
        """
        spec = self._spec
        if not request.previous_artifact:
            return False
        latest = self._latest_of_environment(git, clone, "HEAD", request)
        if latest is None or latest.trailers.get("Relgate-Artifact") != request.previous_artifact:
            log(f"no relgate commit brought {request.previous_artifact}: nothing to revert")
            return False
        reverted = git.run("revert", "--no-edit", "--no-commit", latest.sha, cwd=clone)
        if not reverted.ok:
            self._check_stopped(reverted, "git revert")
            git.run("revert", "--abort", cwd=clone)
            log(f"git revert of {latest.sha[:12]} does not apply cleanly: {reverted.last_error()}")
            return False
        text = self._manifest(clone).read_text(encoding="utf-8", errors="replace")
        if not pins(text, spec, target):
            git.run("reset", "--quiet", "--hard", "HEAD", cwd=clone)
            log(f"git revert of {latest.sha[:12]} would not restore {target.reference}")
            return False
        brought = request.previous_version or request.previous_artifact
        log(f"rolling back by git revert of {latest.sha[:12]} (the deploy of {brought})")
        self._commit(git, clone, self._message(request, target, reverts=latest.sha))
        return True

    # ------------------------------------------------------------------ fencing

    def _refuse_newer(self, git: Git, clone: Path, ref: str, request: DeployRequest) -> None:
        """Raise _Stop when ``ref`` holds a relgate commit of a newer deployment of this env."""
        latest = self._latest_of_environment(git, clone, ref, request)
        if latest is None:
            return
        theirs = fence_key(latest.trailers.get("Relgate-Deployment", ""))
        ours = fence_key(request.fence or request.deployment_id)
        if theirs is not None and (ours is None or theirs > ours):
            raise _fail(
                f"refused: {self._spec.branch} already has commit {latest.sha[:12]} of a newer "
                f"deployment ({latest.trailers['Relgate-Deployment']}) of {request.service} in "
                f"{request.environment}; this attempt ({request.fence or request.deployment_id}) "
                "is stale and does not overwrite it"
            )

    def _latest_of_environment(
        self, git: Git, clone: Path, ref: str, request: DeployRequest
    ) -> _Commit | None:
        """The newest relgate commit of this service and environment touching the manifest."""
        listed = git.run(
            "log",
            f"-n{HISTORY_LIMIT}",
            "--format=%H%x00%B%x1e",
            ref,
            "--",
            self._spec.file,
            cwd=clone,
            quiet=True,
        )
        self._check(listed, "could not read the manifest's history")
        for record in listed.out.split("\x1e"):
            sha, sep, body = record.strip().partition("\x00")
            if not sep:
                continue
            trailers = _trailers(body)
            if (
                trailers.get("Relgate-Service") == request.service
                and trailers.get("Relgate-Environment") == request.environment
            ):
                return _Commit(sha=sha, trailers=trailers)
        return None

    # ------------------------------------------------------------------ helpers

    def _manifest(self, clone: Path) -> Path:
        """The manifest's path, refused when it leaves the clone (a symlink) or is too big."""
        spec = self._spec
        path = clone / spec.file
        root = clone.resolve()
        try:
            resolved = path.resolve(strict=True)
        except (FileNotFoundError, RuntimeError):
            raise _fail(f"{spec.file} does not exist on branch {spec.branch}") from None
        if path.is_symlink() or not resolved.is_relative_to(root) or not resolved.is_file():
            raise _fail(f"{spec.file} on {spec.branch} is a symlink or not a regular file")
        if resolved.stat().st_size > MAX_MANIFEST_BYTES:
            raise _fail(f"{spec.file} is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
        return resolved

    def _message(self, request: DeployRequest, target: ImageRef, *, reverts: str | None) -> str:
        rollback = request.reason in ROLLBACK_REASONS
        verb = "Roll back" if rollback else "Deploy"
        subject = (
            f"Roll back {request.service} in {request.environment} to {request.version}"
            if rollback
            else f"{verb} {request.service} {request.version} to {request.environment}"
        )
        lines = [subject, "", f"Image: {target.reference}"]
        if request.previous_artifact:
            lines.append(f"Previous: {request.previous_artifact}")
        if reverts:
            lines.append(f"This reverts commit {reverts}.")
        lines += [
            "",
            f"Relgate-Service: {request.service}",
            f"Relgate-Environment: {request.environment}",
            f"Relgate-Version: {request.version}",
            f"Relgate-Artifact: {request.artifact}",
            f"Relgate-Deployment: {request.fence or request.deployment_id}",
            f"Relgate-Reason: {request.reason}",
        ]
        if reverts:
            lines.append(f"Relgate-Reverts: {reverts}")
        return "\n".join(lines) + "\n"

    def _commit(self, git: Git, clone: Path, message: str) -> None:
        self._check(
            git.run("commit", "--quiet", "--no-verify", "-m", message, cwd=clone),
            "git commit failed",
        )

    def _head(self, git: Git, clone: Path) -> str:
        return self._rev(git, clone, "HEAD")

    def _rev(self, git: Git, clone: Path, ref: str) -> str:
        result = git.run("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=clone, quiet=True)
        self._check(result, f"could not read {ref}")
        return result.out.strip()

    @staticmethod
    def _check_stopped(result: GitResult, what: str) -> None:
        if result.stopped == "cancelled":
            raise _fail("cancelled")
        if result.stopped is not None:
            raise _fail(f"{what} {result.stopped}")

    def _check(self, result: GitResult, what: str) -> None:
        """Raise _Stop when ``result`` did not end with exit 0: ``what``, and why."""
        if result.ok:
            return
        if result.stopped == "cancelled":
            raise _fail("cancelled")
        if result.stopped == "timed out":
            raise _fail(f"{what}: timed out after {self._spec.timeout_seconds:g} s")
        raise _fail(f"{what}: {result.stopped or result.last_error()}")

    def _health(
        self,
        request: DeployRequest,
        revision: str,
        log: LogSink,
        cancel: threading.Event | None,
    ) -> StepOutcome:
        """Run the health check of the spec; succeeded without one."""
        health = self._spec.health
        if health is None:
            return StepOutcome(True, "no health check configured")
        log(f"health check ({health.type}) of {revision[:12]}")
        if isinstance(health, ArgoCdHealthSpec):
            return ArgoCdHealth(health, self._environ).wait(revision, log, cancel=cancel)
        if isinstance(health, HttpVerifySpec):
            return HttpVerifier(health).verify(request, log, cancel=cancel)
        assert isinstance(health, CommandVerifySpec)
        return CommandVerifier(health, base_dir=self._base_dir).verify(request, log, cancel=cancel)


def _moved(result: GitResult) -> bool:
    """Whether ``git push --porcelain`` says the ref was refused because the branch moved.

    ``[rejected]`` (non-fast-forward, fetch first) is worth a fetch and a retry;
    ``[remote rejected]`` (a protected branch, a hook) is not: it would refuse again.
    """
    return any(line.startswith("!") and "[rejected]" in line for line in result.out.splitlines())


def _refusal(result: GitResult) -> str | None:
    """The reason of a ``[remote rejected]`` line, e.g. ``pre-receive hook declined``."""
    for line in result.out.splitlines():
        if line.startswith("!") and "[remote rejected]" in line:
            return line.split("[remote rejected]", 1)[1].strip(" ()") or "remote rejected"
    return None


def _trailers(body: str) -> dict[str, str]:
    """The ``Relgate-*: value`` lines of a commit message."""
    found: dict[str, str] = {}
    for line in body.splitlines():
        name, sep, value = line.partition(": ")
        if sep and name.startswith("Relgate-") and name[8:].replace("-", "").isalpha():
            found.setdefault(name, value.strip())
    return found
