"""The git adapter: release tags, commits since a tag, release commits and tags.

Everything goes through the system ``git`` in a subprocess. Reading the commits
since the last release is one ``git log -z`` call whatever their number, so a
repository with tens of thousands of unreleased commits is read in one pass.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from relgate.errors import (
    BadInput,
    Conflict,
    ExternalError,
    InvalidVersion,
    NotAGitRepository,
    ShallowClone,
)
from relgate.versioning.commits import RawCommit
from relgate.versioning.semver import Version

# Unit separator between fields of one commit; NUL (-z) between commits.
_FIELD = "\x1f"
_LOG_FORMAT = "--format=%m%H%x1f%P%x1f%an%x1f%ae%x1f%at%x1f%B"
T = TypeVar("T")
_FETCH_ADVICE = (
    "fetch the full history: `git fetch --unshallow` (or `git fetch --tags --unshallow`); "
    "in GitHub Actions set `fetch-depth: 0` on actions/checkout, in GitLab CI set `GIT_DEPTH: 0`"
)


@dataclass(frozen=True)
class ReleaseTag:
    """A tag whose name matches the tag format, with its version and the commit it marks."""

    name: str
    version: Version
    sha: str


@dataclass(frozen=True)
class TagFormat:
    """How release tags are named: ``v{version}``, ``{name}@{version}``, ``{name}-v{version}``."""

    template: str
    name: str | None = None
    # with the template "v{version}": also take "1.2.3" (no "v") as a release tag
    accept_unprefixed: bool = False

    @property
    def unprefixed(self) -> bool:
        """True when tags without the template's "v" count too (``accept_unprefixed``)."""
        return self.accept_unprefixed and self.template == "v{version}"

    def __post_init__(self) -> None:
        if "{version}" not in self.template:
            raise BadInput(
                f"tag format {self.template!r} must contain {{version}}, e.g. 'v{{version}}'"
            )
        if "{name}" in self.template and not self.name:
            raise BadInput(
                f"versioning.tag_format {self.template!r} uses {{name}}, "
                "but relgate.yaml sets no 'service' name"
            )

    def _fill(self, version_text: str) -> str:
        return self.template.replace("{name}", self.name or "").replace("{version}", version_text)

    def format(self, version: Version) -> str:
        """Return the tag name of ``version``."""
        return self._fill(str(version))

    @property
    def _regex(self) -> re.Pattern[str]:
        marker = "\0"
        pattern = re.escape(self._fill(marker)).replace(re.escape(marker), "(.+)")
        return re.compile(pattern)

    def parse(self, tag: str) -> Version | None:
        """Return the version a tag name carries, or None when it is not a release tag."""
        match = self._regex.fullmatch(tag)
        if match is not None:
            text = match.group(1)
        elif self.unprefixed and tag[:1].isdigit():
            text = tag
        else:
            return None
        try:
            return Version.parse(text)
        except InvalidVersion:
            return None

    def is_unprefixed(self, tag: str) -> bool:
        """True when ``tag`` is a release tag only thanks to ``accept_unprefixed``."""
        return self.unprefixed and self._regex.fullmatch(tag) is None

    def ref_globs(self) -> list[str]:
        """Return the ``refs/tags/…`` patterns that narrow the tags git lists."""
        globs = [self.ref_glob()]
        if self.unprefixed:
            globs.append("refs/tags/[0-9]*")
        return globs

    def ref_glob(self) -> str:
        """Return a ``refs/tags/…*`` pattern that narrows the tags git lists."""
        prefix = self._fill("\0").split("\0", 1)[0]
        if any(char in prefix for char in "*?[\\"):
            return "refs/tags/"
        return f"refs/tags/{prefix}*" if prefix else "refs/tags/"


@dataclass(frozen=True)
class LogSince(Generic[T]):
    """What was read of the commits since a base, and whether the base is an ancestor of HEAD."""

    changes: list[T]
    reached_base: bool
    # every SHA walked from HEAD to the base, for the shallow-clone check (None: unknown)
    walked: list[str] | None


class GitRepository:
    """One git working tree, read and written through the ``git`` command."""

    def __init__(
        self, root: Path, *, head: str | None, branch: str | None, shallow_file: Path | None
    ) -> None:
        self.root = root
        self.head = head
        self.branch = branch
        # None when the repository is complete
        self.shallow_file = shallow_file

    @property
    def is_shallow(self) -> bool:
        """Return True when the repository is a shallow clone."""
        return self.shallow_file is not None

    @classmethod
    def open(cls, path: Path) -> GitRepository:
        """Open the repository that contains ``path``.

        Returns the repository with its HEAD commit (None before the first
        commit) and current branch (None when HEAD is detached). Raises
        NotAGitRepository when ``path`` is in no git repository, ExternalError
        when git cannot run.
        """
        if not path.is_dir():
            raise NotAGitRepository(f"{path}: no such directory")
        args = ["rev-parse", "--show-toplevel", "--is-shallow-repository"]
        args += ["--git-path", "shallow", "HEAD", "--symbolic-full-name", "HEAD"]
        proc = _run_git(path, args, check=False)
        lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
        if len(lines) < 3:
            detail = _stderr(proc)
            # git's own "not a git repository" would only repeat the message
            extra = f" ({detail})" if detail and "not a git repository" not in detail else ""
            raise NotAGitRepository(f"{path} is not in a git repository{extra}")
        root = Path(lines[0])
        shallow = lines[1] == "true"
        shallow_file = (path / lines[2]).resolve() if shallow else None
        head: str | None = None
        branch: str | None = None
        if proc.returncode == 0 and len(lines) >= 5:
            head = lines[3]
            if lines[4].startswith("refs/heads/"):
                branch = lines[4][len("refs/heads/") :]
        else:
            # an unborn branch: no commit yet, but the branch has a name
            unborn = _run_git(path, ["symbolic-ref", "-q", "HEAD"], check=False)
            ref = unborn.stdout.decode().strip()
            if ref.startswith("refs/heads/"):
                branch = ref[len("refs/heads/") :]
        return cls(root, head=head, branch=branch, shallow_file=shallow_file)

    def git(self, *args: str, input: bytes | None = None) -> bytes:
        """Run git at the root; return stdout. Raises ExternalError when git fails."""
        return _run_git(self.root, list(args), input=input).stdout

    def authorship(self, commit: str) -> tuple[str, str, str] | None:
        """Return (author name, author email, message) of ``commit``; None when it is not here."""
        if not commit or commit.startswith("-"):
            return None
        proc = _run_git(
            self.root,
            ["show", "-s", "--format=%an%x00%ae%x00%B", f"{commit}^{{commit}}", "--"],
            check=False,
        )
        if proc.returncode != 0:
            return None
        parts = proc.stdout.decode("utf-8", "replace").split("\x00", 2)
        if len(parts) != 3:
            return None
        return parts[0], parts[1], parts[2]

    def release_tags(self, tag_format: TagFormat, *, reachable: bool = False) -> list[ReleaseTag]:
        """Return the tags that match ``tag_format`` and parse as SemVer, annotated ones peeled.

        With ``reachable`` only tags whose commit is HEAD or an ancestor of it
        (this walks the whole history; ``log_since`` checks one tag for free).
        Tags on other objects than commits are skipped. When a version has both
        a tag in the format and an unprefixed one (``v1.2.3`` and ``1.2.3``), the
        one in the format is kept.
        """
        if self.head is None:
            return []
        args = [
            "for-each-ref",
            "--format=%(refname:lstrip=2) %(objecttype) %(objectname) "
            "%(*objecttype) %(*objectname)",
        ]
        if reachable:
            args.append(f"--merged={self.head}")
        args.extend(tag_format.ref_globs())
        tags: list[ReleaseTag] = []
        for line in self.git(*args).decode("utf-8", "surrogateescape").splitlines():
            name, kind, sha, peeled_kind, peeled = [*line.split(" "), "", ""][:5]
            if kind == "tag":
                kind, sha = peeled_kind, peeled
            if kind != "commit":
                continue
            version = tag_format.parse(name)
            if version is not None:
                tags.append(ReleaseTag(name=name, version=version, sha=sha))
        if tag_format.unprefixed:
            formatted = {tag.version for tag in tags if not tag_format.is_unprefixed(tag.name)}
            tags = [
                tag
                for tag in tags
                if not (tag_format.is_unprefixed(tag.name) and tag.version in formatted)
            ]
        return tags

    def is_ancestor(self, sha: str, of: str | None = None) -> bool:
        """Return True when commit ``sha`` is HEAD (or ``of``) or one of its ancestors."""
        head = of or self.head
        if head is None:
            return False
        proc = _run_git(self.root, ["merge-base", "--is-ancestor", sha, head], check=False)
        if proc.returncode > 1:
            raise ExternalError(f"git merge-base failed: {_stderr(proc) or 'no message'}")
        return proc.returncode == 0

    def log_since(
        self,
        base: str | None,
        read: Callable[[RawCommit], Iterable[T]],
        *,
        path: str | None = None,
        tip: str | None = None,
    ) -> LogSince[T]:
        """Return what ``read`` makes of each commit reachable from HEAD but not from ``base``.

        ``tip`` replaces HEAD (a release tag's commit, to replay that release).

        Commits come newest first, and every parent is followed, so the commits
        a merge brought in are read (and the merge commit itself). With ``path``
        only commits that touch it. ``read`` runs while git is still walking,
        so parsing overlaps git's work. ``reached_base`` tells whether ``base``
        is an ancestor of HEAD; without ``path`` it is found in the same walk.
        Raises ExternalError when git fails.
        """
        head = tip or self.head
        if head is None:
            return LogSince(changes=[], reached_base=False, walked=None)
        if base == head:
            return LogSince(changes=[], reached_base=True, walked=[])
        revision = f"{base}..{head}" if base else head
        args = ["-c", "log.showSignature=false", "log", "-z", "--encoding=UTF-8", _LOG_FORMAT]
        if base and not path:
            # a boundary commit is an excluded parent of a listed one: base is one
            # exactly when it is an ancestor of HEAD, so no second walk is needed
            args.append("--boundary")
        args += [revision, "--"]
        if path:
            args.append(path)
        changes: list[T] = []
        walked: list[str] = []
        boundary: set[str] = set()
        for record in _stream_records(self.root, args):
            mark_sha, parents, name, email, when, message = record.split(_FIELD, 5)
            if mark_sha[0] == "-":
                boundary.add(mark_sha[1:])
                continue
            sha = mark_sha[1:]
            walked.append(sha)
            changes.extend(
                read(RawCommit(sha, tuple(parents.split()), name, email, int(when), message))
            )
        if base is None:
            reached = False
        elif path:
            reached = self.is_ancestor(base, head)
        else:
            reached = base in boundary
        return LogSince(changes=changes, reached_base=reached, walked=None if path else walked)

    def check_history_reaches(self, base: ReleaseTag | None, walked: list[str] | None) -> None:
        """Refuse a shallow clone whose history might stop before the last release tag.

        ``walked`` lists the SHAs from HEAD down to ``base`` (None: walk them
        here). Raises ShallowClone when the repository is shallow and either no
        release tag is reachable or that walk meets a commit whose parents were
        not fetched.
        """
        if self.shallow_file is None or self.head is None:
            return
        if base is None:
            raise ShallowClone(
                "this is a shallow clone and no release tag is reachable from HEAD: "
                "the history does not reach the last release tag, so the next version "
                f"cannot be computed; {_FETCH_ADVICE}"
            )
        boundaries = self._shallow_boundaries()
        if not boundaries:
            return
        if walked is None:
            walked = self.git("rev-list", f"{base.sha}..{self.head}").decode().split()
        cut = next((sha for sha in walked if sha in boundaries), None)
        if cut is not None:
            raise ShallowClone(
                f"this is a shallow clone and its history stops at {cut[:12]} before reaching "
                f"the last release tag {base.name}, so commits may be missing; {_FETCH_ADVICE}"
            )

    def _shallow_boundaries(self) -> frozenset[str]:
        if self.shallow_file is None:
            return frozenset()
        try:
            return frozenset(self.shallow_file.read_text(encoding="ascii").split())
        except FileNotFoundError:
            return frozenset()

    def uncommitted(self, paths: Sequence[str], *, untracked: bool = False) -> list[str]:
        """Return those of ``paths`` (relative to the root) with uncommitted changes.

        Untracked files count only when ``untracked`` is True.
        """
        if not paths:
            return []
        mode = "--untracked-files=all" if untracked else "--untracked-files=no"
        out = self.git("status", "--porcelain", "-z", mode, "--", *paths)
        changed: list[str] = []
        for entry in out.decode("utf-8", "surrogateescape").split("\0"):
            if len(entry) > 3:
                changed.append(entry[3:])
        return changed

    def commit_paths(self, paths: Sequence[str], message: str) -> str | None:
        """Commit exactly ``paths`` (other staged changes stay staged); return the new SHA.

        Returns None when the files are unchanged. Raises ExternalError when git
        refuses, e.g. without a committer identity.
        """
        if not paths:
            return None
        self.git("add", "--", *paths)
        staged = _run_git(self.root, ["diff", "--cached", "--quiet", "--", *paths], check=False)
        if staged.returncode == 0:
            return None
        self.git(
            "commit",
            "--quiet",
            "--no-verify",
            "--cleanup=verbatim",
            "-F",
            "-",
            "--",
            *paths,
            input=message.encode("utf-8"),
        )
        self.head = self.git("rev-parse", "HEAD").decode().strip()
        return self.head

    def create_tag(self, name: str, message: str) -> None:
        """Create the annotated tag ``name`` on HEAD with ``message``.

        Raises Conflict when the tag already exists, ExternalError when git fails.
        """
        if self.head is None:
            raise BadInput("the repository has no commit to tag")
        exists = _run_git(
            self.root, ["rev-parse", "--verify", "-q", f"refs/tags/{name}"], check=False
        )
        if exists.returncode == 0:
            raise Conflict(f"tag {name} already exists")
        self.git(
            "tag",
            "-a",
            "--cleanup=verbatim",
            "-F",
            "-",
            name,
            self.head,
            input=message.encode("utf-8"),
        )

    def push(self, remote: str, refs: Iterable[str]) -> None:
        """Push ``refs`` (e.g. ``refs/tags/v1.2.0``) to ``remote`` in one atomic push.

        Raises ExternalError with git's message when the push fails.
        """
        self.git("push", "--atomic", "--quiet", remote, *refs)


def _stream_records(cwd: Path, args: list[str]) -> Iterator[str]:
    """Yield the NUL-separated records git writes, as they arrive."""
    try:
        proc = subprocess.Popen(
            ["git", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError:
        raise ExternalError("git is not installed (or not on PATH)") from None
    assert proc.stdout is not None and proc.stderr is not None
    rest = b""
    fd = proc.stdout.fileno()
    try:
        # git writes little to stderr, so reading it only at the end cannot block it
        while chunk := os.read(fd, 1 << 20):
            records = (rest + chunk).split(b"\0")
            rest = records.pop()
            for record in records:
                if record:
                    yield record.decode("utf-8", "replace")
        if rest:
            yield rest.decode("utf-8", "replace")
        error = proc.stderr.read().decode("utf-8", "replace").strip()
    finally:
        if proc.poll() is None:
            proc.kill()
        returncode = proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    if returncode != 0:
        raise ExternalError(f"git log failed: {error.removeprefix('fatal: ') or 'no message'}")


def _stderr(proc: subprocess.CompletedProcess[bytes]) -> str:
    text = proc.stderr.decode("utf-8", "replace").strip()
    return " ".join(line.removeprefix("fatal: ").strip() for line in text.splitlines())


def _run_git(
    cwd: Path, args: list[str], *, input: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, input=input, capture_output=True, check=False
        )
    except FileNotFoundError:
        raise ExternalError("git is not installed (or not on PATH)") from None
    if check and proc.returncode != 0:
        command = next((arg for arg in args if not arg.startswith("-") and "=" not in arg), "")
        raise ExternalError(f"git {command} failed: {_stderr(proc) or 'no message'}")
    return proc
