"""What a rollout asks of the world: router commands, and the events it records (plain data).

A :class:`relgate.rollout.model.Rollout` decides; it never moves traffic itself.
Each operation returns the router commands to issue, in order, and the worker
executes them through the environment's ``TrafficRouter``:

    SetCanaryWeight(n)   router.set_canary_weight(n)
    AllToStable()        router.all_to_stable()
    SwitchTo(colour)     router.switch_to(colour)
    ScaleDownOld(at)     the deployer scales the old colour down (not a router call)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from relgate.routing.ports import Colour


@dataclass(frozen=True)
class SetCanaryWeight:
    """Send ``weight`` % (0..100) of new requests to the canary, the rest to stable."""

    weight: int

    def to_dict(self) -> dict[str, Any]:
        return {"command": "set_canary_weight", "weight": self.weight}


@dataclass(frozen=True)
class AllToStable:
    """Send every new request to stable at once (a canary's abort)."""

    def to_dict(self) -> dict[str, Any]:
        return {"command": "all_to_stable"}


@dataclass(frozen=True)
class SwitchTo:
    """Send every new request to ``colour`` at once (a blue-green switch or its revert)."""

    colour: Colour

    def to_dict(self) -> dict[str, Any]:
        return {"command": "switch_to", "colour": self.colour.value}


@dataclass(frozen=True)
class ScaleDownOld:
    """The old colour is no longer the way back: scale ``colour`` down (due ``at``)."""

    colour: Colour
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"command": "scale_down_old", "colour": self.colour.value, "at": self.at.isoformat()}


RouterCommand = SetCanaryWeight | AllToStable | SwitchTo | ScaleDownOld


def command_from_dict(data: dict[str, Any]) -> RouterCommand:
    """Read back what :meth:`to_dict` wrote."""
    kind = data["command"]
    if kind == "set_canary_weight":
        return SetCanaryWeight(int(data["weight"]))
    if kind == "all_to_stable":
        return AllToStable()
    if kind == "switch_to":
        return SwitchTo(Colour(data["colour"]))
    if kind == "scale_down_old":
        return ScaleDownOld(Colour(data["colour"]), datetime.fromisoformat(data["at"]))
    raise ValueError(f"unknown router command {kind!r}")


class RolloutEventType(StrEnum):
    """What a rollout records; the wiring maps them to notifications and the audit log."""

    STARTED = "rollout.started"
    STEP_STARTED = "rollout.step_started"
    ANALYSIS_STARTED = "rollout.analysis_started"
    ANALYSIS_FINISHED = "rollout.analysis_finished"
    PAUSED = "rollout.paused"
    RESUMED = "rollout.resumed"
    PROMOTING = "rollout.promoting"
    PROMOTED = "rollout.promoted"
    SWITCHED = "rollout.switched"
    SCALED_DOWN = "rollout.scaled_down"
    ABORTED = "rollout.aborted"
    REVERTED = "rollout.reverted"


@dataclass(frozen=True)
class RolloutEvent:
    """One thing that happened to a rollout, with the state it left and the commands it gave.

    ``moves_stable`` is True on exactly one event of a rollout, the one that made
    the new release the stable anchor (``rollout.promoted``; for blue-green the
    ``rollout.scaled_down`` that finished it).
    """

    type: RolloutEventType
    at: datetime
    actor: str
    state: str
    detail: str = ""
    commands: tuple[RouterCommand, ...] = ()
    moves_stable: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "state": self.state,
            "detail": self.detail,
            "commands": [command.to_dict() for command in self.commands],
            "moves_stable": self.moves_stable,
            "data": dict(self.data),
        }
