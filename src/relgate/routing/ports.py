"""The traffic routing port: how much of a service's traffic goes to which release.

A :class:`TrafficRouter` works in one of two modes, fixed by its configuration:

- ``canary``: a *stable* and a *canary* target; the canary gets a share of the
  traffic from 0 to 100 %, and an abort sends everything to stable at once;
- ``blue_green``: a *blue* and a *green* target; all traffic goes to one
  colour, and a switch moves it to the other at once (and back).

Every write answers with the state read back from the router afterwards (what
the router really does, not what relgate asked), so the caller can check it.
Errors: ``BadInput`` for a weight outside 0..100 or an operation of the other
mode; :class:`RoutingError` (an ``ExternalError``) when the router cannot be
reached, refuses, or answers something unexpected.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from relgate.errors import BadInput, ExternalError


class RoutingError(ExternalError):
    """The router could not be reached, refused a change, or answered unexpectedly."""

    code = "routing_error"


class RoutingMode(StrEnum):
    CANARY = "canary"
    BLUE_GREEN = "blue_green"


class Target(StrEnum):
    """What a routed destination is to relgate."""

    STABLE = "stable"
    CANARY = "canary"
    BLUE = "blue"
    GREEN = "green"


class Colour(StrEnum):
    BLUE = "blue"
    GREEN = "green"

    @property
    def target(self) -> Target:
        return Target(self.value)

    @property
    def other(self) -> Colour:
        return Colour.GREEN if self is Colour.BLUE else Colour.BLUE


@dataclass(frozen=True)
class TargetState:
    """One destination as the router reports it.

    ``target`` is None for a destination relgate does not manage (another
    server of the same HAProxy backend): it still takes its share. ``serving``
    says whether it takes new requests (up, not drained, not in maintenance,
    weight above 0); ``detail`` is the router's own words for its state.
    """

    target: Target | None
    name: str
    weight: int
    serving: bool
    detail: str = ""


@dataclass(frozen=True)
class RouteState:
    """What the router does now: its destinations, and anything a person should know."""

    router: str
    """Which router this is, e.g. ``haproxy backend app at /run/haproxy/admin.sock``."""
    targets: tuple[TargetState, ...]
    notes: tuple[str, ...] = ()
    """Facts that qualify the shares (a server down, a route not accepted, rules that differ)."""

    def share(self, target: Target) -> float:
        """The percentage (0..100) of new requests ``target`` receives, by the serving weights."""
        total = sum(t.weight for t in self.targets if t.serving)
        if total <= 0:
            return 0.0
        mine = sum(t.weight for t in self.targets if t.serving and t.target is target)
        return 100.0 * mine / total

    @property
    def canary_share(self) -> float:
        return self.share(Target.CANARY)

    @property
    def live(self) -> Colour | None:
        """The colour that receives every new request, or None when none does alone."""
        for colour in Colour:
            if self.share(colour.target) == 100.0:
                return colour
        return None

    def describe(self) -> str:
        """One line for a log: each destination's share and state, then the notes."""
        parts = [
            f"{t.target or 'other'} {t.name}: weight {t.weight}"
            + (f" ({t.detail})" if t.detail else "")
            + ("" if t.serving else ", not serving")
            for t in self.targets
        ]
        text = f"{self.router}: " + "; ".join(parts)
        return text + "".join(f"; {note}" for note in self.notes)


class TrafficRouter(Protocol):
    """Moves a service's traffic between its releases (see the module's docstring)."""

    @property
    def mode(self) -> RoutingMode:
        """The mode the router was configured for."""
        ...

    def set_canary_weight(self, weight: int) -> RouteState:
        """Send ``weight`` % (0..100) of new requests to the canary, the rest to stable.

        Returns the state read back. Raises ``BadInput`` for a weight outside 0..100 or
        a blue-green router, :class:`RoutingError` when the router fails.
        """
        ...

    def all_to_stable(self) -> RouteState:
        """Send every new request to stable at once (an abort); return the state read back.

        Raises ``BadInput`` for a blue-green router, :class:`RoutingError`.
        """
        ...

    def switch_to(self, colour: Colour) -> RouteState:
        """Send every new request to ``colour`` at once; switching back is the revert.

        Returns the state read back. Raises ``BadInput`` for a canary router,
        :class:`RoutingError`.
        """
        ...

    def state(self) -> RouteState:
        """Read what the router does now. Raises :class:`RoutingError`."""
        ...


def check_weight(weight: object) -> int:
    """Return ``weight`` when it is a whole percentage 0..100; raise BadInput else."""
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
        raise BadInput(f"canary weight: {weight!r} is not a whole percentage from 0 to 100")
    return weight


def require_mode(mode: RoutingMode, wanted: RoutingMode, operation: str, router: str) -> None:
    """Raise BadInput when ``operation`` belongs to the other mode than the router's."""
    if mode is not wanted:
        configured = (
            "stable and canary targets" if mode is RoutingMode.CANARY else "blue and green targets"
        )
        raise BadInput(
            f"{router} is configured for {mode} routing ({configured}): it cannot {operation}"
        )
