"""Bump rules: from the changes since the last release to the next version.

Pure functions over plain data (parsed commits, versions); the git reading and
the tag lookup live elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from relgate.errors import MaintenanceLineExceeded
from relgate.versioning.commits import CommitEntry, ConventionalCommit
from relgate.versioning.semver import Version

if TYPE_CHECKING:
    from relgate.versioning.config import VersioningConfig


class BumpKind(IntEnum):
    """How much a change moves the version; ordered so that max() picks the largest."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str:
        """The lowercase name used in relgate.yaml and output: none, patch, minor, major."""
        return self.name.lower()

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> BumpKind:
        """Return the kind named ``label`` (none, patch, minor, major; any case).

        Raises ValueError for any other name.
        """
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(
                f"unknown bump {label!r}: expected none, patch, minor or major"
            ) from None


_DEFAULT_TYPES: Mapping[str, BumpKind] = MappingProxyType(
    {
        "feat": BumpKind.MINOR,
        "fix": BumpKind.PATCH,
        "perf": BumpKind.PATCH,
        "revert": BumpKind.PATCH,
    }
)
_DEPENDENCY_TYPES = frozenset({"build", "chore", "fix"})
_DEPENDENCY_SCOPES = frozenset({"deps", "deps-dev"})


@dataclass(frozen=True)
class BumpRules:
    """Which bump each kind of change asks for."""

    # A mapping is not hashable; the rules stay hashable through their other fields.
    types: Mapping[str, BumpKind] = field(default_factory=lambda: _DEFAULT_TYPES, hash=False)
    dependency_updates: BumpKind = BumpKind.PATCH
    breaking_below_1: BumpKind = BumpKind.MINOR
    initial_version: Version = field(default_factory=lambda: Version(0, 1, 0))

    @classmethod
    def from_config(cls, cfg: VersioningConfig) -> BumpRules:
        """Return the rules of a relgate.yaml ``versioning`` section.

        Raises InvalidVersion if its initial_version is not SemVer (the config
        model already checks it, so this only happens for unvalidated input).
        """
        return cls(
            types=MappingProxyType(
                {name.lower(): BumpKind.from_label(kind) for name, kind in cfg.types.items()}
            ),
            dependency_updates=BumpKind.from_label(cfg.dependency_updates),
            breaking_below_1=BumpKind.from_label(cfg.breaking_below_1),
            initial_version=Version.parse(cfg.initial_version),
        )

    @classmethod
    def default(cls) -> BumpRules:
        """Return the default rules: feat minor; fix, perf, revert and dependency updates patch."""
        return cls()


def bump_of(commit: ConventionalCommit, rules: BumpRules) -> BumpKind:
    """Return the bump one change asks for; a breaking change is always MAJOR here.

    The major-zero rule is applied by ``next_version``, which knows the current
    version. Never raises.
    """
    if commit.breaking:
        return BumpKind.MAJOR
    scope = commit.scope
    if (
        scope is not None
        and commit.type in _DEPENDENCY_TYPES
        and scope.lower() in _DEPENDENCY_SCOPES
    ):
        return rules.dependency_updates
    return rules.types.get(commit.type, BumpKind.NONE)


@dataclass(frozen=True)
class Line:
    """A maintenance line: ``Line(1)`` is 1.x, ``Line(1, 2)`` is 1.2.x."""

    major: int
    minor: int | None = None

    def __str__(self) -> str:
        return f"{self.major}.x" if self.minor is None else f"{self.major}.{self.minor}.x"

    def contains(self, version: Version) -> bool:
        """True when ``version`` belongs to this line."""
        if version.major != self.major:
            return False
        return self.minor is None or version.minor == self.minor


_LINE_BRANCH = re.compile(r"(?:.*/)?(?P<major>0|[1-9]\d*)\.(?:(?P<minor>0|[1-9]\d*)\.)?x")


def line_from_branch(branch: str) -> Line | None:
    """Return the maintenance line a branch name stands for, or None.

    "1.x" and "release/1.x" give Line(1); "1.2.x" gives Line(1, 2); any other
    name (main, feature/x, 1.2) gives None.
    """
    match = _LINE_BRANCH.fullmatch(branch.strip())
    if match is None:
        return None
    minor = match["minor"]
    return Line(int(match["major"]), int(minor) if minor is not None else None)


@dataclass(frozen=True)
class NextVersion:
    """The outcome of ``next_version``."""

    current: Version | None
    next: Version | None
    bump: BumpKind
    decisive: CommitEntry | None


def _largest_bump(
    entries: Sequence[CommitEntry], rules: BumpRules
) -> tuple[BumpKind, CommitEntry | None]:
    # bump_of inlined: this loop runs once per commit since the last release.
    types = rules.types
    dependency_updates = rules.dependency_updates
    major = BumpKind.MAJOR
    none = BumpKind.NONE
    largest = none
    decisive: CommitEntry | None = None
    for entry in entries:
        commit = entry.conventional
        if commit is None:
            # a non-conventional header whose body has BREAKING CHANGE notes
            if entry.breaking_notes:
                return major, entry
            continue
        if commit.breaking:
            return major, entry
        scope = commit.scope
        if (
            scope is not None
            and commit.type in _DEPENDENCY_TYPES
            and scope.lower() in _DEPENDENCY_SCOPES
        ):
            kind = dependency_updates
        else:
            kind = types.get(commit.type, none)
        if kind > largest:
            largest, decisive = kind, entry
    return largest, decisive


def _next_number(target: Version, channel: str, existing: Iterable[Version]) -> int:
    channel_ids = tuple(channel.split("."))
    width = len(channel_ids)
    highest = 0
    for version in existing:
        pre = version.prerelease
        if (
            len(pre) == width + 1
            and pre[:width] == channel_ids
            and version.major == target.major
            and version.minor == target.minor
            and version.patch == target.patch
            and pre[width].isdigit()
        ):
            highest = max(highest, int(pre[width]))
    return highest + 1


def _short(entry: CommitEntry) -> str:
    return f"commit {entry.sha[:7]} {entry.subject!r}"


def next_version(
    current: Version | None,
    entries: Sequence[CommitEntry],
    rules: BumpRules,
    *,
    channel: str | None = None,
    existing: Iterable[Version] = (),
    line: Line | None = None,
) -> NextVersion:
    """Return the next version after ``current`` given the changes since it.

    ``current`` is the last final release (None: no release yet); ``entries`` are
    all changes since it, in any order; ``decisive`` is the first of them (in the
    order given) that asks for the applied bump. No entries, or no entry that
    bumps, means nothing to release (``next`` is None), except for the first
    release, which is ``rules.initial_version``. Below 1.0.0 a breaking change
    bumps ``rules.breaking_below_1``. With ``channel`` the result is a pre-release
    numbered one past the highest of that channel among ``existing``.

    Raises MaintenanceLineExceeded when ``line`` is given and the next version
    would leave it, naming the commit that needs the larger bump; InvalidVersion
    when ``channel`` is not a valid pre-release identifier.
    """
    if not entries:
        return NextVersion(current, None, BumpKind.NONE, None)
    bump, decisive = _largest_bump(entries, rules)
    if current is None:
        base = rules.initial_version
        if base.major == 0 and bump is BumpKind.MAJOR:
            bump = rules.breaking_below_1
        target = Version(base.major, base.minor, base.patch)
    else:
        if current.major == 0 and bump is BumpKind.MAJOR:
            bump = rules.breaking_below_1
        if bump is BumpKind.NONE:
            return NextVersion(current, None, BumpKind.NONE, None)
        target = current.bump(bump)
    if line is not None and not line.contains(target):
        raise MaintenanceLineExceeded(_line_message(line, current, target, bump, decisive))
    if channel is not None:
        target = target.with_prerelease(channel, _next_number(target, channel, existing))
    return NextVersion(current, target, bump, decisive)


def _line_message(
    line: Line,
    current: Version | None,
    target: Version,
    bump: BumpKind,
    decisive: CommitEntry | None,
) -> str:
    if current is not None and not line.contains(current):
        return (
            f"maintenance line {line}: the last release {current} is not on this line; "
            f"the next version {target} would leave it"
        )
    if decisive is not None and current is not None:
        return (
            f"maintenance line {line} cannot take a {bump} bump: {_short(decisive)} "
            f"needs {bump} ({current} -> {target}); release it from the main branch, "
            "or change the commit"
        )
    return f"maintenance line {line}: the next version {target} would leave it"
