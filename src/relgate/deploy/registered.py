"""Deployers an admin registers on the server, referenced by name from relgate.yaml.

A protected environment may only deploy with one of these (``deployer: {ref: NAME}``):
the command, what it may see of the server's environment (``env_allow``) and the
secrets it gets are decided by an admin, never by whoever can apply a pipeline.

``secrets`` hold values given to ``relgate deployers add --secret NAME=VALUE``
(stored in relgate's database, never shown back); ``secret_env`` maps a
variable of the command to a variable of the server's own environment
(``--secret-env NAME=SERVERVAR``), read when a deployment runs, so the value
never enters the database.

``type: kubernetes`` defines a kubernetes deployer instead of a command: its
``workload``, ``kind``, ``container``, ``namespace``, ``context`` and
``kubeconfig`` (a path on the server) are the keys of relgate.yaml's
``deployer: {type: kubernetes}``, and ``timeout_seconds`` bounds the rollout.
The verify command, when given, runs as for a command deployer.

``type: gitops`` registers a gitops deployer: its settings go under ``gitops:``
(the keys of relgate.yaml's ``deployer: {type: gitops, ...}``). Push
credentials are the server's own (git's credential helpers, its SSH agent or
keys); an Argo CD token is named by the server variable holding it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from relgate.deploy.config import (
    DEPLOYER_NAME,
    ENV_NAME,
    RESERVED_ENV,
    USER_NAME,
    CommandDeployerSpec,
    CommandVerifySpec,
    GitopsDeployerSpec,
    KubernetesDeployerSpec,
    WorkloadKind,
)
from relgate.errors import BadInput


def _invalid(message: str) -> PydanticCustomError:
    # a custom error shows the message as it is (a ValueError's gets "Value error, " before it)
    return PydanticCustomError("invalid_deployer", "{message}", {"message": message})


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
    type: Literal["command", "kubernetes", "gitops"] = "command"
    command: str | list[str] | None = Field(
        default=None, description="Run by /bin/sh -c (a string) or as an argv (type command)."
    )
    timeout_seconds: float = Field(
        default=300, gt=0, description="For the deploy command, or the kubernetes rollout."
    )
    workload: str | None = Field(default=None, description="kubernetes: the workload's name.")
    kind: WorkloadKind | None = Field(
        default=None, description="kubernetes: Deployment (the default), StatefulSet, DaemonSet."
    )
    container: str | None = Field(default=None, description="kubernetes: the container to set.")
    namespace: str | None = Field(
        default=None, description="kubernetes: the namespace; the environment's name when unset."
    )
    context: str | None = Field(default=None, description="kubernetes: the kubeconfig context.")
    kubeconfig: str | None = Field(
        default=None, description="kubernetes: the kubeconfig's path on the server."
    )
    gitops: RegisteredGitops | None = Field(
        default=None, description="type gitops: the repository, file, format and health check."
    )
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
    def _kind_of_deployer(self) -> RegisteredDeployer:
        kube = [
            key
            for key in ("workload", "kind", "container", "namespace", "context", "kubeconfig")
            if getattr(self, key) is not None
        ]
        if self.type == "command":
            if self.command is None:
                raise _invalid("command: a deployer of type command needs a command")
            if kube:
                raise _invalid(
                    f"{', '.join(kube)}: only for a deployer of type kubernetes (--type kubernetes)"
                )
            if self.gitops is not None:
                raise _invalid("gitops: only for a deployer of type gitops (--type gitops)")
        elif self.type == "gitops":
            if kube:
                raise _invalid(
                    f"{', '.join(kube)}: only for a deployer of type kubernetes (--type kubernetes)"
                )
        else:
            if self.command is not None:
                raise _invalid("command: a deployer of type kubernetes runs no deploy command")
            if self.gitops is not None:
                raise _invalid("gitops: only for a deployer of type gitops (--type gitops)")
            # the same checks as relgate.yaml's `deployer: {type: kubernetes}`, field by field
            try:
                self._kubernetes_spec()
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                message = str(first["msg"]).removeprefix("Value error, ")
                raise _invalid(f"{where}: {message}") from None
        return self

    def _kubernetes_spec(self) -> KubernetesDeployerSpec:
        return KubernetesDeployerSpec(
            type="kubernetes",
            kind=self.kind or "Deployment",
            workload=self.workload,
            container=self.container,
            namespace=self.namespace,
            context=self.context,
            kubeconfig=self.kubeconfig,
            timeout_seconds=self.timeout_seconds,
        )

    @model_validator(mode="after")
    def _variables(self) -> RegisteredDeployer:
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

    def deployer_spec(
        self, environ: Mapping[str, str]
    ) -> CommandDeployerSpec | KubernetesDeployerSpec | GitopsDeployerSpec:
        """Return the deployer this definition stands for, secrets resolved.

        Raises BadInput naming the variable when a ``secret_env`` variable is not
        set in ``environ`` (the server's environment).
        """
        if self.type == "kubernetes":
            return self._kubernetes_spec()
        if self.gitops is not None:
            return self.gitops
        assert self.command is not None  # checked by _kind_of_deployer
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
