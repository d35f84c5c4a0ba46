"""Semantic Versioning 2.0.0: strict parsing, printing, precedence and bumps.

``Version`` keeps equality structural (build metadata included, as the
dataclass compares it), while ``<``, ``<=``, ``>``, ``>=`` follow SemVer
precedence, which ignores build metadata. Two versions that differ only in
build metadata are therefore neither ``<`` nor ``>`` each other, nor ``==``;
``same_precedence`` tells them apart from unrelated versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from relgate.errors import InvalidVersion

if TYPE_CHECKING:
    from relgate.versioning.bump import BumpKind

# The regular expression published on semver.org, with named groups.
_SEMVER = re.compile(
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,
)
_IDENTIFIER = re.compile(r"[0-9A-Za-z-]+", re.ASCII)
_NUMERIC = re.compile(r"[0-9]+", re.ASCII)

# Precedence keys: a release sorts after every prerelease of the same
# MAJOR.MINOR.PATCH, and numeric identifiers sort before alphanumeric ones.
_RELEASE = 1
_PRERELEASE = 0
_NUMERIC_ID = 0
_ALPHANUMERIC_ID = 1

PrecedenceKey = tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]


def _identifier_key(identifier: str) -> tuple[int, int | str]:
    if identifier.isdigit() and identifier.isascii():
        return (_NUMERIC_ID, int(identifier))
    return (_ALPHANUMERIC_ID, identifier)


def _prerelease_problem(identifier: str) -> str | None:
    if not identifier:
        return "has an empty pre-release identifier"
    if not _IDENTIFIER.fullmatch(identifier):
        return f"pre-release identifier {identifier!r} may only contain [0-9A-Za-z-]"
    if _NUMERIC.fullmatch(identifier) and len(identifier) > 1 and identifier[0] == "0":
        return f"numeric pre-release identifier {identifier!r} has a leading zero"
    return None


def _build_problem(identifier: str) -> str | None:
    if not identifier:
        return "has an empty build identifier"
    if not _IDENTIFIER.fullmatch(identifier):
        return f"build identifier {identifier!r} may only contain [0-9A-Za-z-]"
    return None


def _diagnose(text: str) -> str:
    """Say what makes ``text`` fail the SemVer grammar, for the error message."""
    if not text:
        return "is empty"
    if text[0] in "vV" and _SEMVER.fullmatch(text[1:]):
        return "starts with 'v'; a version has no prefix (the tag format adds it)"
    core, plus, build = text.partition("+")
    if plus and "+" in build:
        return "has more than one '+'"
    core, dash, prerelease = core.partition("-")
    parts = core.split(".")
    if len(parts) != 3:
        return f"must be MAJOR.MINOR.PATCH, got {len(parts)} dot-separated part(s) in {core!r}"
    for name, part in zip(("major", "minor", "patch"), parts, strict=True):
        if not _NUMERIC.fullmatch(part):
            return f"{name} {part!r} is not a non-negative integer"
        if len(part) > 1 and part[0] == "0":
            return f"{name} {part!r} has a leading zero"
    if dash:
        for identifier in prerelease.split("."):
            problem = _prerelease_problem(identifier)
            if problem:
                return problem
    if plus:
        for identifier in build.split("."):
            problem = _build_problem(identifier)
            if problem:
                return problem
    return "is not a SemVer 2.0.0 version"


@dataclass(frozen=True, slots=True)
class Version:
    """A SemVer 2.0.0 version; build metadata is kept but ignored by ordering."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = ()
    _key: PrecedenceKey = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.major < 0 or self.minor < 0 or self.patch < 0:
            raise InvalidVersion(
                f"version {self.major}.{self.minor}.{self.patch}: numbers must not be negative"
            )
        for identifier in self.prerelease:
            problem = _prerelease_problem(identifier)
            if problem:
                raise InvalidVersion(f"version {self._text()!r} {problem}")
        for identifier in self.build:
            problem = _build_problem(identifier)
            if problem:
                raise InvalidVersion(f"version {self._text()!r} {problem}")
        object.__setattr__(self, "_key", self._compute_key())

    def _compute_key(self) -> PrecedenceKey:
        if self.prerelease:
            ids = tuple(_identifier_key(identifier) for identifier in self.prerelease)
            return (self.major, self.minor, self.patch, _PRERELEASE, ids)
        return (self.major, self.minor, self.patch, _RELEASE, ())

    @classmethod
    def _trusted(
        cls,
        major: int,
        minor: int,
        patch: int,
        prerelease: tuple[str, ...] = (),
        build: tuple[str, ...] = (),
    ) -> Version:
        # Parts already checked by the grammar skip __post_init__'s checks: parsing
        # every tag of a large repository should cost one regex match per tag.
        version = object.__new__(cls)
        setter = object.__setattr__
        setter(version, "major", major)
        setter(version, "minor", minor)
        setter(version, "patch", patch)
        setter(version, "prerelease", prerelease)
        setter(version, "build", build)
        setter(version, "_key", version._compute_key())
        return version

    @classmethod
    def parse(cls, text: str) -> Version:
        """Return the version written in ``text`` (strict SemVer 2.0.0, no 'v' prefix).

        Raises InvalidVersion naming the text and what is wrong with it.
        """
        match = _SEMVER.fullmatch(text)
        if match is None:
            raise InvalidVersion(f"invalid version {text!r}: {_diagnose(text)}")
        prerelease = match["prerelease"]
        build = match["build"]
        return cls._trusted(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            tuple(prerelease.split(".")) if prerelease else (),
            tuple(build.split(".")) if build else (),
        )

    def _text(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def __str__(self) -> str:
        return self._text()

    def precedence_key(self) -> PrecedenceKey:
        """Return a sort key that orders versions by SemVer precedence (build ignored)."""
        return self._key

    def same_precedence(self, other: Version) -> bool:
        """Return True when neither version precedes the other (they may differ in build)."""
        return self._key == other._key

    def __lt__(self, other: Any) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key < other._key

    def __le__(self, other: Any) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key <= other._key

    def __gt__(self, other: Any) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key > other._key

    def __ge__(self, other: Any) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key >= other._key

    def bump(self, kind: BumpKind) -> Version:
        """Return the version after a ``kind`` bump, without pre-release or build.

        MAJOR gives X+1.0.0, MINOR X.Y+1.0, PATCH X.Y.Z+1; NONE returns this version
        unchanged. Never raises.
        """
        level = int(kind)
        if level == 3:
            return Version._trusted(self.major + 1, 0, 0)
        if level == 2:
            return Version._trusted(self.major, self.minor + 1, 0)
        if level == 1:
            return Version._trusted(self.major, self.minor, self.patch + 1)
        return self

    def with_prerelease(self, channel: str, number: int) -> Version:
        """Return MAJOR.MINOR.PATCH-<channel>.<number> (build dropped), e.g. 1.5.0-rc.3.

        ``channel`` may hold several dot-separated identifiers ("beta.docker").
        Raises InvalidVersion when the channel is not made of valid identifiers or
        the number is negative.
        """
        if number < 0:
            raise InvalidVersion(f"pre-release number {number} must not be negative")
        identifiers = (*channel.split("."), str(number))
        for identifier in identifiers[:-1]:
            if _NUMERIC.fullmatch(identifier):
                raise InvalidVersion(
                    f"pre-release channel {channel!r} must not be numeric "
                    "(the release number follows it)"
                )
            problem = _prerelease_problem(identifier)
            if problem:
                raise InvalidVersion(f"pre-release channel {channel!r} {problem}")
        return Version._trusted(self.major, self.minor, self.patch, identifiers)

    @property
    def is_prerelease(self) -> bool:
        """True when the version carries pre-release identifiers."""
        return bool(self.prerelease)
