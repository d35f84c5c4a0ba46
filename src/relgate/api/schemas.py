"""Request bodies of the REST API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PipelineApply(_Body):
    source: str = Field(description="The text of relgate.yaml.")
    file: str = Field(default="relgate.yaml", description="Its name, for error messages.")
    author: str | None = Field(
        default=None,
        max_length=400,
        description="Who wrote the change (commit author), who may not approve it.",
    )


class PipelineDecision(_Body):
    comment: str = Field(default="", max_length=2000)


class DeployerCreate(_Body):
    name: str = Field(max_length=63, description="What relgate.yaml names: deployer: {ref: NAME}.")
    type: Literal["command"] = "command"
    command: str | list[str]
    timeout_seconds: float = 300
    verify_command: str | list[str] | None = None
    verify_timeout_seconds: float = 60
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    env_allow: list[str] = Field(default_factory=list)
    secrets: dict[str, str] = Field(
        default_factory=dict, description="NAME: value; stored, never shown back."
    )
    secret_env: dict[str, str] = Field(
        default_factory=dict, description="NAME: the server's variable holding the value."
    )


class ReleaseCreate(_Body):
    service: str
    version: str
    artifact: str = Field(description="Digest-pinned reference: name@sha256:<64 hex>.")
    commit: str | None = None
    changelog: str | None = None
    author: str | None = Field(default=None, description="Who wrote the change (default: caller).")
    author_email: str | None = Field(default=None, description="The commit author's email.")
    co_authors: list[str] = Field(
        default_factory=list, description="'Name <email>' of the commit's Co-authored-by trailers."
    )


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
    environment: str | None = Field(
        default=None, description="A client token's one environment (else one of the scope)."
    )
    identity: str | None = Field(
        default=None, description="Who it belongs to (name, email or alias; default: name)."
    )
    emails: list[str] = Field(default_factory=list, description="Emails added to the identity.")
    services: list[str] = Field(default_factory=list, description="Scope; empty: every service.")
    environments: list[str] = Field(
        default_factory=list, description="Scope; empty: every environment."
    )


class CancelBody(_Body):
    reason: str = ""


class IdentityCreate(_Body):
    name: str = Field(min_length=1, max_length=200)
    emails: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    kind: Literal["person", "robot"] = "person"
