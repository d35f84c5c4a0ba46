"""The registry of deployer and verifier types: chosen in the composition root, by ``type``.

bootstrap.py builds one :class:`DeployerRegistry` with every type the server
knows (``command``, ``kubernetes``, ``gitops``, ``record``; tests add ``fake``)
and hands it to the worker. The worker asks it for the deployer of a resolved
spec; nothing else maps a YAML ``type`` to a class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from relgate.deploy.command import CommandDeployer
from relgate.deploy.config import (
    CommandDeployerSpec,
    CommandVerifySpec,
    GitopsDeployerSpec,
    HttpVerifySpec,
    KubernetesDeployerSpec,
)
from relgate.deploy.gitops import GitOpsDeployer
from relgate.deploy.kubernetes import KubernetesDeployer
from relgate.deploy.ports import Deployer, Verifier
from relgate.deploy.record import RecordDeployer
from relgate.deploy.verify import CommandVerifier, HttpVerifier


@dataclass(frozen=True)
class BuildContext:
    """What a builder may use besides the spec."""

    base_dir: Path
    """The folder relative paths of relgate.yaml resolve against."""
    environ: Mapping[str, str] = field(default_factory=dict)
    """The server's environment (for ``env_allow`` and secrets)."""


DeployerBuilder = Callable[[Any, BuildContext], Deployer]
VerifierBuilder = Callable[[Any, BuildContext], Verifier]


class DeployerRegistry:
    """Maps a spec's ``type`` to the code that builds its deployer or verifier."""

    def __init__(self) -> None:
        self._deployers: dict[str, DeployerBuilder] = {}
        self._verifiers: dict[str, VerifierBuilder] = {}

    def add_deployer(self, type_: str, builder: DeployerBuilder) -> None:
        self._deployers[type_] = builder

    def add_verifier(self, type_: str, builder: VerifierBuilder) -> None:
        self._verifiers[type_] = builder

    @property
    def deployer_types(self) -> list[str]:
        return sorted(self._deployers)

    def deployer(self, spec: Any, context: BuildContext) -> Deployer:
        """Build the deployer for a resolved spec (a ``{ref}`` must be resolved first).

        Raises KeyError naming the type when this server has no such deployer type.
        """
        type_ = getattr(spec, "type", None)
        if type_ not in self._deployers:
            raise KeyError(f"this server has no deployer of type {type_!r}")
        return self._deployers[type_](spec, context)

    def verifier(self, spec: Any | None, context: BuildContext) -> Verifier | None:
        """Build the verifier for ``spec``, or None when there is no ``verify:``."""
        if spec is None:
            return None
        type_ = getattr(spec, "type", None)
        if type_ not in self._verifiers:
            raise KeyError(f"this server has no verifier of type {type_!r}")
        return self._verifiers[type_](spec, context)


def default_registry(data_dir: Path | None = None) -> DeployerRegistry:
    """Every deployer and verifier type a relgate server offers.

    ``data_dir`` is the server's data folder: the gitops deployer clones under
    its ``gitops/`` when a deployment has no working folder of its own.
    """
    registry = DeployerRegistry()
    registry.add_deployer(
        "command",
        lambda spec, ctx: CommandDeployer(_as(spec, CommandDeployerSpec), base_dir=ctx.base_dir),
    )
    registry.add_deployer(
        "kubernetes",
        lambda spec, ctx: KubernetesDeployer(
            _as(spec, KubernetesDeployerSpec), base_dir=ctx.base_dir, environ=ctx.environ
        ),
    )
    # the health check runs in the deployer, after the push: it needs the pushed commit
    registry.add_deployer(
        "gitops",
        lambda spec, ctx: GitOpsDeployer(
            _as(spec, GitopsDeployerSpec),
            base_dir=ctx.base_dir,
            environ=ctx.environ,
            cache_dir=data_dir / "gitops" if data_dir is not None else None,
        ),
    )
    registry.add_deployer("record", lambda spec, ctx: RecordDeployer())
    registry.add_verifier("http", lambda spec, ctx: HttpVerifier(_as(spec, HttpVerifySpec)))
    registry.add_verifier(
        "command",
        lambda spec, ctx: CommandVerifier(_as(spec, CommandVerifySpec), base_dir=ctx.base_dir),
    )
    return registry


_T = TypeVar("_T")


def _as(spec: Any, kind: type[_T]) -> _T:
    if not isinstance(spec, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(spec).__name__}")
    return spec


def build_deployer(spec: Any, *, base_dir: Path) -> Deployer:
    """The deployer for ``spec`` from the default registry (kept for callers outside the worker)."""
    return default_registry().deployer(spec, BuildContext(base_dir=base_dir))


def build_verifier(spec: Any | None, *, base_dir: Path) -> Verifier | None:
    """The verifier for ``spec`` from the default registry, or None without ``verify:``."""
    return default_registry().verifier(spec, BuildContext(base_dir=base_dir))
