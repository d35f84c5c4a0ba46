"""The commits a release brings and when each was committed, read from git.

``relgate release create`` sends them with the release, so the delivery measures
can compute each commit's lead time (commit → the production deployment that
first shipped it) without guessing. The range is the previous release tag (the
one the version was computed from, or the nearest tag below the commit) up to
the release's commit; times are committer times, UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from relgate.errors import RelgateError
from relgate.versioning.gitlog import GitRepository


@dataclass(frozen=True)
class ReleaseCommits:
    committed_at: datetime
    """The release commit's own committer time."""
    commits: list[tuple[str, datetime]]
    """Newest first, at most ``limit``."""
    count: int
    """How many commits the range holds (more than ``commits`` when cut)."""
    base: str | None
    """The tag the range starts after (None: the whole history)."""


def _time(seconds: str) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


def previous_tag(
    git: GitRepository, commit: str, match: str | Sequence[str] | None = None
) -> str | None:
    """The nearest tag reachable from ``commit``'s parents (``match``: globs, any of), or None."""
    args = ["describe", "--tags", "--abbrev=0"]
    for glob in [match] if isinstance(match, str) else match or ():
        args += ["--match", glob]
    try:
        return git.git(*args, f"{commit}^").decode().strip() or None
    except RelgateError:
        return None  # no tag below it, or the root commit


def release_commits(
    repo: Path,
    commit: str,
    *,
    base: str | None = None,
    find_base: bool = True,
    match: str | Sequence[str] | None = None,
    path: str | None = None,
    limit: int = 5000,
) -> ReleaseCommits | None:
    """Read the commits of ``base..commit`` (``base`` found when not given); None outside git.

    None too when ``commit`` is not in ``repo``: the release is then created
    without commit times and its lead time says it rests on fewer data.
    """
    if not commit or commit.startswith("-"):
        return None
    try:
        git = GitRepository.open(repo)
        own = git.git("show", "-s", "--format=%H %ct", f"{commit}^{{commit}}", "--").decode()
        sha, _, when = own.strip().partition(" ")
        if base is None and find_base:
            base = previous_tag(git, sha, match)
        revision = f"{base}..{sha}" if base else sha
        tail = ["--", path] if path else ["--"]
        count = int(git.git("rev-list", "--count", revision, *tail).decode().strip() or 0)
        listed = git.git("log", "--format=%H %ct", f"-n{limit}", revision, *tail).decode()
    except (RelgateError, ValueError):
        return None
    commits = []
    for line in listed.splitlines():
        name, _, seconds = line.partition(" ")
        if name and seconds.isdigit():
            commits.append((name, _time(seconds)))
    return ReleaseCommits(_time(when), commits, count, base)
