"""Request bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from relgate import limits
from relgate.deploy.registered import RegisteredGitops


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PipelineApply(_Body):
    source: str = Field(description="The text of relgate.yaml.")
    file: str = Field(
        default="relgate.yaml", max_length=limits.FILE_NAME, description="Its name, for errors."
    )
    author: str | None = Field(
        default=None,
        max_length=limits.PIPELINE_AUTHOR,
        description="Who wrote the change, as `Name <email>` (commit author); may not approve it.",
    )


class PipelineDecision(_Body):
    comment: str = Field(default="", max_length=limits.COMMENT)


class DeployerCreate(_Body):
    name: str = Field(max_length=63, description="What relgate.yaml names: deployer: {ref: NAME}.")
    type: Literal["command", "kubernetes", "gitops"] = "command"
    command: str | list[str] | None = Field(default=None, max_length=limits.COMMAND)
    gitops: RegisteredGitops | None = Field(
        default=None, description="type gitops: repository, branch, file, format, health..."
    )
    timeout_seconds: float = 300
    # type kubernetes (relgate.deploy.registered checks them as relgate.yaml's keys)
    workload: str | None = Field(default=None, max_length=253)
    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] | None = None
    container: str | None = Field(default=None, max_length=63)
    namespace: str | None = Field(default=None, max_length=63)
    context: str | None = Field(default=None, max_length=253)
    kubeconfig: str | None = Field(default=None, max_length=limits.FILE_NAME)
    verify_command: str | list[str] | None = Field(default=None, max_length=limits.COMMAND)
    verify_timeout_seconds: float = 60
    cwd: str | None = Field(default=None, max_length=limits.FILE_NAME)
    run_as: str | None = Field(default=None, max_length=32)
    env: dict[str, str] = Field(default_factory=dict, max_length=limits.DEPLOYER_VARIABLES)
    env_allow: list[str] = Field(default_factory=list, max_length=limits.DEPLOYER_VARIABLES)
    secrets: dict[str, str] = Field(
        default_factory=dict,
        max_length=limits.DEPLOYER_VARIABLES,
        description="NAME: value; stored, never shown back.",
    )
    secret_env: dict[str, str] = Field(
        default_factory=dict,
        max_length=limits.DEPLOYER_VARIABLES,
        description="NAME: the server's variable holding the value.",
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
    author_email: str | None = Field(
        default=None, max_length=limits.EMAIL, description="The commit author's email."
    )
    co_authors: list[Annotated[str, Field(max_length=limits.AUTHOR + limits.EMAIL + 3)]] = Field(
        default_factory=list,
        max_length=limits.CO_AUTHORS,
        description="'Name <email>' of the commit's Co-authored-by trailers.",
    )
    commits: list[CommitIn] | None = Field(
        default=None,
        max_length=limits.RELEASE_COMMITS,
        description="The commits since the previous release tag, newest first (the change "
        "lead time is measured from their times); `relgate release create` sends them.",
    )
    commit_count: int | None = Field(
        default=None, ge=0, le=limits.MAX_ID, description="How many the range held, if cut."
    )
    committed_at: datetime | None = Field(
        default=None, description="When the release's own commit was made."
    )


class CommitIn(_Body):
    sha: str = Field(max_length=limits.COMMIT)
    committed_at: datetime = Field(description="The committer time, with its offset.")


class DeploymentCreate(_Body):
    service: str = Field(max_length=limits.SERVICE)
    version: str = Field(max_length=limits.VERSION)
    environment: str = Field(max_length=limits.ENVIRONMENT)
    reason: str = Field(default="", max_length=limits.REASON)
    hotfix: bool = Field(
        default=False,
        description="A promotion that fixes what broke production: the same gates, "
        "recorded as kind `hotfix` and counted as rework by the delivery measures.",
    )


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
    environment: str | None = Field(
        default=None,
        max_length=limits.ENVIRONMENT,
        description="A client token's one environment (else one of the scope).",
    )
    identity: str | None = Field(
        default=None,
        max_length=limits.EMAIL,
        description="Who it belongs to (name, email or alias; default: name).",
    )
    emails: list[Annotated[str, Field(max_length=limits.EMAIL)]] = Field(
        default_factory=list, max_length=100, description="Emails added to the identity."
    )
    services: list[Annotated[str, Field(max_length=limits.SERVICE)]] = Field(
        default_factory=list, max_length=1000, description="Scope; empty: every service."
    )
    environments: list[Annotated[str, Field(max_length=limits.ENVIRONMENT)]] = Field(
        default_factory=list, max_length=1000, description="Scope; empty: every environment."
    )
    origins: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list,
        max_length=50,
        description="A frontend token's browser origins (CORS), scheme://host[:port] or *.",
    )


class CancelBody(_Body):
    reason: str = Field(default="", max_length=limits.REASON)


class IdentityCreate(_Body):
    name: str = Field(min_length=1, max_length=limits.IDENTITY_NAME)
    emails: list[Annotated[str, Field(max_length=limits.EMAIL)]] = Field(
        default_factory=list, max_length=100
    )
    aliases: list[Annotated[str, Field(max_length=limits.EMAIL)]] = Field(
        default_factory=list, max_length=100
    )
    kind: Literal["person", "robot"] = "person"
