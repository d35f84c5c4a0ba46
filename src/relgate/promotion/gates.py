"""Gates: hard stops a release must pass to enter an environment.

An environment declares its gates in relgate.yaml as a list discriminated by
``type``. ``evaluate_gate`` is a pure function of a gate and a GateContext (the
release's evidence, approvals, where it was verified, the baselines and the
time) and returns a GateResult whose reason a person can act on. Expected
outcomes, failing ones included, are values, never exceptions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relgate.promotion.migration_gate import MigrationsGate, StableRelease, evaluate_migrations
from relgate.promotion.rehearsal import RehearsalFacts, RollbackRehearsedGate, judge
from relgate.promotion.reports import (
    SEVERITIES,
    CoverageReport,
    CustomReport,
    EvidenceKind,
    PerformanceReport,
    Report,
    TestReport,
    VulnerabilityReport,
)

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES = {
    **{day.lower(): index for index, day in enumerate(_DAYS)},
    **{
        name: index
        for index, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}
_MINUTES_PER_WEEK = 7 * 24 * 60
_LISTED = 5


# ---------------------------------------------------------------------------
# gate specifications (relgate.yaml)


class TestsPassedGate(BaseModel):
    """The newest release-level test report has no failures and no errors."""

    __test__: ClassVar[bool] = False
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["tests_passed"]


class CoverageGate(BaseModel):
    """The newest release-level coverage report reaches ``min`` percent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["coverage"]
    min: float = Field(ge=0, le=100, description="Lowest line coverage allowed, in percent.")


class AcceptedVulnerability(BaseModel):
    """A finding excused until (and including) ``expires``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        min_length=1, description="CVE, GHSA or scanner id, compared case-insensitively."
    )
    expires: date = Field(description="Last day (UTC) the acceptance excuses the finding.")
    reason: str = Field(min_length=1, description="Why the finding is accepted, for the audit.")


class VulnerabilitiesGate(BaseModel):
    """The newest release-level vulnerability scan stays within per-severity limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["vulnerabilities"]
    max: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Most findings allowed per severity (critical, high, medium, low, negligible, "
        "unknown; any case). Severities not listed are unlimited.",
    )
    accept: list[AcceptedVulnerability] = Field(default_factory=list)

    @field_validator("max")
    @classmethod
    def _known_severities(cls, value: dict[str, int]) -> dict[str, int]:
        limits: dict[str, int] = {}
        for key, limit in value.items():
            severity = key.strip().upper()
            if severity not in SEVERITIES:
                valid = ", ".join(name.lower() for name in SEVERITIES)
                raise ValueError(f"unknown severity {key!r}; valid: {valid}")
            if severity in limits:
                raise ValueError(f"severity {severity.lower()!r} is given twice")
            limits[severity] = limit
        return limits


class PerformanceGate(BaseModel):
    """A metric of the release may not regress more than a percentage against a baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["performance"]
    metric: str = Field(min_length=1, description="Name of the metric, e.g. p95_ms.")
    max_regression_percent: float = Field(ge=0)
    baseline_environment: str = Field(
        default="production",
        description="Compare with the performance report of the release stable there.",
    )
    pass_without_baseline: bool = Field(
        default=False, description="Pass when there is no baseline to compare with."
    )
    higher_is_better: bool = Field(default=False, description="True for throughput-like metrics.")
    measured_in: str | None = Field(
        default=None,
        description="Use only performance evidence attached for this environment; "
        "default: the newest performance evidence of the release, wherever measured.",
    )


class VerifiedInGate(BaseModel):
    """The release deployed and verified in the previous environment (or ``environment``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["verified_in"]
    environment: str | None = None


class SmokeTestsGate(BaseModel):
    """Smoke evidence attached for the previous environment (or ``environment``) passed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["smoke_tests"]
    environment: str | None = None


class ApprovalGate(BaseModel):
    """``count`` distinct approvers, none of them the release's author or requester."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["approval"]
    count: int = Field(default=1, ge=1)


def _parse_day_time(value: str) -> tuple[int, int]:
    """Return (weekday 0=Mon, minute of day) of ``Fri 16:00``; raise ValueError when invalid."""
    parts = value.split()
    if len(parts) != 2:
        raise ValueError(f"{value!r} is not a day and a time such as 'Fri 16:00'")
    day_name, clock = parts
    day = _DAY_NAMES.get(day_name.lower())
    if day is None:
        raise ValueError(f"{day_name!r} is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun")
    hours, _, minutes = clock.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise ValueError(f"{clock!r} is not a time HH:MM")
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"{clock!r} is not a time of day (00:00 to 23:59)")
    return day, int(hours) * 60 + int(minutes)


class WeeklyWindow(BaseModel):
    """A freeze repeating every week, e.g. from ``Fri 16:00`` to ``Mon 08:00``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = Field(description="Day and time the freeze begins, e.g. 'Fri 16:00'.")
    end: str = Field(description="Day and time the freeze ends (exclusive), e.g. 'Mon 08:00'.")
    reason: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _canonical(cls, value: str) -> str:
        day, minute = _parse_day_time(value)
        return f"{_DAYS[day]} {minute // 60:02d}:{minute % 60:02d}"

    @model_validator(mode="after")
    def _not_empty(self) -> WeeklyWindow:
        if self.start == self.end:
            raise ValueError("start and end are the same moment of the week")
        return self

    def minutes(self) -> tuple[int, int]:
        """Return the window's start and end as minutes since Monday 00:00."""
        start_day, start_minute = _parse_day_time(self.start)
        end_day, end_minute = _parse_day_time(self.end)
        return start_day * 1440 + start_minute, end_day * 1440 + end_minute


class DateWindow(BaseModel):
    """A one-off freeze between two moments; times without an offset are in the gate's timezone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime
    end: datetime
    reason: str | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _midnight_of_dates(cls, value: object) -> object:
        # YAML reads 2026-12-20 as a date: the freeze starts or ends at midnight
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value, time())
        return value

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("give both start and end with a UTC offset, or neither")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class FreezeGate(BaseModel):
    """No promotion while a freeze window is open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["freeze"]
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Berlin.")
    windows: list[WeeklyWindow] = Field(default_factory=list)
    dates: list[DateWindow] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin or UTC"
            ) from None
        return value

    @model_validator(mode="after")
    def _has_windows(self) -> FreezeGate:
        if not self.windows and not self.dates:
            raise ValueError("declare at least one window in 'windows' or 'dates'")
        return self


GateSpec = Annotated[
    TestsPassedGate
    | CoverageGate
    | VulnerabilitiesGate
    | PerformanceGate
    | VerifiedInGate
    | SmokeTestsGate
    | ApprovalGate
    | FreezeGate
    | RollbackRehearsedGate
    | MigrationsGate,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------------------
# what a gate is evaluated over, and what it yields


class GateStatus(StrEnum):
    PASSED = "pass"
    FAILED = "fail"
    MISSING = "missing"  # the evidence it needs is not there (yet)


@dataclass(frozen=True)
class GateResult:
    gate: str
    status: GateStatus
    reason: str

    @property
    def passed(self) -> bool:
        return self.status is GateStatus.PASSED


@dataclass(frozen=True)
class EvidenceItem:
    kind: EvidenceKind
    environment: str | None
    report: Report
    created_at: datetime


@dataclass(frozen=True)
class ApprovalItem:
    approver: str
    decision: Literal["approved", "rejected"]
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class GateContext:
    """Everything the gates of one environment look at for one release.

    ``release`` (``payments@1.4.0``) only makes the commands in reasons
    copy-pastable (SERVICE@VERSION when absent); ``artifact_digest``, when
    given, is checked against the digests a vulnerability scanner says it scanned.
    """

    environment: str
    previous_environment: str | None
    release_author: str | None
    requested_by: str | None
    evidence: Sequence[EvidenceItem]
    baselines: Mapping[str, PerformanceReport | None]
    verified_in: frozenset[str]
    approvals: Sequence[ApprovalItem]
    now: datetime
    release: str | None = None
    artifact_digest: str | None = None
    # the deployment histories a rollback_rehearsed gate reads (relgate.promotion.rehearsal)
    rehearsal: RehearsalFacts | None = None
    stable: StableRelease | None = None  # the release stable in ``environment`` (migrations)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("GateContext.now must be timezone-aware")


# ---------------------------------------------------------------------------
# evaluation


def evaluate_gates(specs: Sequence[GateSpec], ctx: GateContext) -> list[GateResult]:
    """Return the result of every gate in ``specs``, in order; never raises for failing gates."""
    return [evaluate_gate(spec, ctx) for spec in specs]


def evaluate_gate(spec: GateSpec, ctx: GateContext) -> GateResult:
    """Return whether ``spec`` passes for ``ctx``, with a reason a person can act on."""
    match spec:
        case TestsPassedGate():
            return _tests_passed(ctx)
        case CoverageGate():
            return _coverage(spec, ctx)
        case VulnerabilitiesGate():
            return _vulnerabilities(spec, ctx)
        case PerformanceGate():
            return _performance(spec, ctx)
        case VerifiedInGate():
            return _verified_in(spec, ctx)
        case SmokeTestsGate():
            return _smoke_tests(spec, ctx)
        case ApprovalGate():
            return _approval(spec, ctx)
        case FreezeGate():
            return _freeze(spec, ctx)
        case RollbackRehearsedGate():
            status, reason = judge(spec, ctx.rehearsal, ctx.environment, ctx.release)
            return GateResult(spec.type, GateStatus(status), reason)
        case MigrationsGate():
            return evaluate_migrations(spec, ctx)


def waiting_only_for_approval(results: Sequence[GateResult]) -> bool:
    """Return True when every non-approval gate passed and an approval gate is only missing.

    A rejected approval gate (FAILED) is not waiting: the answer is then False.
    """
    approvals = [result for result in results if result.gate == "approval"]
    others = [result for result in results if result.gate != "approval"]
    return (
        all(result.passed for result in others)
        and any(result.status is GateStatus.MISSING for result in approvals)
        and not any(result.status is GateStatus.FAILED for result in approvals)
    )


def _newest(
    ctx: GateContext, kind: EvidenceKind, environment: str | None, *, any_environment: bool = False
) -> EvidenceItem | None:
    candidates = [
        (item.created_at, index, item)
        for index, item in enumerate(ctx.evidence)
        if item.kind == kind and (any_environment or item.environment == environment)
    ]
    # the later of two items with the same timestamp wins
    return max(candidates, key=lambda entry: (entry[0], entry[1]))[2] if candidates else None


def _hint(ctx: GateContext, kind: EvidenceKind, file: str, environment: str | None = None) -> str:
    release = ctx.release or "SERVICE@VERSION"
    where = f" --env {environment}" if environment else ""
    return f"relgate evidence add {release} --kind {kind.value}{where} --file {file}"


def _number(value: float) -> str:
    """Return ``131.0``, ``120.5`` or ``0.0123``: one decimal unless more are needed."""
    if value == round(value, 1):
        return f"{value:.1f}"
    return f"{value:.6g}"


def _percent_against(value: float, bound: float) -> str:
    """Return ``value`` with one decimal, or more where one would hide its side of ``bound``."""
    for digits in range(1, 7):
        shown = f"{value:.{digits}f}"
        if (float(shown) < bound) == (value < bound) and (float(shown) > bound) == (value > bound):
            return shown
    return repr(value)


def _listed(labels: Sequence[str]) -> str:
    unique = list(dict.fromkeys(labels))
    text = ", ".join(unique[:_LISTED])
    if len(unique) > _LISTED:
        text += f" and {len(unique) - _LISTED} more"
    return text


def _tests_passed(ctx: GateContext) -> GateResult:
    gate = "tests_passed"
    item = _newest(ctx, EvidenceKind.TESTS, None)
    if item is None:
        return GateResult(
            gate,
            GateStatus.MISSING,
            f"no test report attached: {_hint(ctx, EvidenceKind.TESTS, 'junit.xml')}",
        )
    report = item.report
    if not isinstance(report, TestReport):
        return GateResult(gate, GateStatus.FAILED, "the newest tests evidence is not a test report")
    if report.passed:
        return GateResult(gate, GateStatus.PASSED, f"tests passed: {report.summary()}")
    if report.failures == 0 and report.errors == 0:
        return GateResult(
            gate, GateStatus.FAILED, f"no test ran: {report.summary()} (is the test run empty?)"
        )
    reason = f"tests failed: {report.summary()}"
    if report.failed_cases:
        reason += f": {_listed(report.failed_cases[:3])}"
    return GateResult(gate, GateStatus.FAILED, reason)


def _coverage(spec: CoverageGate, ctx: GateContext) -> GateResult:
    gate = "coverage"
    item = _newest(ctx, EvidenceKind.COVERAGE, None)
    if item is None:
        return GateResult(
            gate,
            GateStatus.MISSING,
            f"no coverage report attached: {_hint(ctx, EvidenceKind.COVERAGE, 'coverage.json')}",
        )
    report = item.report
    if not isinstance(report, CoverageReport):
        return GateResult(
            gate, GateStatus.FAILED, "the newest coverage evidence is not a coverage report"
        )
    shown = _percent_against(report.percent, spec.min)
    if report.percent < spec.min:
        return GateResult(gate, GateStatus.FAILED, f"coverage {shown}% < {spec.min:g}%")
    return GateResult(gate, GateStatus.PASSED, f"coverage {shown}% >= {spec.min:g}%")


def _vulnerabilities(spec: VulnerabilitiesGate, ctx: GateContext) -> GateResult:
    gate = "vulnerabilities"
    item = _newest(ctx, EvidenceKind.VULNERABILITIES, None)
    if item is None:
        hint = _hint(ctx, EvidenceKind.VULNERABILITIES, "trivy.json")
        return GateResult(gate, GateStatus.MISSING, f"no vulnerability report attached: {hint}")
    report = item.report
    if not isinstance(report, VulnerabilityReport):
        return GateResult(
            gate, GateStatus.FAILED, "the newest vulnerabilities evidence is not a scan report"
        )
    if ctx.artifact_digest:
        problem = report.digest_problem(ctx.artifact_digest)
        if problem is not None:
            return GateResult(gate, GateStatus.FAILED, problem)

    today = ctx.now.astimezone(UTC).date()
    acceptances = {entry.id.upper(): entry for entry in spec.accept}
    counted = []
    accepted: list[str] = []
    expired: list[str] = []
    for finding in report.findings:
        entry = acceptances.get(finding.id.upper())
        if entry is not None and entry.expires >= today:
            accepted.append(f"{finding.id} until {entry.expires.isoformat()}")
            continue
        if entry is not None:
            expired.append(f"{finding.id} expired {entry.expires.isoformat()}")
        counted.append(finding)
    counts = Counter(finding.severity for finding in counted)

    violations = []
    for severity in SEVERITIES:
        limit = spec.max.get(severity)
        if limit is None or counts[severity] <= limit:
            continue
        labels = [finding.label() for finding in counted if finding.severity == severity]
        violations.append(f"{counts[severity]} {severity} > {limit} allowed: {_listed(labels)}")

    notes = []
    if accepted:
        notes.append(f"accepted: {_listed(accepted)}")
    if expired:
        notes.append(f"acceptance no longer excuses: {_listed(expired)}")
    if violations:
        return GateResult(gate, GateStatus.FAILED, "; ".join(violations + notes))
    if spec.max:
        within = ", ".join(
            f"{counts[severity]} {severity} (max {spec.max[severity]})"
            for severity in SEVERITIES
            if severity in spec.max
        )
        reason = f"within limits: {within}"
    else:
        reason = f"no limits set; {len(counted)} finding{'s' if len(counted) != 1 else ''}"
    return GateResult(gate, GateStatus.PASSED, "; ".join([reason, *notes]))


def _performance(spec: PerformanceGate, ctx: GateContext) -> GateResult:
    gate = "performance"
    metric = spec.metric
    item = _newest(
        ctx, EvidenceKind.PERFORMANCE, spec.measured_in, any_environment=spec.measured_in is None
    )
    hint = _hint(ctx, EvidenceKind.PERFORMANCE, "perf.json", spec.measured_in)
    if item is None:
        return GateResult(
            gate, GateStatus.MISSING, f"no performance report with {metric} attached: {hint}"
        )
    report = item.report
    if not isinstance(report, PerformanceReport) or metric not in report.metrics:
        has = ", ".join(sorted(report.metrics)) if isinstance(report, PerformanceReport) else ""
        return GateResult(
            gate,
            GateStatus.MISSING,
            f"the newest performance report has no {metric} (it has: {has or 'nothing'}): {hint}",
        )
    value = report.metrics[metric]
    env = spec.baseline_environment
    baseline_report = ctx.baselines.get(env)
    baseline = baseline_report.metrics.get(metric) if baseline_report is not None else None
    if baseline is None:
        if spec.pass_without_baseline:
            return GateResult(
                gate,
                GateStatus.PASSED,
                f"no {metric} baseline in {env} to compare with; {metric} {_number(value)} "
                "accepted (pass_without_baseline)",
            )
        return GateResult(
            gate,
            GateStatus.FAILED,
            f"no {metric} baseline in {env}: no release stable there has a performance report "
            f"with {metric}; set pass_without_baseline: true to let a first measurement pass",
        )

    limit = spec.max_regression_percent
    if value == baseline:
        regression = 0.0
        comparison = "equal to"
    elif baseline == 0:
        worse = value < baseline if spec.higher_is_better else value > baseline
        regression = math.inf if worse else -math.inf
        comparison = "above" if value > baseline else "below"
    else:
        change = (value - baseline) / abs(baseline) * 100
        regression = -change if spec.higher_is_better else change
        comparison = f"{_percent_against(abs(change), limit)}% {'above' if change > 0 else 'below'}"
    reason = (
        f"{metric} {_number(value)} is {comparison} {env}'s {_number(baseline)} (max {limit:g}%)"
    )
    status = GateStatus.FAILED if regression > limit else GateStatus.PASSED
    return GateResult(gate, status, reason)


def _verified_in(spec: VerifiedInGate, ctx: GateContext) -> GateResult:
    gate = "verified_in"
    target = spec.environment or ctx.previous_environment
    if target is None:
        return GateResult(gate, GateStatus.PASSED, "first environment")
    if target in ctx.verified_in:
        return GateResult(gate, GateStatus.PASSED, f"deployed and verified in {target}")
    return GateResult(
        gate,
        GateStatus.MISSING,
        f"not deployed and verified in {target} yet: "
        f"relgate promote {ctx.release or 'SERVICE@VERSION'} --to {target}",
    )


def _smoke_tests(spec: SmokeTestsGate, ctx: GateContext) -> GateResult:
    gate = "smoke_tests"
    target = spec.environment or ctx.previous_environment
    if target is None:
        return GateResult(
            gate,
            GateStatus.FAILED,
            f"smoke_tests has no environment to look at: {ctx.environment} is the first "
            "environment; set `environment:` on the gate",
        )
    item = _newest(ctx, EvidenceKind.SMOKE, target)
    if item is None:
        hint = _hint(ctx, EvidenceKind.SMOKE, "smoke.xml", target)
        return GateResult(gate, GateStatus.MISSING, f"no smoke tests attached for {target}: {hint}")
    report = item.report
    if isinstance(report, TestReport | CustomReport) and report.passed:
        return GateResult(
            gate, GateStatus.PASSED, f"smoke tests in {target} passed: {report.summary()}"
        )
    if isinstance(report, TestReport | CustomReport):
        reason = f"smoke tests in {target} failed: {report.summary()}"
        if isinstance(report, TestReport) and report.failed_cases:
            reason += f": {_listed(report.failed_cases[:3])}"
        return GateResult(gate, GateStatus.FAILED, reason)
    return GateResult(gate, GateStatus.FAILED, f"the smoke evidence for {target} is not a report")


def _approval(spec: ApprovalGate, ctx: GateContext) -> GateResult:
    gate = "approval"
    roles: dict[str, str] = {}
    if ctx.requested_by:
        roles[ctx.requested_by.casefold()] = "requested the promotion"
    if ctx.release_author:
        roles[ctx.release_author.casefold()] = "is the release's author"
    ordered = sorted(enumerate(ctx.approvals), key=lambda entry: (entry[1].created_at, entry[0]))
    # a rejection stands whoever gives it: separation of duties limits approving, not objecting
    rejections = [
        f"rejected by {item.approver}: {item.comment}"
        if item.comment.strip()
        else f"rejected by {item.approver}"
        for _, item in ordered
        if item.decision == "rejected"
    ]
    if rejections:
        return GateResult(gate, GateStatus.FAILED, "; ".join(rejections))

    approvers: dict[str, str] = {}
    ignored: dict[str, str] = {}
    for _, item in ordered:
        key = item.approver.casefold()
        if key in roles:
            ignored.setdefault(key, f"{item.approver} ({roles[key]})")
        else:
            approvers.setdefault(key, item.approver)
    names = list(approvers.values())
    if len(names) >= spec.count:
        return GateResult(
            gate, GateStatus.PASSED, f"approved by {', '.join(names)} ({len(names)}/{spec.count})"
        )
    noun = "approval" if spec.count == 1 else "approvals"
    reason = f"needs {spec.count} {noun}, has {len(names)}"
    if names:
        reason += f" ({', '.join(names)})"
    if ignored:
        reason += f"; not counted: {', '.join(ignored.values())}"
    return GateResult(gate, GateStatus.MISSING, reason)


def _weekly_until(window: WeeklyWindow, zone: ZoneInfo, moment: datetime) -> datetime | None:
    """Return when ``window`` closes (UTC) if it is open at ``moment`` (UTC), else None.

    Windows follow the wall clock of ``zone``: a window ends at the local time
    written, whatever DST did in between.
    """
    local = moment.astimezone(zone)
    start, end = window.minutes()
    position = local.weekday() * 1440 + local.hour * 60 + local.minute
    is_open = start <= position < end if start < end else position >= start or position < end
    if not is_open:
        return None
    ahead = (end - position) % _MINUTES_PER_WEEK
    day = local.date() + timedelta(days=(position + ahead) // 1440 - local.weekday())
    minute = end % 1440
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    until = wall.replace(tzinfo=zone).astimezone(UTC)
    if until <= moment:
        # the end is a wall time that occurs twice (clocks went back): its second occurrence
        until = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    # the end is a wall time that never occurs (clocks jumped over it): the window closes
    # at the jump, the first moment whose wall time is past the end
    for _ in range(180):
        earlier = until - timedelta(minutes=1)
        if earlier <= moment or earlier.astimezone(zone).replace(tzinfo=None) < wall:
            break
        until = earlier
    return until


def _open_until(spec: FreezeGate, zone: ZoneInfo, moment: datetime) -> tuple[datetime, str] | None:
    """Return the latest end (UTC) among the windows open at ``moment`` (UTC), with its reason."""
    found: list[tuple[datetime, str]] = []
    for window in spec.windows:
        until = _weekly_until(window, zone, moment)
        if until is not None:
            found.append((until, window.reason or ""))
    for dates in spec.dates:
        start = dates.start if dates.start.tzinfo else dates.start.replace(tzinfo=zone)
        end = dates.end if dates.end.tzinfo else dates.end.replace(tzinfo=zone)
        if start.astimezone(UTC) <= moment < end.astimezone(UTC):
            found.append((end.astimezone(UTC), dates.reason or ""))
    return max(found, key=lambda entry: entry[0]) if found else None


def _freeze(spec: FreezeGate, ctx: GateContext) -> GateResult:
    gate = "freeze"
    zone = ZoneInfo(spec.timezone)
    # aware datetimes sharing a tzinfo compare by wall time, ignoring DST: compare in UTC
    now = ctx.now.astimezone(UTC)
    first = _open_until(spec, zone, now)
    if first is None:
        return GateResult(gate, GateStatus.PASSED, f"{ctx.environment} is not frozen")
    until, why = first
    # back-to-back or overlapping windows make one longer freeze
    for _ in range(100):
        following = _open_until(spec, zone, until)
        if following is None or following[0] <= until:
            break
        until, why = following[0], following[1] or why
    local = until.astimezone(zone)
    # strftime's %a follows the process locale; day names here are always English
    day = _DAYS[local.weekday()]
    if until - now < timedelta(days=6):
        shown = f"{day} {local:%H:%M}"
    else:
        shown = f"{day} {local:%Y-%m-%d %H:%M}"
    reason = f"{ctx.environment} is frozen until {shown} {spec.timezone}"
    if why:
        reason += f" ({why})"
    return GateResult(gate, GateStatus.FAILED, reason)
