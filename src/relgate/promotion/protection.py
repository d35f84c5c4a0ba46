"""What a new pipeline does to the protection of protected environments (pure).

``compare_protection(before, after)`` looks at every environment that is
protected in ``before`` (the pipeline in force) and says, in sentences a person
can act on, how ``after`` weakens or tightens it. It works on the parsed
pipelines, and each gate kind is reduced to what it demands (the highest
coverage minimum, the lowest vulnerability limit per severity, the union of the
freeze windows...), so reordering gates, keys or whole files is no change.

Weakening means a release could now enter with less: a gate removed, a
threshold loosened (coverage minimum lowered, a vulnerability limit raised or
dropped, a finding newly accepted, a performance tolerance raised, a
performance gate passing without a baseline, fewer approvals), the deployer or
verifier changed or removed, auto-rollback turned off, auto-promotion turned
on, a freeze window removed or shortened, a migrations gate removed or
allowing more, the protection itself removed, a
protected environment removed, or the order changed so that it is reached
through fewer environments. Anything that only demands more is a tightening.
Changes to environments that were not protected are neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from relgate.deploy.config import DeployerRef
from relgate.promotion.gates import (
    ApprovalGate,
    CoverageGate,
    FreezeGate,
    GateSpec,
    PerformanceGate,
    SmokeTestsGate,
    TestsPassedGate,
    VerifiedInGate,
    VulnerabilitiesGate,
)
from relgate.promotion.migration_gate import MigrationsGate, protection_changes
from relgate.promotion.pipeline import EnvironmentSpec, PipelineSpec
from relgate.promotion.rehearsal import RollbackRehearsedGate
from relgate.promotion.reports import SEVERITIES

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEK = 7 * 24 * 60


class Effect(StrEnum):
    WEAKENS = "weakens"
    TIGHTENS = "tightens"


_W, _T = Effect.WEAKENS, Effect.TIGHTENS


@dataclass(frozen=True)
class ProtectionChange:
    """One change to a protected environment: which, whether it weakens, and what it means."""

    environment: str
    effect: Effect
    message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "environment": self.environment,
            "effect": self.effect.value,
            "message": self.message,
        }


@dataclass(frozen=True)
class ProtectionDiff:
    """Every change ``after`` makes to the protection ``before`` gave, weakenings first."""

    weakenings: tuple[ProtectionChange, ...]
    tightenings: tuple[ProtectionChange, ...]

    @property
    def weakens(self) -> bool:
        return bool(self.weakenings)

    def as_dict(self) -> dict[str, list[dict[str, str]]]:
        return {
            "weakens": [change.as_dict() for change in self.weakenings],
            "tightens": [change.as_dict() for change in self.tightenings],
        }


def compare_protection(
    before: PipelineSpec | None, after: PipelineSpec, *, now: datetime | None = None
) -> ProtectionDiff:
    """Return how ``after`` weakens and tightens the protected environments of ``before``.

    ``before`` None (a service's first pipeline) has nothing to weaken. Dated
    freeze windows that ended before ``now`` (when given) are ignored: removing
    a past freeze takes nothing away. Never raises.
    """
    changes: list[ProtectionChange] = []
    if before is not None:
        for old in before.environments:
            new = after.environment(old.name)
            if old.protected:
                changes.extend(_compare_environment(before, old, after, new, now))
            elif new is not None and new.protected:
                changes.append(_change(new.name, Effect.TIGHTENS, "is now protected"))
        for new in after.environments:
            if new.protected and before.environment(new.name) is None:
                changes.append(_change(new.name, Effect.TIGHTENS, "is a new protected environment"))
    return ProtectionDiff(
        weakenings=tuple(c for c in changes if c.effect is Effect.WEAKENS),
        tightenings=tuple(c for c in changes if c.effect is Effect.TIGHTENS),
    )


def _change(environment: str, effect: Effect, text: str) -> ProtectionChange:
    return ProtectionChange(environment, effect, f"{environment} {text}")


def _compare_environment(
    before: PipelineSpec,
    old: EnvironmentSpec,
    after: PipelineSpec,
    new: EnvironmentSpec | None,
    now: datetime | None,
) -> list[ProtectionChange]:
    name = old.name
    if new is None:
        return [
            _change(
                name,
                Effect.WEAKENS,
                "was protected and is removed from the pipeline (with all its gates)",
            )
        ]
    out: list[ProtectionChange] = []

    def weakens(text: str) -> None:
        out.append(_change(name, Effect.WEAKENS, text))

    def tightens(text: str) -> None:
        out.append(_change(name, Effect.TIGHTENS, text))

    if not new.protected:
        weakens("is no longer protected (protected: false, or no longer the last environment)")

    old_gates = _Demands.of(old.gates, before, name, now)
    new_gates = _Demands.of(new.gates, after, name, now)
    for effect, text in old_gates.compare(new_gates):
        (weakens if effect is Effect.WEAKENS else tightens)(text)

    lost = _upstream(before, name) - _upstream(after, name)
    # a verified_in target dropped is already said; say what the order change adds
    lost -= old_gates.verified_in - new_gates.verified_in
    if lost:
        weakens(
            "can now be reached without a deployment verified in "
            + _and(sorted(lost))
            + " (the order or a verified_in gate changed)"
        )

    if _deployer(old.deployer) != _deployer(new.deployer):
        if _deployer(new.deployer) == _RECORD:
            weakens(
                f"no longer has a deployer (was {_show(old.deployer)}): releases are recorded only"
            )
        else:
            weakens(f"deployer changed from {_show(old.deployer)} to {_show(new.deployer)}")
    if _dump(old.verify) != _dump(new.verify):
        if old.verify is None and isinstance(old.deployer, DeployerRef):
            # without `verify:` the registered deployer's own verify command ran, if it has one
            weakens(
                f"verification changed from {_show(old.deployer)}'s verify command (if it has "
                f"one) to {_show(new.verify)}"
            )
        elif old.verify is None:
            tightens(f"is now verified by {_show(new.verify)}")
        elif new.verify is None:
            weakens(f"is no longer verified (was {_show(old.verify)})")
        else:
            weakens(f"verification changed from {_show(old.verify)} to {_show(new.verify)}")
    if old.auto_rollback and not new.auto_rollback:
        weakens("no longer rolls back a failed deployment on its own (auto_rollback turned off)")
    elif new.auto_rollback and not old.auto_rollback:
        tightens("now rolls back a failed deployment on its own (auto_rollback turned on)")
    if new.auto_promote and not old.auto_promote:
        weakens(
            "now takes every release whose gates pass without anyone promoting it (auto_promote)"
        )
    elif old.auto_promote and not new.auto_promote:
        tightens("no longer takes releases on its own (auto_promote turned off)")
    # issue 8 (oci): the registry's stable tag is the rollback anchor outside relgate
    if old.stable_tag and not new.stable_tag:
        weakens(f"no longer moves the registry's stable tag {old.stable_tag!r}")
    elif old.stable_tag and new.stable_tag != old.stable_tag:
        weakens(f"moves the registry tag {new.stable_tag!r} instead of {old.stable_tag!r}")
    elif new.stable_tag and not old.stable_tag:
        tightens(f"now moves the registry's stable tag {new.stable_tag!r}")
    return out


# ---------------------------------------------------------------------------- gates


@dataclass
class _Demands:
    """What the gates of one environment demand, whatever their order or how they are split."""

    tests_passed: bool
    coverage: float | None
    vulnerability_gate: bool
    limits: dict[str, int]
    accepted: dict[str, str]
    performance: dict[tuple[str, str, str | None, bool], tuple[float, bool]]
    verified_in: set[str]
    smoke_tests: set[str]
    approvals: int
    freeze_weekly: dict[str, set[int]]
    freeze_dates: list[tuple[datetime, datetime]]
    rehearsed_in: set[str] = field(default_factory=set)
    migrations: list[MigrationsGate] = field(default_factory=list)

    @classmethod
    def of(
        cls, gates: Sequence[GateSpec], pipeline: PipelineSpec, env: str, now: datetime | None
    ) -> _Demands:
        previous = pipeline.previous(env)
        before = previous.name if previous else None
        demands = cls(False, None, False, {}, {}, {}, set(), set(), 0, {}, [])
        for gate in gates:
            match gate:
                case TestsPassedGate():
                    demands.tests_passed = True
                case CoverageGate():
                    demands.coverage = max(demands.coverage or 0.0, gate.min)
                case VulnerabilitiesGate():
                    demands.vulnerability_gate = True
                    for severity, limit in gate.max.items():
                        demands.limits[severity] = min(demands.limits.get(severity, limit), limit)
                    for entry in gate.accept:
                        key = entry.id.upper()
                        until = entry.expires.isoformat()
                        demands.accepted[key] = max(demands.accepted.get(key, until), until)
                case PerformanceGate():
                    measure = (
                        gate.metric,
                        gate.baseline_environment,
                        gate.measured_in,
                        gate.higher_is_better,
                    )
                    tolerance, lenient = demands.performance.get(
                        measure, (gate.max_regression_percent, True)
                    )
                    demands.performance[measure] = (
                        min(tolerance, gate.max_regression_percent),
                        lenient and gate.pass_without_baseline,
                    )
                case VerifiedInGate():
                    target = gate.environment or before
                    if target is not None:
                        demands.verified_in.add(target)
                case SmokeTestsGate():
                    target = gate.environment or before
                    if target is not None:
                        demands.smoke_tests.add(target)
                case ApprovalGate():
                    demands.approvals = max(demands.approvals, gate.count)
                case RollbackRehearsedGate():
                    demands.rehearsed_in.add(gate.in_)
                case FreezeGate():
                    minutes = demands.freeze_weekly.setdefault(gate.timezone, set())
                    for window in gate.windows:
                        minutes |= _window_minutes(*window.minutes())
                    zone = ZoneInfo(gate.timezone)
                    for dates in gate.dates:
                        start = (
                            dates.start if dates.start.tzinfo else dates.start.replace(tzinfo=zone)
                        )
                        end = dates.end if dates.end.tzinfo else dates.end.replace(tzinfo=zone)
                        if now is None or end > now:
                            demands.freeze_dates.append(
                                (start.astimezone(UTC), end.astimezone(UTC))
                            )
                case MigrationsGate():
                    demands.migrations.append(gate)
        demands.freeze_weekly = {zone: m for zone, m in demands.freeze_weekly.items() if m}
        return demands

    def compare(self, new: _Demands) -> Iterable[tuple[Effect, str]]:
        """Yield (effect, text) for every demand ``new`` drops, loosens, adds or tightens."""
        if self.tests_passed and not new.tests_passed:
            yield _W, "no longer needs passing tests (the tests_passed gate is removed)"
        elif new.tests_passed and not self.tests_passed:
            yield _T, "now needs passing tests (tests_passed)"

        if self.coverage is not None and new.coverage is None:
            yield (
                _W,
                f"no longer checks coverage (the coverage gate needing {self.coverage:g}% "
                "is removed)",
            )
        elif (
            self.coverage is not None and new.coverage is not None and new.coverage < self.coverage
        ):
            yield _W, f"coverage minimum lowered from {self.coverage:g}% to {new.coverage:g}%"
        elif new.coverage is not None and (self.coverage is None or new.coverage > self.coverage):
            was = f" from {self.coverage:g}%" if self.coverage is not None else ""
            yield _T, f"coverage minimum raised{was} to {new.coverage:g}%"

        yield from self._compare_vulnerabilities(new)
        yield from self._compare_performance(new)

        for target in sorted(self.verified_in - new.verified_in):
            yield _W, f"no longer needs a deployment verified in {target} (verified_in)"
        for target in sorted(new.verified_in - self.verified_in):
            yield _T, f"now needs a deployment verified in {target} (verified_in)"
        for target in sorted(self.smoke_tests - new.smoke_tests):
            yield _W, f"no longer needs passing smoke tests in {target} (smoke_tests)"
        for target in sorted(new.smoke_tests - self.smoke_tests):
            yield _T, f"now needs passing smoke tests in {target} (smoke_tests)"

        if self.approvals and not new.approvals:
            yield (
                _W,
                "no longer needs an approval (the approval gate needing "
                f"{_approvals(self.approvals)} is removed)",
            )
        elif new.approvals < self.approvals:
            yield _W, f"approvals needed lowered from {self.approvals} to {new.approvals}"
        elif new.approvals > self.approvals:
            was = f" from {self.approvals}" if self.approvals else ""
            yield _T, f"approvals needed raised{was} to {new.approvals}"

        yield from self._compare_freezes(new)
        for target in sorted(self.rehearsed_in - new.rehearsed_in):
            yield _W, f"no longer needs a rollback rehearsal in {target} (rollback_rehearsed)"
        for target in sorted(new.rehearsed_in - self.rehearsed_in):
            yield _T, f"now needs a rollback rehearsal in {target} (rollback_rehearsed)"
        for weakens, text in protection_changes(self.migrations, new.migrations):
            yield (_W if weakens else _T), text

    def _compare_vulnerabilities(self, new: _Demands) -> Iterable[tuple[Effect, str]]:
        if self.vulnerability_gate and not new.vulnerability_gate:
            yield _W, "no longer checks vulnerabilities (the vulnerabilities gate is removed)"
            return
        if new.vulnerability_gate and not self.vulnerability_gate:
            yield _T, "now checks vulnerabilities"
        for severity in SEVERITIES:
            old_limit = self.limits.get(severity)
            new_limit = new.limits.get(severity)
            label = severity.lower()
            if old_limit is not None and new_limit is None:
                yield _W, f"no longer limits {label} vulnerabilities (at most {old_limit} before)"
            elif old_limit is not None and new_limit is not None and new_limit > old_limit:
                yield _W, f"{label} vulnerabilities allowed raised from {old_limit} to {new_limit}"
            elif new_limit is not None and (old_limit is None or new_limit < old_limit):
                was = f" from {old_limit}" if old_limit is not None else ""
                yield _T, f"{label} vulnerabilities allowed lowered{was} to {new_limit}"
        if not self.vulnerability_gate:
            return
        for key in sorted(new.accepted):
            until = new.accepted[key]
            if key not in self.accepted:
                yield _W, f"now accepts vulnerability {key} until {until}"
            elif until > self.accepted[key]:
                yield (
                    _W,
                    f"accepts vulnerability {key} longer: until {until} "
                    f"instead of {self.accepted[key]}",
                )
        for key in sorted(self.accepted):
            if key not in new.accepted:
                yield _T, f"no longer accepts vulnerability {key}"
            elif new.accepted[key] < self.accepted[key]:
                yield _T, f"accepts vulnerability {key} only until {new.accepted[key]}"

    def _compare_performance(self, new: _Demands) -> Iterable[tuple[Effect, str]]:
        for key in sorted(set(self.performance) | set(new.performance), key=repr):
            label = _performance_label(key)
            old = self.performance.get(key)
            now = new.performance.get(key)
            if old is not None and now is None:
                yield _W, f"no longer checks {label} (the performance gate is removed)"
                continue
            if old is None and now is not None:
                yield _T, f"now checks {label} (at most {now[0]:g}% worse)"
                continue
            assert old is not None and now is not None
            if now[0] > old[0]:
                yield _W, f"{label}: regression allowed raised from {old[0]:g}% to {now[0]:g}%"
            elif now[0] < old[0]:
                yield _T, f"{label}: regression allowed lowered from {old[0]:g}% to {now[0]:g}%"
            if now[1] and not old[1]:
                yield _W, f"{label}: now passes when there is no baseline (pass_without_baseline)"
            elif old[1] and not now[1]:
                yield _T, f"{label}: no longer passes without a baseline"

    def _compare_freezes(self, new: _Demands) -> Iterable[tuple[Effect, str]]:
        for zone in sorted(set(self.freeze_weekly) | set(new.freeze_weekly)):
            old = self.freeze_weekly.get(zone, set())
            now = new.freeze_weekly.get(zone, set())
            if old - now:
                yield _W, f"is no longer frozen {_ranges(old - now)} ({zone})"
            if now - old:
                yield _T, f"is now also frozen {_ranges(now - old)} ({zone})"
        lost = _subtract(self.freeze_dates, new.freeze_dates)
        gained = _subtract(new.freeze_dates, self.freeze_dates)
        if lost:
            yield _W, f"is no longer frozen {_date_ranges(lost)}"
        if gained:
            yield _T, f"is now also frozen {_date_ranges(gained)}"


def _upstream(pipeline: PipelineSpec, env: str) -> set[str]:
    """Return the environments a release must be verified in, directly or not, to enter ``env``."""
    seen: set[str] = set()
    pending = [env]
    while pending:
        current = pipeline.environment(pending.pop())
        if current is None:
            continue
        previous = pipeline.previous(current.name)
        for gate in current.gates:
            if isinstance(gate, VerifiedInGate):
                target = gate.environment or (previous.name if previous else None)
                if target is not None and target not in seen and target != env:
                    seen.add(target)
                    pending.append(target)
    return seen


# ---------------------------------------------------------------------------- rendering


_RECORD = {"type": "record"}


def _deployer(spec: Any) -> Any:
    """A deployer spec as data; no deployer (a pipeline stored before `record`) is `record`."""
    return _dump(spec) if spec is not None else _RECORD


def _dump(spec: Any) -> Any:
    return spec.model_dump(mode="json") if spec is not None else None


def _show(spec: Any) -> str:
    """Return a short description of a deployer or verifier spec."""
    if spec is None:
        return "none"
    data = spec.model_dump(mode="json")
    if "ref" in data:
        return f"the registered deployer {data['ref']!r}"
    kind = data.get("type")
    if kind == "record":
        return "record (nothing deployed)"
    if kind == "http":
        return f"an http check of {data.get('url')}"
    if kind == "kubernetes":
        workload = f"{str(data.get('kind')).lower()}/{data.get('workload') or '(the service)'}"
        return f"the kubernetes {workload} in {data.get('namespace') or 'the environment'}"
    command = data.get("command")
    shown = command if isinstance(command, str) else " ".join(command or [])
    return f"the command {shown!r}"


def _approvals(count: int) -> str:
    return f"{count} approval{'s' if count != 1 else ''}"


def _performance_label(key: tuple[str, str, str | None, bool]) -> str:
    metric, baseline, measured_in, higher = key
    label = f"performance of {metric} against {baseline}"
    if measured_in:
        label += f" measured in {measured_in}"
    if higher:
        label += " (higher is better)"
    return label


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _window_minutes(start: int, end: int) -> set[int]:
    if start < end:
        return set(range(start, end))
    return set(range(start, _WEEK)) | set(range(0, end))


def _clock(minute: int) -> str:
    minute %= _WEEK
    return f"{_DAYS[minute // 1440]} {minute % 1440 // 60:02d}:{minute % 60:02d}"


def _ranges(minutes: set[int]) -> str:
    """Return minutes of the week as ``Fri 16:00–Sat 00:00, ...`` (end exclusive, wrapping)."""
    ordered = sorted(minutes)
    spans: list[list[int]] = []
    for minute in ordered:
        if spans and spans[-1][1] == minute:
            spans[-1][1] = minute + 1
        else:
            spans.append([minute, minute + 1])
    # a span ending at the end of the week and one starting Monday 00:00 are one
    if len(spans) > 1 and spans[0][0] == 0 and spans[-1][1] == _WEEK:
        spans[0][0] = spans[-1][0] - _WEEK
        spans.pop()
    return ", ".join(f"{_clock(start)}–{_clock(end)}" for start, end in spans)


def _subtract(
    spans: list[tuple[datetime, datetime]], minus: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """Return the parts of ``spans`` that no span of ``minus`` covers, merged and sorted."""
    left = _merge(spans)
    for cut_start, cut_end in _merge(minus):
        kept: list[tuple[datetime, datetime]] = []
        for start, end in left:
            if cut_end <= start or cut_start >= end:
                kept.append((start, end))
                continue
            if start < cut_start:
                kept.append((start, cut_start))
            if cut_end < end:
                kept.append((cut_end, end))
        left = kept
    return left


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _date_ranges(spans: list[tuple[datetime, datetime]]) -> str:
    return ", ".join(
        f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC" for start, end in spans
    )
