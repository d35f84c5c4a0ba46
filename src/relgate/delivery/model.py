"""The plain history the delivery measures are computed from, and what they return (pure).

The store (relgate.delivery.service) reads these records; relgate.delivery.measures
turns them into numbers and the rows behind each number. Every time is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CommitTime:
    """One commit a release brought, and when it was committed (the committer time)."""

    sha: str
    committed_at: datetime


@dataclass(frozen=True)
class ReleaseRecord:
    """A release of the service: its version, its own commit, and the commits it brought.

    ``commits`` are the commits since the previous release tag, as ``relgate release
    create`` read them from git (None: the release was created without a list);
    ``committed_at`` is the time of the release's own commit when known.
    """

    id: int
    version: str
    commit: str | None = None
    committed_at: datetime | None = None
    commits: tuple[CommitTime, ...] | None = None
    commit_count: int | None = None
    """How many commits the range held (more than ``commits`` when the list was cut)."""


@dataclass(frozen=True)
class DeploymentRecord:
    """One deployment of the service into one environment, as the history stores it."""

    id: int
    environment: str
    release_id: int
    version: str
    kind: str
    state: str
    created_at: datetime
    previous_version: str | None = None
    outcome: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    verified_at: datetime | None = None
    replaces: int | None = None
    """The deployment a rollback replaces (``replaces_deployment_id``)."""


@dataclass(frozen=True)
class IncidentRecord:
    """A production failure, linked explicitly to the deployment that caused it."""

    id: int
    deployment_id: int
    opened_at: datetime
    summary: str = ""
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class History:
    """Everything one service's measures in one environment need."""

    service: str
    environment: str
    deployments: tuple[DeploymentRecord, ...]
    releases: tuple[ReleaseRecord, ...]
    incidents: tuple[IncidentRecord, ...] = ()


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class DeploymentRow:
    """A deployment the period counts, with what each measure says about it."""

    id: int
    version: str
    previous_version: str | None
    kind: str
    state: str
    finished_at: datetime
    succeeded: bool
    rework: bool
    failed: bool
    failure_reasons: list[str]
    incidents: list[int]


@dataclass(frozen=True)
class WeekRow:
    """One 7-day window of the period (the last may be shorter)."""

    start: datetime
    end: datetime
    deployments: int
    deployment_days: int


@dataclass(frozen=True)
class Frequency:
    deployments: int
    successful: int
    deployment_days: int
    weeks: float
    deployments_per_week: float | None
    deployment_days_per_week: float | None
    by_week: list[WeekRow]
    rows: list[DeploymentRow]


@dataclass(frozen=True)
class CommitLead:
    """One commit's lead time: committed → the production deployment that first shipped it."""

    sha: str
    committed_at: datetime
    deployment_id: int
    version: str
    deployed_at: datetime
    seconds: float
    basis: str
    """``commit list`` (the release's commits), or ``release commit only`` (fewer data)."""


@dataclass(frozen=True)
class DeploymentLead:
    """What one successful deployment shipped first, and how its commits were known."""

    deployment_id: int
    version: str
    deployed_at: datetime
    commits: int
    median_seconds: float | None
    basis: str
    """``commit list``, ``release commit only``, ``no commit times``, ``nothing new`` or
    ``first production deployment (excluded)``."""
    excluded_commits: int = 0


@dataclass(frozen=True)
class LeadTime:
    commits: int
    median_seconds: float | None
    p90_seconds: float | None
    deployments: list[DeploymentLead]
    rows: list[CommitLead]
    fewer_data: bool
    """Some deployment's lead time rests on its release commit only, or on no commit time."""
    baseline_deployment: int | None
    """The service's first successful deployment here, whose commits are excluded."""


@dataclass(frozen=True)
class FailRate:
    deployments: int
    failed: int
    rate: float | None
    rows: list[DeploymentRow]
    incidents: list[IncidentRecord] = field(default_factory=list)
    """The incidents linked to the period's deployments."""


@dataclass(frozen=True)
class RecoveryRow:
    deployment_id: int
    version: str
    failed_at: datetime
    failure_reasons: list[str]
    recovered_at: datetime | None
    recovered_by: int | None
    """The deployment that brought a healthy state back (None: the incidents' resolution)."""
    how: str
    seconds: float | None


@dataclass(frozen=True)
class Recovery:
    failures: int
    recovered: int
    median_seconds: float | None
    p90_seconds: float | None
    rows: list[RecoveryRow]


@dataclass(frozen=True)
class Rework:
    deployments: int
    rollbacks: int
    hotfixes: int
    rate: float | None
    rows: list[DeploymentRow]


@dataclass(frozen=True)
class DeliveryReport:
    service: str
    environment: str
    since: datetime
    until: datetime
    frequency: Frequency
    lead_time: LeadTime
    change_fail_rate: FailRate
    recovery: Recovery
    rework: Rework
    notes: list[str] = field(default_factory=list)
