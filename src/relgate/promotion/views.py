"""What the promotion use cases return: plain data for the API and the CLI to render."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class GateView:
    gate: str
    status: str
    reason: str


@dataclass(frozen=True)
class DeploymentView:
    id: int
    service: str
    environment: str
    version: str
    artifact: str
    author: str | None
    previous_version: str | None
    kind: str
    state: str
    requested_by: str
    reason: str
    outcome: str
    gates: list[GateView]
    approvals: list[dict[str, Any]]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deployer: str | None = None
    """How the environment deployed it, from the pipeline revision it ran under."""


@dataclass(slots=True)
class EnvironmentStatus:
    service: str
    environment: str
    position: int
    current: str | None
    stable: str | None
    pinned: str | None
    last_deployment: int | None
    last_state: str | None
    last_version: str | None
    holder: int | None
    deployer: str | None = None
    """How the environment deploys (``record``, ``command``, ``ref NAME``...)."""
    deploying: str | None = None
    """The version on its way in while a deployment holds the environment."""
    deploying_deployment: int | None = None
    deploying_state: str | None = None


@dataclass(frozen=True)
class GateCheck:
    release: str
    environment: str
    gates: list[GateView]
    waiting_for_approval: bool = False
    passed: bool = field(default=False)
