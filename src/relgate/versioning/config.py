"""The ``versioning`` section of relgate.yaml.

A msgspec Struct rather than a pydantic model: `relgate version` reads it on
every run, and importing pydantic alone costs more than the command's whole
150 ms budget on a small machine (bench/RESULTS.md). Errors still name the
file, line and field (relgate.manifest.loader).
"""

from __future__ import annotations

from typing import Literal

import msgspec

BumpName = Literal["major", "minor", "patch", "none"]


def _default_types() -> dict[str, BumpName]:
    return {"feat": "minor", "fix": "patch", "perf": "patch", "revert": "patch"}


def _default_release_branches() -> list[str]:
    return ["main", "master"]


def _default_channels() -> dict[str, str]:
    return {"next": "rc", "beta": "beta", "alpha": "alpha"}


class SquashConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """How a squash merge's bullet list of commits (``* feat: x`` lines) counts."""

    # when the bullets count as commits of their own: only when the squash's header is
    # not conventional (the header decides otherwise), always, or never
    bullets: Literal["when_header_not_conventional", "always", "never"] = (
        "when_header_not_conventional"
    )
    # a bullet's "!" or a BREAKING CHANGE paragraph under a bullet makes the squash breaking
    breaking_in_bullets: bool = True


class VersioningConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """How relgate turns commits into the next version of one service."""

    # how release tags are named; {version} is required, {name} is the service
    tag_format: str = "v{version}"
    # with tag_format "v{version}", also take tags written without the "v" (1.2.3)
    accept_unprefixed_tags: bool = True
    # monorepo: only commits touching this path (relative to the repository root) count
    path: str | None = None
    # the first release's version
    initial_version: str = "0.1.0"
    # what a breaking change bumps while the major version is 0
    breaking_below_1: Literal["minor", "major"] = "minor"
    # commit type -> bump; types not listed do not bump
    types: dict[str, BumpName] = msgspec.field(default_factory=_default_types)
    # bump for build(deps), chore(deps) and fix(deps) commits (Dependabot, Renovate)
    dependency_updates: BumpName = "patch"
    # how squash merges' bodies are read
    squash: SquashConfig = msgspec.field(default_factory=SquashConfig)
    # branches whose releases are final versions
    release_branches: list[str] = msgspec.field(default_factory=_default_release_branches)
    # branch -> prerelease channel: a release there is X.Y.Z-<channel>.N
    channels: dict[str, str] = msgspec.field(default_factory=_default_channels)
    # files `relgate version --tag` writes the version into
    version_files: list[str] = msgspec.field(default_factory=list)
    changelog_file: str = "CHANGELOG.md"
    # where `--push` pushes the tag
    remote: str = "origin"

    def __post_init__(self) -> None:
        # "field: message": the loader points at that field's line
        if "{version}" not in self.tag_format:
            raise ValueError(
                "tag_format: must contain {version}, e.g. 'v{version}' or '{name}@{version}'"
            )
        from relgate.errors import InvalidVersion
        from relgate.versioning.semver import Version

        try:
            Version.parse(self.initial_version)
        except InvalidVersion as exc:
            raise ValueError(f"initial_version: {exc}") from None
