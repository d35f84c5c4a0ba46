"""Real git repositories in temporary folders, for tests.

Every commit gets a deterministic author, committer and date (a fake clock that
moves one minute per commit), so SHAs are stable from run to run. Identity is
passed through the environment because the test suite points git's global
configuration at /dev/null.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

DEFAULT_AUTHOR = ("Ada Lovelace", "ada@example.com")
COMMITTER = ("relgate tests", "tests@relgate.invalid")
EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z


def git_env(*, author: tuple[str, str] = DEFAULT_AUTHOR, when: int | None = None) -> dict[str, str]:
    """Return os.environ plus a fixed git identity (and dates, when ``when`` is given)."""
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME=author[0],
        GIT_AUTHOR_EMAIL=author[1],
        GIT_COMMITTER_NAME=COMMITTER[0],
        GIT_COMMITTER_EMAIL=COMMITTER[1],
    )
    if when is not None:
        env["GIT_AUTHOR_DATE"] = f"@{when} +0000"
        env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    return env


class GitRepo:
    """A working tree driven through the real ``git`` command."""

    def __init__(self, path: Path, *, clock: int = EPOCH) -> None:
        self.path = path
        self.clock = clock

    @classmethod
    def init(cls, path: Path, *, branch: str = "main", bare: bool = False) -> GitRepo:
        """Create a repository at ``path`` whose first branch is ``branch``."""
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        args = ["init", "--quiet", f"--initial-branch={branch}"]
        if bare:
            args.append("--bare")
        repo.git(*args)
        return repo

    def tick(self) -> int:
        """Move the fake clock one minute forward and return it."""
        self.clock += 60
        return self.clock

    def git(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Run git in this repository; return its stdout, stripped of the final newline."""
        proc = subprocess.run(
            ["git", *args],
            cwd=self.path,
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=dict(env) if env is not None else git_env(when=self.clock),
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stderr}")
        return proc.stdout.rstrip("\n")

    def write(self, files: Mapping[str, str]) -> None:
        """Write files (paths relative to the root) without staging them."""
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")

    def commit(
        self,
        message: str,
        files: Mapping[str, str] | None = None,
        *,
        author: tuple[str, str] = DEFAULT_AUTHOR,
        date: int | None = None,
    ) -> str:
        """Write and stage ``files``, commit with ``message``; return the new commit's SHA.

        Without files the commit is empty, which is enough for most version rules.
        """
        if files:
            self.write(files)
            self.git("add", "--", *files)
        when = date if date is not None else self.tick()
        self.git(
            "commit",
            "--quiet",
            "--allow-empty",
            "--cleanup=verbatim",
            "-F",
            "-",
            input=message,
            env=git_env(author=author, when=when),
        )
        return self.head()

    def commits(self, messages: Iterable[str]) -> list[str]:
        """Commit each message in turn (empty commits); return their SHAs."""
        return [self.commit(message) for message in messages]

    def head(self) -> str:
        """Return the SHA of HEAD."""
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, *, message: str | None = None, ref: str = "HEAD") -> None:
        """Tag ``ref``: annotated when ``message`` is given, lightweight otherwise."""
        if message is None:
            self.git("tag", name, ref)
        else:
            self.tick()
            self.git("tag", "-a", name, "-m", message, ref)

    def branch(self, name: str, start: str = "HEAD") -> None:
        """Create branch ``name`` at ``start`` without switching to it."""
        self.git("branch", name, start)

    def checkout(self, name: str, *, create: bool = False) -> None:
        """Switch to branch ``name`` (creating it at HEAD when ``create``)."""
        if create:
            self.git("checkout", "--quiet", "-b", name)
        else:
            self.git("checkout", "--quiet", name)

    def detach(self, ref: str = "HEAD") -> None:
        """Detach HEAD at ``ref``, as CI systems check out."""
        self.git("checkout", "--quiet", "--detach", ref)

    def merge(self, branch: str, message: str | None = None) -> str:
        """Merge ``branch`` into the current branch with a merge commit; return its SHA."""
        self.tick()
        self.git("merge", "--no-ff", "--quiet", "-m", message or f"Merge branch '{branch}'", branch)
        return self.head()

    def clone(self, dest: Path, *, depth: int | None = None, branch: str | None = None) -> GitRepo:
        """Clone this repository through file:// (so ``depth`` really makes it shallow)."""
        args = ["clone", "--quiet"]
        if depth is not None:
            args += ["--depth", str(depth)]
        if branch is not None:
            args += ["--branch", branch]
        args += [self.path.as_uri(), str(dest)]
        self.git(*args)
        return GitRepo(dest, clock=self.clock)

    def fast_import(self, messages: Iterable[str], *, branch: str = "main") -> None:
        """Append many empty commits to ``branch`` at once (thousands per second)."""
        lines: list[str] = []
        parent = self.git("rev-parse", "--verify", "-q", branch, check=False)
        name, email = DEFAULT_AUTHOR
        for index, message in enumerate(messages):
            when = self.tick()
            data = message.encode("utf-8")
            lines.append(f"commit refs/heads/{branch}")
            lines.append(f"author {name} <{email}> {when} +0000")
            lines.append(f"committer {COMMITTER[0]} <{COMMITTER[1]}> {when} +0000")
            lines.append(f"data {len(data)}")
            lines.append(message)
            if index == 0 and parent:
                lines.append(f"from {parent}")
            lines.append("")
        self.git("fast-import", "--quiet", input="\n".join(lines) + "\n")
        if self.git("symbolic-ref", "--short", "HEAD", check=False) == branch:
            self.git("reset", "--quiet", "--hard", branch)
