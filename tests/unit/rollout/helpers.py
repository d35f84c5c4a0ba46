"""Specs, results and a fake traffic book for the rollout tests."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from relgate.analysis.model import Action, AnalysisResult, Verdict
from relgate.manifest.loader import load_text
from relgate.rollout.commands import (
    AllToStable,
    RouterCommand,
    ScaleDownOld,
    SetCanaryWeight,
    SwitchTo,
)
from relgate.rollout.config import RolloutSpec
from relgate.rollout.model import Rollout
from relgate.routing.ports import Colour

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

ANALYSIS = """\
interval: 30s
count: 4
metrics:
  - name: error-ratio
    provider:
      type: prometheus
      address: http://127.0.0.1:9090
      query: sum(rate(errors{version="{{version}}"}[{{window}}]))
    threshold: {max: 0.01}
"""

CANARY_ROUTER = (
    "router: {type: haproxy, socket: /run/haproxy/admin.sock, backend: shop, "
    "stable_server: stable, canary_server: canary}\n"
)
BLUE_GREEN_ROUTER = (
    "router: {type: haproxy, socket: /run/haproxy/admin.sock, backend: shop, "
    "blue_server: blue, green_server: green}\n"
)


class Environment(BaseModel):
    """How an environment of relgate.yaml will embed the block."""

    model_config = ConfigDict(extra="forbid")

    rollout: RolloutSpec


def load(text: str) -> Environment:
    return load_text(Environment, textwrap.dedent(text), "relgate.yaml")


def indent(text: str, by: int) -> str:
    return textwrap.indent(text, " " * by)


def canary_yaml(steps: str, *, analysis: bool = True, on: str = "") -> str:
    text = "rollout:\n  strategy: canary\n  steps:\n" + indent(steps, 4)
    if analysis:
        text += "  analysis:\n" + indent(ANALYSIS + on, 4)
    return text + indent(CANARY_ROUTER, 2)


STEPS = """\
- {weight: 5, pause: 2m}
- {weight: 25, pause: 5m}
- {weight: 50, pause: 5m}
"""


def canary(
    steps: str = STEPS, *, analysis: bool = True, on: str = "", at: datetime = T0
) -> Rollout:
    spec = load(canary_yaml(steps, analysis=analysis, on=on)).rollout
    return Rollout.create(
        spec,  # type: ignore[arg-type]
        service="shop",
        environment="production",
        stable_version="1.0.0",
        canary_version="1.1.0",
        now=at,
    )


def blue_green_yaml(
    *, pre: bool = True, post: bool = True, auto_promote: bool = True, delay: str = "10m"
) -> str:
    text = "rollout:\n  strategy: blue_green\n" + indent(BLUE_GREEN_ROUTER, 2)
    if pre:
        text += "  pre_promotion_analysis:\n" + indent(ANALYSIS, 4)
    if post:
        text += "  post_promotion_analysis:\n" + indent(ANALYSIS, 4)
    return text + f"  scale_down_delay: {delay}\n  auto_promote: {str(auto_promote).lower()}\n"


def blue_green(
    *, pre: bool = True, post: bool = True, auto_promote: bool = True, delay: str = "10m"
) -> Rollout:
    spec = load(blue_green_yaml(pre=pre, post=post, auto_promote=auto_promote, delay=delay)).rollout
    return Rollout.create(
        spec,  # type: ignore[arg-type]
        service="shop",
        environment="production",
        stable_version="1.0.0",
        canary_version="1.1.0",
        now=T0,
        live=Colour.BLUE,
    )


def result(verdict: Verdict, reason: str = "") -> AnalysisResult:
    # the action the run computed is deliberately wrong: the rollout applies its own table
    return AnalysisResult(verdict=verdict, action=Action.CONTINUE, reason=reason or str(verdict))


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


class Traffic:
    """What a router does after executing the commands in order (a canary or a colour pair)."""

    def __init__(self) -> None:
        self.canary_weight = 0
        self.live = Colour.BLUE
        self.scaled_down: list[Colour] = []

    def run(self, commands: list[RouterCommand]) -> None:
        for command in commands:
            if isinstance(command, SetCanaryWeight):
                self.canary_weight = command.weight
            elif isinstance(command, AllToStable):
                self.canary_weight = 0
            elif isinstance(command, SwitchTo):
                self.live = command.colour
            elif isinstance(command, ScaleDownOld):
                assert command.colour is not self.live, "scaled down the live colour"
                self.scaled_down.append(command.colour)
