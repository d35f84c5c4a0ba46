"""Request bodies of the REST API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PipelineApply(_Body):
    source: str = Field(description="The text of relgate.yaml.")
    file: str = Field(default="relgate.yaml", description="Its name, for error messages.")


class ReleaseCreate(_Body):
    service: str
    version: str
    artifact: str = Field(description="Digest-pinned reference: name@sha256:<64 hex>.")
    commit: str | None = None
    changelog: str | None = None
    author: str | None = Field(default=None, description="Who wrote the change (default: caller).")


class DeploymentCreate(_Body):
    service: str
    version: str
    environment: str
    reason: str = ""


class Decision(_Body):
    service: str
    version: str
    environment: str
    decision: Literal["approve", "reject"]
    comment: str = ""


class RollbackCreate(_Body):
    service: str
    environment: str
    reason: str = Field(min_length=1)
    to_version: str | None = None


class TokenCreate(_Body):
    name: str = Field(min_length=1, max_length=200)
    role: str
    environment: str | None = None


class CancelBody(_Body):
    reason: str = ""
