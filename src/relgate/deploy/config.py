"""The ``deployer`` and ``verify`` keys of an environment in relgate.yaml.

deployer: {type: command, command: "./deploy.sh", timeout_seconds: 300}
      or  {type: record}: nothing is deployed, the deployment is recorded only
      or  {ref: payments-prod}: a deployer an admin registered on the server
          (relgate.deploy.registered); the only kind a protected environment may use
verify:   {type: http, url: "http://127.0.0.1:8080/healthz"}
      or  {type: command, command: "./smoke.sh"}
      or  absent: a successful deployment is its own verification
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEPLOYER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

# relgate sets these from the deployment request; a spec may not override them
RESERVED_ENV = frozenset(
    {
        "RELGATE_SERVICE",
        "RELGATE_ENVIRONMENT",
        "RELGATE_VERSION",
        "RELGATE_ARTIFACT",
        "RELGATE_PREVIOUS_ARTIFACT",
        "RELGATE_DEPLOYMENT_ID",
        "RELGATE_REASON",
        "RELGATE_WORKDIR",
    }
)

# a user name as useradd takes it (run_as); checked again against the system when it runs
USER_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")


class _CommandSpec(BaseModel):
    """What every command-running spec shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | list[str] = Field(
        description="A string run by /bin/sh -c, or a list: the program and its arguments.",
    )
    cwd: str | None = Field(
        default=None,
        description="Working directory, relative to the directory of relgate.yaml (the default).",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Variables set for the command, with the values given here.",
    )
    env_allow: list[str] = Field(
        default_factory=list,
        description="Variables of the server's environment passed to the command by name "
        "(when the server has them); relgate's own RELGATE_* settings cannot be named.",
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Variables whose values the server holds (a deployer registered on the "
        "server), passed to the command by name and never logged.",
        repr=False,
    )
    run_as: str | None = Field(
        default=None,
        description="Run the command as this OS user; only possible when the server runs as root.",
    )
    kill_grace_seconds: float = Field(
        default=10,
        ge=0,
        description="After a timeout or a cancel, how long SIGTERM is given before SIGKILL.",
    )

    @field_validator("command")
    @classmethod
    def _command_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("must not be empty")
        elif not value or not value[0]:
            raise ValueError("must name a program to run")
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _numbers_are_text(cls, value: Any) -> Any:
        # YAML reads `PORT: 8080` as a number; the environment only holds text
        if isinstance(value, dict):
            return {
                key: str(item)
                if isinstance(item, int | float) and not isinstance(item, bool)
                else item
                for key, item in value.items()
            }
        return value

    @field_validator("env", "secrets")
    @classmethod
    def _variable_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
            if name in RESERVED_ENV:
                raise ValueError(f"{name} is set by relgate from the deployment and cannot be set")
        return value

    @field_validator("env_allow")
    @classmethod
    def _allowed_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
            # the server's own settings (RELGATE_DATABASE_URL, ...) never reach a command
            if name.upper().startswith("RELGATE_"):
                raise ValueError(
                    f"{name} cannot be passed: RELGATE_* variables of the server are relgate's "
                    "own settings (the deployment's RELGATE_* variables are always set)"
                )
        return value

    @field_validator("run_as")
    @classmethod
    def _user_name(cls, value: str | None) -> str | None:
        if value is not None and not USER_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid user name")
        return value


class CommandDeployerSpec(_CommandSpec):
    """Deploy by running a command (a script, ``helm upgrade``, ``ansible-playbook``...)."""

    type: Literal["command"]
    timeout_seconds: float = Field(
        default=300, gt=0, description="The command is stopped and fails after this long."
    )


class RecordDeployerSpec(BaseModel):
    """``deployer: {type: record}``: nothing is deployed; the deployment is recorded only.

    For an environment relgate tracks but does not deploy to (another tool
    deploys). A pipeline must say so: an environment without ``deployer:`` is
    refused by ``relgate apply``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["record"]


class FakeDeployerSpec(BaseModel):
    """``deployer: {type: fake, name: NAME}``: a scripted deployer tests register.

    A server offers it only when a test added it to its registry
    (relgate.deploy.fake.register); elsewhere a deployment with it fails saying so.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["fake"]
    name: str = Field(default="default", description="Which registered fake deployer runs.")


class CommandVerifySpec(_CommandSpec):
    """Verify by running a command (smoke tests) that must exit 0 in time."""

    type: Literal["command"]
    timeout_seconds: float = Field(
        default=60, gt=0, description="The command is stopped and fails after this long."
    )


class HttpVerifySpec(BaseModel):
    """Verify by polling an HTTP endpoint until it answers as expected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["http"]
    url: str = Field(
        description="http:// or https:// address; {service}, {environment} and {version} "
        "are replaced by the deployment's.",
    )
    timeout_seconds: float = Field(
        default=60, gt=0, description="Verification fails when not healthy after this long."
    )
    interval_seconds: float = Field(default=1, gt=0, description="Pause between attempts.")
    request_timeout_seconds: float = Field(
        default=5, gt=0, description="How long one attempt may take."
    )
    expect_status: int = Field(default=200, ge=100, le=599)
    expect_body_contains: str | None = Field(
        default=None,
        description="Text the body must contain; {service}, {environment} and {version} "
        "are replaced, so '{version}' checks the new version is the one answering.",
    )
    consecutive_successes: int = Field(
        default=1, ge=1, description="Healthy answers needed in a row."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "must be an http:// or https:// address, e.g. http://127.0.0.1:8080/healthz"
            )
        return value


def _type_of(value: Any) -> Any:
    """The ``type`` key of a spec, as data or as a model (the discriminator)."""
    if isinstance(value, dict):
        return value.get("type")
    return getattr(value, "type", None)


def _by_type(*types: str) -> Discriminator:
    # a callable discriminator lets a missing or unknown type say what is allowed
    return Discriminator(
        _type_of,
        custom_error_type="invalid_type",
        custom_error_message=f"type must be one of: {', '.join(types)}",
    )


class DeployerRef(BaseModel):
    """``deployer: {ref: NAME}``: the deployer an admin registered on the server as NAME."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: str = Field(
        description="The name of a deployer registered on the server (`relgate deployers list`)."
    )

    @field_validator("ref")
    @classmethod
    def _ref_name(cls, value: str) -> str:
        if not DEPLOYER_NAME.match(value):
            raise ValueError(
                "must be lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return value


def _deployer_kind(value: Any) -> Any:
    """``ref`` for a reference to a registered deployer, else the ``type`` key."""
    if isinstance(value, dict):
        return "ref" if "ref" in value else value.get("type")
    if isinstance(value, DeployerRef):
        return "ref"
    return getattr(value, "type", None)


DeployerSpec = Annotated[
    Annotated[CommandDeployerSpec, Tag("command")]
    | Annotated[RecordDeployerSpec, Tag("record")]
    | Annotated[FakeDeployerSpec, Tag("fake")]
    | Annotated[DeployerRef, Tag("ref")],
    Field(
        discriminator=Discriminator(
            _deployer_kind,
            custom_error_type="invalid_type",
            custom_error_message="give `ref: NAME` (a deployer registered on the server), "
            "`type: command`, or `type: record` (nothing is deployed, the deployment is "
            "recorded only)",
        )
    ),
]
"""A ``deployer:`` entry: a command of the pipeline's own, or a registered deployer by name."""

VerifySpec = Annotated[
    Annotated[HttpVerifySpec, Tag("http")] | Annotated[CommandVerifySpec, Tag("command")],
    Field(discriminator=_by_type("http", "command")),
]
"""A ``verify:`` entry."""
