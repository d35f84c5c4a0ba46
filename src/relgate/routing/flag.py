"""The ``flag`` router: an in-application canary through a feature flag's gradual rollout.

One artifact carries both paths; the flag's "on" path is the canary. A canary
weight is the rollout percentage of the flag's ``flexibleRollout`` strategy in
one flags environment, sticky on ``userId`` (or the configured field): a user's
bucket is a hash of that field and the flag, so a user who got the canary at
5 % still gets it at 25 %. All to stable turns the flag off in the environment
at once (its strategies are kept, as ``relgate flags disable`` does).

Changes go through :class:`FlagService` as the principal ``relgate`` (an
admin robot, as the deployment worker acts), so each is audited
(``flag.rolled_out``, ``flag.disabled`` by relgate) and reaches the SDKs as any
other flag change does: on their next poll, or at once over the stream.
The state read back is the flag's stored configuration, which is what the
SDKs are served.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relgate.auth.model import Principal, Role
from relgate.flags.service import FlagService
from relgate.routing.config import FlagRouterSpec
from relgate.routing.ports import (
    Colour,
    RouteState,
    RoutingMode,
    Target,
    TargetState,
    check_weight,
    require_mode,
)

RELGATE = Principal(name="relgate", role=Role.ADMIN)
"""Who changes the flag: relgate itself, as the deployment worker acts."""


class FlagRouter:
    """Routes a canary through a feature flag (see the module's docstring)."""

    mode = RoutingMode.CANARY

    def __init__(
        self,
        spec: FlagRouterSpec,
        flags: FlagService,
        *,
        environment: str,
        principal: Principal = RELGATE,
    ) -> None:
        self._key = spec.flag
        self._environment = spec.environment or environment
        self._stickiness = spec.stickiness
        self._flags = flags
        self._principal = principal
        self.name = f"flag {self._key} in {self._environment}"

    def set_canary_weight(self, weight: int) -> RouteState:
        """Roll the flag out to ``weight`` % (and turn it on). See TrafficRouter.

        Raises ``NotFound`` for an unknown flag, ``Conflict`` for an archived one.
        """
        check_weight(weight)
        self._flags.rollout(
            self._principal, self._key, self._environment, weight, stickiness=self._stickiness
        )
        return self.state()

    def all_to_stable(self) -> RouteState:
        """Turn the flag off in the environment, in one change. See TrafficRouter."""
        self._flags.disable(self._principal, self._key, self._environment)
        return self.state()

    def switch_to(self, colour: Colour) -> RouteState:
        """Always raises BadInput: a flag router does canaries only."""
        require_mode(self.mode, RoutingMode.BLUE_GREEN, "switch colours", self.name)
        raise AssertionError("unreachable")

    def state(self) -> RouteState:
        """The share the flag's stored configuration gives the "on" path. Raises ``NotFound``."""
        view = self._flags.get_flag(self._principal, self._key)
        notes: list[str] = []
        if view.archived_at is not None:
            notes.append(f"flag {self._key} is archived")
        config = view.environments.get(self._environment)
        if config is None:
            share, more = 0, [f"flag {self._key} is not configured in {self._environment} (off)"]
        elif not config.enabled:
            share, more = 0, [f"flag {self._key} is off in {self._environment}"]
        else:
            share, more = _share(config.strategies, self._stickiness)
        notes.extend(more)
        targets = (
            TargetState(
                Target.STABLE, f"{self._key} off", 100 - share, share < 100, "the flag's off path"
            ),
            TargetState(Target.CANARY, f"{self._key} on", share, share > 0, "the flag's on path"),
        )
        return RouteState(router=self.name, targets=targets, notes=tuple(notes))


def _share(strategies: list[dict[str, Any]], stickiness: str) -> tuple[int, list[str]]:
    """The percentage an enabled flag's unconstrained strategies turn on, and the caveats.

    Unleash turns a flag on when any active strategy does: a ``default``
    strategy means everyone, a ``flexibleRollout`` its percentage; a strategy
    with constraints or segments adds the users it matches, which no share tells.
    """
    if not strategies:
        return 100, []
    share = 0
    notes: list[str] = []
    rollouts = 0
    for index, strategy in enumerate(strategies):
        if strategy.get("disabled"):
            continue
        name = strategy.get("name")
        parameters = strategy.get("parameters")
        parameters = parameters if isinstance(parameters, Mapping) else {}
        if strategy.get("constraints") or strategy.get("segments"):
            notes.append(
                f"strategy {index} ({name}) has constraints: it turns the flag on for the "
                "users it matches, beyond the share"
            )
            continue
        if name == "default":
            share = 100
        elif name == "flexibleRollout":
            rollouts += 1
            percentage = _percentage(parameters.get("rollout"))
            share = max(share, percentage)
            used = parameters.get("stickiness") or "default"
            if used != stickiness:
                notes.append(
                    f"strategy {index} is sticky on {used!r}, not {stickiness!r}: a user may "
                    "change sides as the share changes"
                )
        else:
            notes.append(f"strategy {index} ({name}) turns the flag on for users no share tells")
    if rollouts > 1:
        notes.append(f"{rollouts} rollout strategies: the share shown is the largest")
    return share, notes


def _percentage(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        return 0
    return min(100, max(0, number))
