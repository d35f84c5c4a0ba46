"""A rollout as JSON-ready data and back, for a row's JSON column.

The snapshot holds the rollout's own copy of its ``rollout:`` spec: a rollout
under way keeps the steps and analyses it started with, whatever relgate.yaml
says later. Events are not in it: the worker drains them with each save.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import ValidationError

from relgate.analysis.model import Verdict
from relgate.errors import BadInput
from relgate.rollout.config import BlueGreenSpec, CanarySpec, dump_rollout, parse_rollout
from relgate.rollout.states import AnalysisPhase, PausedBy, RolloutState
from relgate.routing.ports import Colour

if TYPE_CHECKING:
    from relgate.rollout.model import Rollout

VERSION: Final = 1
_TIMES: Final = (
    "created_at",
    "updated_at",
    "step_until",
    "switched_at",
    "scale_down_at",
    "finished_at",
)
_ENUMS: Final[dict[str, type[StrEnum]]] = {
    "state": RolloutState,
    "stable_colour": Colour,
    "live": Colour,
    "paused_by": PausedBy,
    "paused_from": RolloutState,
    "analysis_phase": AnalysisPhase,
    "last_verdict": Verdict,
}
_TEXTS: Final = (
    "service",
    "environment",
    "stable_version",
    "canary_version",
    "pause_reason",
    "paused_actor",
    "last_analysis_reason",
    "outcome",
)
_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")


def dump(rollout: Rollout) -> dict[str, Any]:
    """The rollout's state, JSON-ready."""
    data: dict[str, Any] = {"snapshot": VERSION, "spec": dump_rollout(rollout.spec)}
    for name in _TEXTS:
        data[name] = getattr(rollout, name)
    for name in _ENUMS:
        value = getattr(rollout, name)
        data[name] = None if value is None else value.value
    for name in _TIMES:
        moment = getattr(rollout, name)
        data[name] = None if moment is None else moment.isoformat()
    data.update(
        step=rollout.step,
        canary_weight=rollout.canary_weight,
        remaining_seconds=rollout.remaining_seconds,
        analysis_attempt=rollout.analysis_attempt,
        analysis_running=rollout.analysis_running,
    )
    return data


def load(data: Any) -> Rollout:
    """Read back :func:`dump`; BadInput naming the field that is wrong."""
    from relgate.rollout.model import Rollout

    if not isinstance(data, dict):
        raise BadInput("rollout snapshot: must be a mapping")
    if data.get("snapshot") != VERSION:
        raise BadInput(
            f"rollout snapshot: snapshot must be {VERSION}, not {data.get('snapshot')!r}"
        )
    try:
        spec = parse_rollout(data.get("spec"))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadInput(f"rollout snapshot: spec.{where}: {first['msg']}") from None
    if not isinstance(spec, CanarySpec | BlueGreenSpec):
        raise BadInput("rollout snapshot: spec: strategy all_at_once has no rollout")
    fields: dict[str, Any] = {"spec": spec}
    for name in _TEXTS:
        fields[name] = _field(data, name, lambda v: v if isinstance(v, str) else _no("a string"))
    for name, kind in _ENUMS.items():
        fields[name] = _optional(data, name, _enum(kind))
    for name in _TIMES:
        fields[name] = _optional(data, name, _time)
    fields["step"] = _optional(data, "step", _count)
    fields["canary_weight"] = _field(data, "canary_weight", _weight)
    fields["remaining_seconds"] = _optional(data, "remaining_seconds", _seconds)
    fields["analysis_attempt"] = _field(data, "analysis_attempt", _count)
    fields["analysis_running"] = _field(
        data, "analysis_running", lambda v: v if isinstance(v, bool) else _no("true or false")
    )
    for required in ("state", "created_at", "updated_at"):
        if fields[required] is None:
            raise BadInput(f"rollout snapshot: {required}: required, but missing")
    step = fields["step"]
    if isinstance(spec, CanarySpec) and step is not None and step >= len(spec.steps):
        raise BadInput(f"rollout snapshot: step: {step} is past the spec's steps")
    return Rollout(**fields)


def _no(what: str) -> Any:
    raise ValueError(f"must be {what}")


def _field(data: dict[str, Any], name: str, read: Callable[[Any], _T]) -> _T:
    if name not in data:
        raise BadInput(f"rollout snapshot: {name}: required, but missing")
    try:
        return read(data[name])
    except (ValueError, TypeError) as exc:
        raise BadInput(f"rollout snapshot: {name}: {exc}") from None


def _optional(data: dict[str, Any], name: str, read: Callable[[Any], _T]) -> _T | None:
    value = data.get(name)
    if value is None:
        return None
    return _field(data, name, read)


def _enum(kind: type[_E]) -> Callable[[Any], _E]:
    def read(value: Any) -> _E:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise ValueError(f"{value!r} is not one of: {allowed}") from None

    return read


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 time")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("must carry its time zone")
    return moment


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def _weight(value: Any) -> int:
    if _count(value) > 100:
        raise ValueError("must be a percentage from 0 to 100")
    return int(value)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("must be a number of seconds, 0 or more")
    return float(value)
