"""The whole relgate.yaml of a service repository."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from relgate.manifest.loader import load_file
from relgate.versioning.config import VersioningConfig

SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_ALIAS_NAME = re.compile(r"^[A-Za-z_$][\w$]*[?!]?$")
_ALIAS_VALUE = re.compile(r"^[A-Za-z0-9._$-]{1,100}[?!]?$")


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


class FlagLintConfig(BaseModel):
    """``flags.lint``: what `relgate flags lint` counts as a flag reference, and where it looks."""

    model_config = ConfigDict(extra="forbid")

    patterns: list[Annotated[str, AfterValidator(_key_pattern)]] = Field(
        default_factory=list,
        description="Regular expressions whose group `key` (else group 1) is a flag key.",
    )
    aliases: dict[
        Annotated[str, AfterValidator(_alias_name)], Annotated[str, AfterValidator(_alias_value)]
    ] = Field(
        default_factory=dict,
        description="name: is_enabled makes a wrapper function; name: flag-key maps a constant.",
    )
    exclude: list[str] = Field(
        default_factory=list, description="Globs of paths or file/folder names not searched."
    )


class FlagsConfig(BaseModel):
    """``flags``: the service's feature-flag settings."""

    model_config = ConfigDict(extra="forbid")

    lint: FlagLintConfig = Field(default_factory=FlagLintConfig)


class Manifest(BaseModel):
    """relgate.yaml: the service, how it is versioned, and its pipeline."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = Field(
        default=None, description="The service's name, e.g. payments-service."
    )
    repository_url: str | None = Field(
        default=None, description="Web address of the repository, for links in the changelog."
    )
    versioning: VersioningConfig = Field(default_factory=VersioningConfig)
    # Validated as a PipelineSpec by `relgate apply` (relgate.manifest.pipeline), so
    # that `relgate version` does not import the gate and deployer models.
    environments: list[Any] | None = Field(
        default=None, description="The pipeline: ordered environments, their gates and deployer."
    )
    flags: FlagsConfig = Field(
        default_factory=FlagsConfig,
        description="Feature flags: how `relgate flags lint` reads code.",
    )

    @field_validator("service")
    @classmethod
    def _service_name(cls, value: str | None) -> str | None:
        if value is not None and not SERVICE_NAME.match(value):
            raise ValueError(
                "must be lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return value


def load_manifest(path: Path, *, required: bool = False) -> Manifest:
    """Load relgate.yaml at ``path``; a missing optional file gives the defaults.

    Raises InvalidConfig naming file, line and field when the file is invalid,
    or when it is missing and ``required``.
    """
    if not path.exists() and not required:
        return Manifest()
    return load_file(Manifest, path)
