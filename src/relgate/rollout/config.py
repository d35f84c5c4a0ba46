"""The ``rollout:`` block of an environment in relgate.yaml (docs/rollout.md is its reference).

rollout: {strategy: all_at_once}                      # the default: as deployments run today
rollout:
  strategy: canary
  steps:                                              # weights strictly increasing, 1..99
    - {weight: 5, pause: 2m}                          # hold 2 minutes, then the analysis
    - {weight: 25, pause: manual}                     # hold until a person resumes
  analysis: {...}                                     # relgate.analysis.config.AnalysisSpec
  router: {...}                                       # relgate.routing.config.RouterSpec
rollout:
  strategy: blue_green
  router: {...}                                       # blue_server/green_server (or _service)
  pre_promotion_analysis: {...}
  post_promotion_analysis: {...}
  scale_down_delay: 10m
  auto_promote: true

Not read by relgate.yaml yet: ``EnvironmentSpec`` does not accept ``rollout:``
until the deployment worker drives :class:`relgate.rollout.model.Rollout`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
)

from relgate.analysis.config import AnalysisSpec
from relgate.analysis.durations import parse_duration
from relgate.routing.config import RouterSpec
from relgate.routing.ports import RoutingMode

MANUAL: Final = "manual"
MAX_STEPS: Final = 50
STRATEGIES: Final = ("all_at_once", "canary", "blue_green")

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


def _pause(value: Any) -> Any:
    if value == MANUAL:
        return MANUAL
    if isinstance(value, dict):
        raise ValueError(
            "write `pause: manual` to wait for a person (relgate does not read Argo's "
            "`pause: {}`), or a duration such as 2m"
        )
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{exc} (or `manual`: wait for a person)") from None


def _duration(value: Any) -> Any:
    return parse_duration(value)


class CanaryStep(BaseModel):
    """One step: send ``weight`` % to the canary, hold for ``pause``, then analyse."""

    model_config = _STRICT

    weight: int = Field(
        ge=1, le=99, description="The canary's share of new requests, 1 to 99 %, during the step."
    )
    pause: float | Literal["manual"] = Field(
        description="How long the step holds at its weight before its analysis runs (a "
        "duration such as 2m), or `manual`: until a person resumes."
    )

    @field_validator("pause", mode="before")
    @classmethod
    def _read_pause(cls, value: Any) -> Any:
        return _pause(value)

    @property
    def manual(self) -> bool:
        """True when the step waits for a person instead of a timer."""
        return self.pause == MANUAL

    @property
    def pause_seconds(self) -> float | None:
        """The timed pause in seconds; None for a manual one."""
        return None if isinstance(self.pause, str) else self.pause


class AllAtOnceSpec(BaseModel):
    """``strategy: all_at_once``: the release takes every request when deployed (the default)."""

    model_config = _STRICT

    strategy: Literal["all_at_once"] = "all_at_once"


def _router_mode(router: Any, wanted: RoutingMode, strategy: str, hint: str) -> None:
    if router.mode is not wanted:
        raise ValueError(
            f"a {strategy} needs a router in {wanted} mode ({hint}); this "
            f"{router.type} router is configured for {router.mode} routing"
        )


class CanarySpec(BaseModel):
    """``strategy: canary``: growing shares of traffic, each step judged by the analysis."""

    model_config = _STRICT

    strategy: Literal["canary"]
    steps: list[CanaryStep] = Field(
        min_length=1,
        max_length=MAX_STEPS,
        description="The steps, weights strictly increasing; after the last, the canary "
        "takes 100 % (the full promotion).",
    )
    analysis: AnalysisSpec | None = Field(
        default=None,
        description="Run at the end of each step's pause; its `on:` table turns the verdict "
        "into continue, pause or abort. None: a step ends when its pause does.",
    )
    router: RouterSpec = Field(description="Moves the traffic (stable_* and canary_* names).")

    @field_validator("steps")
    @classmethod
    def _growing(cls, steps: list[CanaryStep]) -> list[CanaryStep]:
        for index in range(1, len(steps)):
            before, now = steps[index - 1].weight, steps[index].weight
            if now <= before:
                raise ValueError(
                    f"steps[{index}].weight {now} is not more than steps[{index - 1}].weight "
                    f"{before}: weights must grow strictly"
                )
        return steps

    @field_validator("router")
    @classmethod
    def _canary_router(cls, router: Any) -> Any:
        _router_mode(router, RoutingMode.CANARY, "canary", "stable_* and canary_* names")
        return router


class BlueGreenSpec(BaseModel):
    """``strategy: blue_green``: the idle colour gets the release, then all traffic at once."""

    model_config = _STRICT

    strategy: Literal["blue_green"]
    router: RouterSpec = Field(description="Switches the traffic (blue_* and green_* names).")
    pre_promotion_analysis: AnalysisSpec | None = Field(
        default=None,
        description="Run against the idle colour before the switch (its own traffic: a "
        "preview address, synthetic checks).",
    )
    post_promotion_analysis: AnalysisSpec | None = Field(
        default=None,
        description="Run after the switch; a failure switches back while the old colour is up.",
    )
    scale_down_delay: float = Field(
        default=600.0,
        description="How long the old colour stays up after the switch, as the instant revert.",
    )
    auto_promote: bool = Field(
        default=True,
        description="Switch as soon as the pre-promotion analysis passes; false: wait for a "
        "person to promote.",
    )

    @field_validator("scale_down_delay", mode="before")
    @classmethod
    def _read_delay(cls, value: Any) -> Any:
        return _duration(value)

    @field_validator("router")
    @classmethod
    def _blue_green_router(cls, router: Any) -> Any:
        _router_mode(router, RoutingMode.BLUE_GREEN, "blue-green", "blue_* and green_* names")
        return router


def _strategy_of(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("strategy", "all_at_once")
    return getattr(value, "strategy", None)


RolloutSpec = Annotated[
    Annotated[AllAtOnceSpec, Tag("all_at_once")]
    | Annotated[CanarySpec, Tag("canary")]
    | Annotated[BlueGreenSpec, Tag("blue_green")],
    Field(
        discriminator=Discriminator(
            _strategy_of,
            custom_error_type="invalid_strategy",
            custom_error_message=f"strategy must be one of: {', '.join(STRATEGIES)}",
        )
    ),
]
"""An environment's ``rollout:``: the spec of its ``strategy`` (all_at_once when left out)."""

ProgressiveSpec = CanarySpec | BlueGreenSpec
"""The strategies a :class:`relgate.rollout.model.Rollout` runs."""

_ADAPTER: TypeAdapter[AllAtOnceSpec | CanarySpec | BlueGreenSpec] = TypeAdapter(RolloutSpec)


def parse_rollout(data: Any) -> AllAtOnceSpec | CanarySpec | BlueGreenSpec:
    """Validate a ``rollout:`` mapping (raises pydantic's ValidationError; the manifest
    loader turns that into an error naming the file, line and field)."""
    return _ADAPTER.validate_python(data)


def dump_rollout(spec: AllAtOnceSpec | CanarySpec | BlueGreenSpec) -> dict[str, Any]:
    """The spec as JSON-ready data that :func:`parse_rollout` reads back to an equal spec."""
    data: dict[str, Any] = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data
