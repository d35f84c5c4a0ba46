"""The ``versioning`` section of relgate.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

BumpName = Literal["major", "minor", "patch", "none"]


def _default_types() -> dict[str, BumpName]:
    return {"feat": "minor", "fix": "patch", "perf": "patch", "revert": "patch"}


class VersioningConfig(BaseModel):
    """How relgate turns commits into the next version of one service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tag_format: str = Field(
        default="v{version}",
        description="How release tags are named; {version} is required, {name} is the service.",
    )
    path: str | None = Field(
        default=None,
        description="Monorepo: only commits touching this path "
        "(relative to the repository root) count.",
    )
    initial_version: str = Field(default="0.1.0", description="The first release's version.")
    breaking_below_1: Literal["minor", "major"] = Field(
        default="minor",
        description="What a breaking change bumps while the major version is 0.",
    )
    types: dict[str, BumpName] = Field(
        default_factory=_default_types,
        description="Commit type -> bump. Types not listed do not bump.",
    )
    dependency_updates: BumpName = Field(
        default="patch",
        description="Bump for build(deps), chore(deps) and fix(deps) commits "
        "(as Dependabot and Renovate write them).",
    )
    release_branches: list[str] = Field(
        default_factory=lambda: ["main", "master"],
        description="Branches whose releases are final versions.",
    )
    channels: dict[str, str] = Field(
        default_factory=lambda: {"next": "rc", "beta": "beta", "alpha": "alpha"},
        description="Branch -> prerelease channel: a release there is X.Y.Z-<channel>.N.",
    )
    version_files: list[str] = Field(
        default_factory=list,
        description="Files `relgate version --tag` writes the version into: pyproject.toml, "
        "package.json, Chart.yaml (version and appVersion).",
    )
    changelog_file: str = Field(default="CHANGELOG.md")
    remote: str = Field(default="origin", description="Where `--push` pushes the tag.")

    @field_validator("tag_format")
    @classmethod
    def _tag_format_has_version(cls, value: str) -> str:
        if "{version}" not in value:
            raise ValueError("must contain {version}, e.g. 'v{version}' or '{name}@{version}'")
        return value

    @field_validator("initial_version")
    @classmethod
    def _initial_is_semver(cls, value: str) -> str:
        from relgate.versioning.semver import Version

        Version.parse(value)
        return value
