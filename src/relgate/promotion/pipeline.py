"""The pipeline part of relgate.yaml: ordered environments with their gates and deployer."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relgate.deploy.config import DeployerSpec, VerifySpec
from relgate.promotion.gates import GateSpec

ENV_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class EnvironmentSpec(BaseModel):
    """One stage of a service's pipeline."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="dev, staging, production, ...")
    gates: list[GateSpec] = Field(
        default_factory=list, description="Every gate must pass before a release enters."
    )
    deployer: DeployerSpec | None = Field(
        default=None, description="How a release is put here; none: record-only environment."
    )
    verify: VerifySpec | None = Field(
        default=None, description="How a deployment is checked healthy; none: deploy success."
    )
    auto_promote: bool = Field(
        default=False, description="Promote a release here as soon as its gates pass."
    )
    auto_rollback: bool = Field(
        default=False, description="A failed deployment redeploys the stable anchor."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            raise ValueError("must be lowercase letters, digits, '_' or '-'")
        return value


class PipelineSpec(BaseModel):
    """A service's ordered environments (dev -> staging -> production)."""

    model_config = ConfigDict(extra="forbid")

    environments: list[EnvironmentSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> PipelineSpec:
        seen: set[str] = set()
        for env in self.environments:
            if env.name in seen:
                raise ValueError(f"environment {env.name!r} is declared twice")
            seen.add(env.name)
        return self

    def environment(self, name: str) -> EnvironmentSpec | None:
        """Return the environment called ``name``, or None."""
        return next((env for env in self.environments if env.name == name), None)

    def previous(self, name: str) -> EnvironmentSpec | None:
        """Return the environment before ``name`` in the pipeline (None for the first)."""
        names = [env.name for env in self.environments]
        index = names.index(name)
        return self.environments[index - 1] if index > 0 else None
