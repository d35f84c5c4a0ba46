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


@dataclass(frozen=True)
class RollbackTarget:
    """What ``relgate rollback SERVICE ENV`` would deploy now, read without changing anything.

    ``version`` is the release a rollback redeploys (``stable`` says whether it is
    the environment's stable anchor), or None with ``reason`` saying why there is
    nothing to roll back to. ``blocked`` is set when a running deployment holds
    the environment: a rollback now would be refused with that message.
    """

    service: str
    environment: str
    version: str | None
    stable: bool = False
    reason: str = ""
    blocked: str = ""


@dataclass(frozen=True)
class LogSlice:
    """A part of a deployment's log: the text after the offset a reader had, up to ``end``.

    ``end`` is the offset to ask from next time. ``skipped`` says the text does
    not continue what the reader had: earlier output was left out (more than
    the slice's limit came since, or the stored log dropped its head at its
    size limit), so a reader replaces what it shows instead of appending.
    """

    text: str
    end: int
    skipped: bool = False


@dataclass(frozen=True)
class TimelineStep:
    """One state a deployment reached (or is in): when, and what was said about it."""

    state: str
    at: datetime | None
    detail: str = ""
    current: bool = False
