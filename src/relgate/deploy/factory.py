"""Build the deployer and verifier an environment's configuration asks for."""

from __future__ import annotations

from pathlib import Path

from relgate.deploy.command import CommandDeployer
from relgate.deploy.config import (
    CommandDeployerSpec,
    CommandVerifySpec,
    DeployerSpec,
    HttpVerifySpec,
    VerifySpec,
)
from relgate.deploy.ports import Deployer, Verifier
from relgate.deploy.verify import CommandVerifier, HttpVerifier


def build_deployer(spec: DeployerSpec, *, base_dir: Path) -> Deployer:
    """Return the deployer for ``spec``; relative commands and cwd resolve against ``base_dir``.

    ``base_dir`` is the directory holding relgate.yaml. A ``{ref: NAME}`` must
    be resolved to the registered definition's spec first (the worker does);
    otherwise raises nothing: a spec that validated can always be built (a
    missing program shows when it runs).
    """
    if not isinstance(spec, CommandDeployerSpec):
        raise AssertionError(f"resolve the registered deployer {spec!r} first")
    return CommandDeployer(spec, base_dir=base_dir)


def build_verifier(spec: VerifySpec | None, *, base_dir: Path) -> Verifier | None:
    """Return the verifier for ``spec``, or None when the environment has no ``verify:``.

    With no verifier, a successful deployment counts as verified.
    """
    if spec is None:
        return None
    if isinstance(spec, HttpVerifySpec):
        return HttpVerifier(spec)
    if isinstance(spec, CommandVerifySpec):
        return CommandVerifier(spec, base_dir=base_dir)
    raise AssertionError(f"unknown verify spec {spec!r}")  # pragma: no cover
