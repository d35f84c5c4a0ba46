"""Request bodies of the REST API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from relgate import limits


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PipelineApply(_Body):
    source: str = Field(description="The text of relgate.yaml.")
    file: str = Field(
        default="relgate.yaml", max_length=limits.FILE_NAME, description="Its name, for errors."
    )


class ReleaseCreate(_Body):
    service: str = Field(max_length=limits.SERVICE)
    version: str = Field(max_length=limits.VERSION)
    artifact: str = Field(
        max_length=limits.ARTIFACT, description="Digest-pinned reference: name@sha256:<64 hex>."
    )
    commit: str | None = Field(default=None, max_length=limits.COMMIT)
    changelog: str | None = Field(default=None, max_length=limits.CHANGELOG)
    author: str | None = Field(
        default=None,
        max_length=limits.AUTHOR,
        description="Who wrote the change (default: caller).",
    )


class DeploymentCreate(_Body):
    service: str = Field(max_length=limits.SERVICE)
    version: str = Field(max_length=limits.VERSION)
    environment: str = Field(max_length=limits.ENVIRONMENT)
    reason: str = Field(default="", max_length=limits.REASON)


class Decision(_Body):
    service: str = Field(max_length=limits.SERVICE)
    version: str = Field(max_length=limits.VERSION)
    environment: str = Field(max_length=limits.ENVIRONMENT)
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=limits.COMMENT)


class RollbackCreate(_Body):
    service: str = Field(max_length=limits.SERVICE)
    environment: str = Field(max_length=limits.ENVIRONMENT)
    reason: str = Field(min_length=1, max_length=limits.REASON)
    to_version: str | None = Field(default=None, max_length=limits.VERSION)


class TokenCreate(_Body):
    name: str = Field(min_length=1, max_length=limits.TOKEN_NAME)
    role: str = Field(max_length=limits.ROLE)
    environment: str | None = Field(default=None, max_length=limits.ENVIRONMENT)


class CancelBody(_Body):
    reason: str = Field(default="", max_length=limits.REASON)
