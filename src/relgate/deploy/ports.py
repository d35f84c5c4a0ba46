"""The seams between the deployment state machine and the systems it drives.

A deployer puts one release into one environment; a verifier checks that what
now runs there is healthy. Both answer with a :class:`StepOutcome` value: a
failing command or an unhealthy service is an expected outcome, not an
exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

LogSink = Callable[[str], None]
"""Receives output lines, without their line ending, in the order they came."""


@dataclass(frozen=True)
class DeployRequest:
    """One attempt to put ``version`` (bound to ``artifact``) into ``environment``."""

    deployment_id: str
    service: str
    environment: str
    version: str
    artifact: str
    """Digest-pinned reference, e.g. ``registry.example/payments@sha256:<64 hex>``."""
    previous_artifact: str | None
    """What runs in the environment now; None on the first deployment."""
    reason: str
    """``promote``, ``hotfix``, ``rollback``, ``auto-promote`` or ``auto-rollback``."""
    fence: str = ""
    """Fencing token: ``<deployment id>.<attempt>``. A deployer that writes somewhere
    that can check it (a git branch, a Kubernetes object) records it and refuses to
    overwrite a newer attempt's write; empty in requests made outside a job."""
    workdir: Path | None = None
    """A working folder of this deployment's own (created before, removed after)."""
    previous_version: str | None = None
    """The version running in the environment now; None on the first deployment."""


def pause(seconds: float, cancel: threading.Event | None) -> bool:
    """Wait ``seconds`` between two checks of a step; return True when cancelled meanwhile."""
    if cancel is None:
        threading.Event().wait(seconds)
        return False
    return cancel.wait(seconds)


@dataclass(frozen=True)
class StepOutcome:
    """How a deploy or verify step ended, with a reason a person can act on."""

    succeeded: bool
    reason: str
    exit_code: int | None = None


class Deployer(Protocol):
    """Puts a release into an environment."""

    def deploy(
        self, request: DeployRequest, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Deploy ``request``, streaming output lines to ``log``.

        Returns the outcome; never raises for a failing deployment. When
        ``cancel`` is set the step stops and returns ``StepOutcome(False, "cancelled")``.
        """
        ...


class Verifier(Protocol):
    """Checks that what was just deployed is healthy."""

    def verify(
        self, request: DeployRequest, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Verify ``request``'s deployment, logging each check to ``log``.

        Returns the outcome; never raises for an unhealthy service. When
        ``cancel`` is set the step stops and returns ``StepOutcome(False, "cancelled")``.
        """
        ...


class StableTagger(Protocol):
    """Moves an environment's stable tag in the artifact registry (the rollback anchor).

    Called after a deployment verified healthy, with the tag the environment
    names; never raises for a registry that refuses: returns the outcome.
    """

    def move_stable(self, request: DeployRequest, tag: str, log: LogSink) -> StepOutcome: ...
