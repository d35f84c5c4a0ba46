"""The pipeline part of relgate.yaml: ordered environments with their gates and deployer.

Protection: the **last** environment of a pipeline is protected unless it says
``protected: false``; any other environment is protected when it says
``protected: true``. After validation every environment's ``protected`` is a
plain bool, so a stored pipeline records what was in force. A protected
environment deploys only with a deployer registered on the server
(``deployer: {ref: NAME}``) and may not run a verify command of its own
(``rules_problems`` says where); weakening it needs a reviewed change
(relgate.promotion.protection).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relgate.deploy.config import (
    CommandVerifySpec,
    DeployerRef,
    DeployerSpec,
    FakeDeployerSpec,
    RecordDeployerSpec,
    VerifySpec,
)
from relgate.promotion.gates import GateSpec

ENV_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}\Z")
OCI_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\Z")
DEFAULT_STABLE_TAG = "stable"


class EnvironmentSpec(BaseModel):
    """One stage of a service's pipeline."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="dev, staging, production, ...")
    gates: list[GateSpec] = Field(
        default_factory=list, description="Every gate must pass before a release enters."
    )
    deployer: DeployerSpec | None = Field(
        default=None,
        description="How a release is put here; `{type: record}`: nothing is deployed. "
        "relgate.yaml must name one (a pipeline stored without one deploys as record).",
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
    protected: bool | None = Field(
        default=None,
        description="Weakening it needs another person's approval; default: true for the "
        "last environment, false for the others.",
    )
    # -- issue 8 (oci): the registry's stable tag (relgate.deploy.oci.RegistryStableTagger)
    stable_tag: str | bool | None = Field(
        default=None,
        description="The tag a verified deployment here moves to its digest in the artifact's "
        "registry (when the server configures it); default: `stable` for the last environment, "
        "none for the others; false or null: no tag.",
    )

    @field_validator("stable_tag")
    @classmethod
    def _stable_tag(cls, value: str | bool | None) -> str | bool | None:
        if isinstance(value, str) and not OCI_TAG.match(value):
            raise ValueError(
                "must be an OCI tag: letters, digits, '_', '.' or '-', at most 128, "
                "not starting with '.' or '-'"
            )
        return value

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
        last = len(self.environments) - 1
        for index, env in enumerate(self.environments):
            if env.protected is None:
                # production is the end of the pipeline: protected unless it says otherwise
                env.protected = index == last
            # issue 8 (oci): after validation stable_tag is a tag or None, as stored
            if env.stable_tag is True or (
                "stable_tag" not in env.model_fields_set and index == last
            ):
                env.stable_tag = DEFAULT_STABLE_TAG
            elif env.stable_tag is False:
                env.stable_tag = None
        return self

    def is_protected(self, name: str) -> bool:
        """Whether the environment ``name`` is protected (False for an unknown name)."""
        env = self.environment(name)
        return bool(env is not None and env.protected)

    def rules_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Return what relgate.yaml may not say, as (location, message) pairs, in file order.

        Every environment names its deployer (``{type: record}`` when nothing is
        deployed there); a rollback_rehearsed gate names an earlier environment. A
        protected environment must deploy with a registered deployer and may not
        bring a verify command of its own.
        """
        from relgate.promotion.rehearsal import RollbackRehearsedGate, placement_problem

        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, env in enumerate(self.environments):
            where: tuple[str | int, ...] = ("environments", index)
            earlier = [e.name for e in self.environments[:index]]
            for number, gate in enumerate(env.gates):
                if isinstance(gate, RollbackRehearsedGate) and (
                    problem := placement_problem(gate, env.name, earlier)
                ):
                    problems.append(((*where, "gates", number, "in"), problem))
            if env.deployer is None:
                problems.append(
                    (
                        where,
                        f"environment {env.name!r} has no deployer: say how a release gets "
                        "there (`deployer: {type: command, ...}` or `deployer: {ref: NAME}`), "
                        "or write `deployer: {type: record}` to record deployments there "
                        "without deploying anything",
                    )
                )
            if not env.protected:
                continue
            # nothing runs for a record (or a test's fake) deployer; any other must be registered
            runs_nothing = DeployerRef | RecordDeployerSpec | FakeDeployerSpec | None
            if not isinstance(env.deployer, runs_nothing):
                problems.append(
                    (
                        (*where, "deployer"),
                        f"{env.name} is protected: its deployer must be one an admin registered "
                        "on the server (`relgate deployers add NAME --type command --command ...`"
                        " or `--type kubernetes --workload ...`), named here as "
                        "`deployer: {ref: NAME}`; a deployer of relgate.yaml's own is not run "
                        "there",
                    )
                )
            if isinstance(env.verify, CommandVerifySpec):
                problems.append(
                    (
                        (*where, "verify"),
                        f"{env.name} is protected: it may not run a verify command of "
                        "relgate.yaml's own; use `verify: {type: http, ...}`, or the "
                        "`--verify-command` of its registered deployer (leave `verify:` out)",
                    )
                )
        return problems

    def deployer_refs(self) -> list[tuple[int, str]]:
        """Return (environment index, registered deployer name) of every ``deployer: {ref}``."""
        return [
            (index, env.deployer.ref)
            for index, env in enumerate(self.environments)
            if isinstance(env.deployer, DeployerRef)
        ]

    def environment(self, name: str) -> EnvironmentSpec | None:
        """Return the environment called ``name``, or None."""
        return next((env for env in self.environments if env.name == name), None)

    def previous(self, name: str) -> EnvironmentSpec | None:
        """Return the environment before ``name`` in the pipeline (None for the first)."""
        names = [env.name for env in self.environments]
        index = names.index(name)
        return self.environments[index - 1] if index > 0 else None


def deployer_label(env: EnvironmentSpec | None) -> str:
    """How an environment deploys, as status and history show it.

    ``record`` for an environment that only records deployments (also a
    pipeline stored before ``deployer:`` was required), ``ref NAME`` for a
    deployer registered on the server, else the deployer's type.
    """
    if env is None or env.deployer is None:
        return "record"
    if isinstance(env.deployer, DeployerRef):
        return f"ref {env.deployer.ref}"
    return str(getattr(env.deployer, "type", "?"))
