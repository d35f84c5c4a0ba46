"""Deployers and verifiers: the adapters that put a release into an environment and check it."""

from __future__ import annotations

from relgate.deploy.command import CommandDeployer
from relgate.deploy.config import (
    CommandDeployerSpec,
    CommandVerifySpec,
    DeployerSpec,
    GitopsDeployerSpec,
    HttpVerifySpec,
    VerifySpec,
)
from relgate.deploy.factory import build_deployer, build_verifier
from relgate.deploy.gitops import GitOpsDeployer
from relgate.deploy.ports import Deployer, DeployRequest, LogSink, StepOutcome, Verifier
from relgate.deploy.verify import CommandVerifier, HttpVerifier

__all__ = [
    "CommandDeployer",
    "CommandDeployerSpec",
    "CommandVerifier",
    "CommandVerifySpec",
    "DeployRequest",
    "Deployer",
    "DeployerSpec",
    "GitOpsDeployer",
    "GitopsDeployerSpec",
    "HttpVerifier",
    "HttpVerifySpec",
    "LogSink",
    "StepOutcome",
    "Verifier",
    "VerifySpec",
    "build_deployer",
    "build_verifier",
]
