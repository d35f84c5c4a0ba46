"""The whole relgate.yaml of a service repository."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

from relgate.manifest.loader import load_file
from relgate.versioning.config import VersioningConfig

SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}\Z")
_ALIAS_NAME = re.compile(r"^[A-Za-z_$][\w$]*[?!]?\Z")
_ALIAS_VALUE = re.compile(r"^[A-Za-z0-9._$-]{1,100}[?!]?\Z")


def _key_pattern(value: str) -> str:
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    if pattern.groups < 1:
        raise ValueError("needs a group around the flag key, e.g. flag\\('(.+?)'\\)")
    return value


def _alias_name(value: str) -> str:
    if not _ALIAS_NAME.match(value):
        raise ValueError(f"{value!r} is not a function or constant name")
    return value


def _alias_value(value: str) -> str:
    if not _ALIAS_VALUE.match(value):
        raise ValueError(
            f"{value!r} is neither an SDK call name (e.g. is_enabled) nor a flag key "
            "(letters, digits, '-', '_', '.')"
        )
    return value


class FlagLintConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``flags.lint``: what `relgate flags lint` counts as a flag reference, and where it looks."""

    # regular expressions whose group `key` (else group 1) is a flag key
    patterns: list[str] = msgspec.field(default_factory=list)
    # name: is_enabled makes a wrapper function; name: flag-key maps a constant
    aliases: dict[str, str] = msgspec.field(default_factory=dict)
    # globs of paths or file/folder names not searched
    exclude: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        for index, pattern in enumerate(self.patterns):
            try:
                _key_pattern(pattern)
            except ValueError as exc:
                raise ValueError(f"patterns[{index}]: {exc}") from None
        for name, value in self.aliases.items():
            try:
                _alias_name(name)
                _alias_value(value)
            except ValueError as exc:
                raise ValueError(f"aliases.{name}: {exc}") from None


class FlagsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``flags``: the service's feature-flag settings."""

    lint: FlagLintConfig = msgspec.field(default_factory=FlagLintConfig)


class Manifest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """relgate.yaml: the service, how it is versioned, and its pipeline.

    A msgspec Struct (see relgate.versioning.config for why); the pipeline in
    ``environments`` is validated as a pydantic PipelineSpec by `relgate apply`
    (relgate.manifest.pipeline), so `relgate version` imports neither pydantic
    nor the gate and deployer models.
    """

    # the service's name, e.g. payments-service
    service: str | None = None
    # web address of the repository, for links in the changelog
    repository_url: str | None = None
    versioning: VersioningConfig = msgspec.field(default_factory=VersioningConfig)
    # the pipeline: ordered environments, their gates and deployer
    environments: list[Any] | None = None
    # feature flags: how `relgate flags lint` reads code
    flags: FlagsConfig = msgspec.field(default_factory=FlagsConfig)

    def __post_init__(self) -> None:
        if self.service is not None and not SERVICE_NAME.match(self.service):
            raise ValueError(
                "service: must be lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )


def load_manifest(path: Path, *, required: bool = False) -> Manifest:
    """Load relgate.yaml at ``path``; a missing optional file gives the defaults.

    Raises InvalidConfig naming file, line and field when the file is invalid,
    or when it is missing and ``required``.
    """
    if not path.exists() and not required:
        return Manifest()
    return load_file(Manifest, path)
