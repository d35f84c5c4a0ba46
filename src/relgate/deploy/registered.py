"""Deployers an admin registers on the server, referenced by name from relgate.yaml.

A protected environment may only deploy with one of these (``deployer: {ref: NAME}``):
the command, what it may see of the server's environment (``env_allow``) and the
secrets it gets are decided by an admin, never by whoever can apply a pipeline.

``secrets`` hold values given to ``relgate deployers add --secret NAME=VALUE``
(stored in relgate's database, never shown back); ``secret_env`` maps a
variable of the command to a variable of the server's own environment
(``--secret-env NAME=SERVERVAR``), read when a deployment runs, so the value
never enters the database.

``type: gitops`` registers a gitops deployer: its settings go under ``gitops:``
(the keys of relgate.yaml's ``deployer: {type: gitops, ...}``). Push
credentials are the server's own (git's credential helpers, its SSH agent or
keys); an Argo CD token is named by the server variable holding it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relgate.deploy.config import (
    DEPLOYER_NAME,
    ENV_NAME,
    RESERVED_ENV,
    USER_NAME,
    CommandDeployerSpec,
    CommandVerifySpec,
    GitopsDeployerSpec,
)
from relgate.errors import BadInput


def _names(value: list[str] | dict[str, str], what: str) -> None:
    for name in value:
        if not ENV_NAME.match(name):
            raise ValueError(f"{what}: {name!r} is not a valid environment variable name")
        if name in RESERVED_ENV:
            raise ValueError(f"{what}: {name} is set by relgate from the deployment")


class RegisteredGitops(GitopsDeployerSpec):
    """The ``gitops:`` settings of a registered gitops deployer (``type`` may be left out)."""

    type: Literal["gitops"] = "gitops"


class RegisteredDeployer(BaseModel):
    """One deployer definition held by the server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="What relgate.yaml names in `deployer: {ref: NAME}`.")
    type: Literal["command", "gitops"] = "command"
    command: str | list[str] | None = Field(
        default=None, description="type command: run by /bin/sh -c (a string) or as an argv."
    )
    gitops: RegisteredGitops | None = Field(
        default=None, description="type gitops: the repository, file, format and health check."
    )
    timeout_seconds: float = Field(default=300, gt=0)
    verify_command: str | list[str] | None = Field(
        default=None,
        description="Run after a successful deploy when the environment has no `verify:`.",
    )
    verify_timeout_seconds: float = Field(default=60, gt=0)
    cwd: str | None = Field(
        default=None, description="Working directory, relative to the server's working folder."
    )
    run_as: str | None = Field(
        default=None, description="Run the commands as this OS user (the server must run as root)."
    )
    env: dict[str, str] = Field(default_factory=dict, description="Plain variables to set.")
    env_allow: list[str] = Field(
        default_factory=list, description="Variables of the server's environment passed on."
    )
    secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    secret_env: dict[str, str] = Field(
        default_factory=dict, description="Command variable -> server variable holding its value."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not DEPLOYER_NAME.match(value):
            raise ValueError(
                "must be lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("run_as")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        if value is not None and not USER_NAME.match(value):
            raise ValueError(f"{value!r} is not a user name")
        return value

    @field_validator("command", "verify_command")
    @classmethod
    def _not_empty(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is None:
            return value
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        if isinstance(value, list) and (not value or not value[0]):
            raise ValueError("must name a program to run")
        return value

    @model_validator(mode="after")
    def _variables(self) -> RegisteredDeployer:
        if self.type == "command" and self.command is None:
            raise ValueError("a deployer of type command needs `command`")
        if self.type == "command" and self.gitops is not None:
            raise ValueError("`gitops` settings go with type gitops")
        if self.type == "gitops" and self.gitops is None:
            raise ValueError("a deployer of type gitops needs its `gitops` settings")
        if self.type == "gitops" and self.command is not None:
            raise ValueError("a deployer of type gitops runs no `command`")
        _names(self.env, "env")
        _names(self.env_allow, "env_allow")
        for name in self.env_allow:
            # the server's own settings (RELGATE_DATABASE_URL, ...) never reach a command
            if name.upper().startswith("RELGATE_"):
                raise ValueError(
                    f"env_allow: {name} cannot be passed: RELGATE_* variables of the server are "
                    "relgate's own settings"
                )
        _names(self.secrets, "secrets")
        _names(self.secret_env, "secret_env")
        for server_name in self.secret_env.values():
            if not ENV_NAME.match(server_name):
                raise ValueError(
                    f"secret_env: {server_name!r} is not a valid environment variable name"
                )
        both = sorted(set(self.secrets) & set(self.secret_env))
        if both:
            raise ValueError(f"{', '.join(both)} is given both as a secret and as a secret_env")
        return self

    def public(self) -> dict[str, Any]:
        """Return the definition as shown to people: secret names, never their values."""
        data = self.model_dump(mode="json", exclude={"secrets"})
        data["secrets"] = sorted(self.secrets)
        return data

    def _secrets(self, environ: Mapping[str, str]) -> dict[str, str]:
        values = dict(self.secrets)
        for name, server_name in self.secret_env.items():
            value = environ.get(server_name)
            if value is None:
                raise BadInput(
                    f"deployer {self.name!r}: secret {name} comes from the server's variable "
                    f"{server_name}, which is not set where relgate runs"
                )
            values[name] = value
        return values

    def deployer_spec(self, environ: Mapping[str, str]) -> CommandDeployerSpec | GitopsDeployerSpec:
        """Return the deployer this definition stands for, secrets resolved.

        Raises BadInput naming the variable when a ``secret_env`` variable is not
        set in ``environ`` (the server's environment).
        """
        if self.gitops is not None:
            return self.gitops
        assert self.command is not None
        return CommandDeployerSpec(
            type="command",
            command=self.command,
            cwd=self.cwd,
            env=self.env,
            run_as=self.run_as,
            timeout_seconds=self.timeout_seconds,
            env_allow=self.env_allow,
            secrets=self._secrets(environ),
        )

    def verify_spec(self, environ: Mapping[str, str]) -> CommandVerifySpec | None:
        """Return the verify command of this definition (None without one); raises as above."""
        if self.verify_command is None:
            return None
        return CommandVerifySpec(
            type="command",
            command=self.verify_command,
            cwd=self.cwd,
            env=self.env,
            run_as=self.run_as,
            timeout_seconds=self.verify_timeout_seconds,
            env_allow=self.env_allow,
            secrets=self._secrets(environ),
        )
