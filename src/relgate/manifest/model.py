"""The whole relgate.yaml of a service repository."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relgate.manifest.loader import load_file
from relgate.versioning.config import VersioningConfig

SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


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
