"""The delivery (DORA) measures of one service in one environment over a period (pure).

No heuristics: every number comes from relgate's own records (deployments, their
rollback links, the hotfix kind, incidents linked to a deployment by its id, and
the commits each release brought). The exact definitions are in
docs/web-delivery.md; in short, with "here" the chosen environment (production
by default) and the period the half-open interval [since, until):

- a *deployment* counts when it started deploying and ended (succeeded, failed
  or rolled back) and its end (``finished_at``) falls in the period;
- deployment frequency: those deployments per week, and the distinct UTC days
  with at least one, per week;
- change lead time: for each commit, its commit time → the end of the first
  successful (verified healthy) non-rollback deployment here that shipped it.
  The service's first successful deployment here is the baseline: its commits
  (everything written before relgate deployed the service) are excluded;
- change fail rate: deployments that failed (deploy or verification), were rolled
  back, or have an incident linked to them ÷ deployments;
- failed deployment recovery time: from the failure (the failed end, the
  rollback's request, or the incident's opening: the earliest) to the next
  deployment here that verified healthy, or to the resolution of every linked
  incident, whichever is first;
- deployment rework rate: rollbacks (manual and automatic) and hotfix
  promotions ÷ deployments.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from relgate.delivery.model import (
    CommitLead,
    CommitTime,
    DeliveryReport,
    DeploymentLead,
    DeploymentRecord,
    DeploymentRow,
    FailRate,
    Frequency,
    History,
    IncidentRecord,
    LeadTime,
    Recovery,
    RecoveryRow,
    ReleaseRecord,
    Rework,
    WeekRow,
)

ROLLBACK_KINDS = frozenset({"rollback", "auto-rollback"})
HOTFIX_KIND = "hotfix"
ENDED_STATES = frozenset({"succeeded", "failed", "rolled_back"})
WEEK = timedelta(days=7)

BASIS_LIST = "commit list"
BASIS_RELEASE_COMMIT = "release commit only"
BASIS_NONE = "no commit times"
BASIS_NOTHING_NEW = "nothing new"
BASIS_BASELINE = "first production deployment (excluded)"


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None for none."""
    return float(statistics.median(values)) if values else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile: the value at rank ceil(p/100 · n) of the sorted values.

    Always one of the values (p90 of 3 values is the largest); None for none.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


def ran(deployment: DeploymentRecord) -> bool:
    """Whether a deployment is one the measures count: it started and it ended."""
    return (
        deployment.state in ENDED_STATES
        and deployment.started_at is not None
        and deployment.finished_at is not None
    )


def _in(when: datetime | None, since: datetime, until: datetime) -> bool:
    return when is not None and since <= when < until


@dataclass(frozen=True)
class _Judged:
    """A counted deployment and what the history says about it."""

    record: DeploymentRecord
    failure_reasons: list[str]
    incidents: list[IncidentRecord]
    replaced_by: DeploymentRecord | None

    @property
    def failed(self) -> bool:
        return bool(self.failure_reasons)


def _replacements(deployments: Iterable[DeploymentRecord]) -> dict[int, DeploymentRecord]:
    """The first rollback that ran and replaced each deployment, by the replaced one's id."""
    found: dict[int, DeploymentRecord] = {}
    for d in sorted(deployments, key=lambda d: d.id):
        if d.kind in ROLLBACK_KINDS and d.replaces is not None and ran(d):
            found.setdefault(d.replaces, d)
    return found


def _judge(
    d: DeploymentRecord,
    replacements: dict[int, DeploymentRecord],
    incidents: dict[int, list[IncidentRecord]],
) -> _Judged:
    reasons: list[str] = []
    if d.verified_at is None:
        reasons.append(f"failed: {d.outcome}" if d.outcome else "failed")
    replaced = replacements.get(d.id)
    if replaced is not None:
        reasons.append(f"rolled back by deployment {replaced.id}")
    elif d.state == "rolled_back":
        reasons.append("rolled back")
    linked = sorted(incidents.get(d.id, []), key=lambda i: (i.opened_at, i.id))
    reasons.extend(f"incident {i.id}" for i in linked)
    return _Judged(d, reasons, linked, replaced)


def _row(j: _Judged) -> DeploymentRow:
    d = j.record
    assert d.finished_at is not None
    return DeploymentRow(
        id=d.id,
        version=d.version,
        previous_version=d.previous_version,
        kind=d.kind,
        state=d.state,
        finished_at=d.finished_at,
        succeeded=d.verified_at is not None,
        rework=d.kind in ROLLBACK_KINDS or d.kind == HOTFIX_KIND,
        failed=j.failed,
        failure_reasons=list(j.failure_reasons),
        incidents=[i.id for i in j.incidents],
    )


def compute(history: History, since: datetime, until: datetime) -> DeliveryReport:
    """Every measure of ``history`` over [since, until) with the rows behind each number."""
    if until <= since:
        raise ValueError("the period must end after it starts")
    mine = [d for d in history.deployments if d.environment == history.environment]
    by_deployment: dict[int, list[IncidentRecord]] = {}
    for incident in history.incidents:
        by_deployment.setdefault(incident.deployment_id, []).append(incident)
    replacements = _replacements(mine)
    counted = sorted(
        (d for d in mine if ran(d) and _in(d.finished_at, since, until)),
        key=lambda d: (d.finished_at, d.id),
    )
    judged = [_judge(d, replacements, by_deployment) for d in counted]
    rows = [_row(j) for j in judged]
    return DeliveryReport(
        service=history.service,
        environment=history.environment,
        since=since,
        until=until,
        frequency=_frequency(rows, since, until),
        lead_time=_lead_time(mine, history.releases, since, until),
        change_fail_rate=_fail_rate(rows, [i for j in judged for i in j.incidents]),
        recovery=_recovery(judged, mine),
        rework=_rework(rows),
    )


# --------------------------------------------------------------------------- frequency


def _frequency(rows: list[DeploymentRow], since: datetime, until: datetime) -> Frequency:
    weeks = (until - since) / WEEK
    days = {r.finished_at.date() for r in rows}
    by_week: list[WeekRow] = []
    start = since
    while start < until:
        end = min(start + WEEK, until)
        inside = [r for r in rows if start <= r.finished_at < end]
        by_week.append(
            WeekRow(start, end, len(inside), len({r.finished_at.date() for r in inside}))
        )
        start = end
    return Frequency(
        deployments=len(rows),
        successful=sum(1 for r in rows if r.succeeded),
        deployment_days=len(days),
        weeks=weeks,
        deployments_per_week=len(rows) / weeks,
        deployment_days_per_week=len(days) / weeks,
        by_week=by_week,
        rows=rows,
    )


# --------------------------------------------------------------------------- lead time


@dataclass(frozen=True)
class _Entry:
    sha: str
    committed_at: datetime
    basis: str


def _entries(release: ReleaseRecord) -> tuple[list[_Entry], str]:
    """The commits a release brought with their times, and how they are known."""
    if release.commits is not None:
        return [_Entry(c.sha, c.committed_at, BASIS_LIST) for c in release.commits], BASIS_LIST
    if release.committed_at is not None:
        sha = release.commit or f"release {release.version}"
        return [_Entry(sha, release.committed_at, BASIS_RELEASE_COMMIT)], BASIS_RELEASE_COMMIT
    return [], BASIS_NONE


def _precedence(version: str) -> object | None:
    from relgate.errors import InvalidVersion
    from relgate.versioning.semver import Version

    try:
        return Version.parse(version).precedence_key()
    except InvalidVersion:
        return None


def _brought_by(
    release: ReleaseRecord, releases: Sequence[ReleaseRecord], consumed: set[int]
) -> list[ReleaseRecord]:
    """The releases a deployment of ``release`` ships for the first time here.

    Itself, and every release created before it with a lower version that no
    earlier successful deployment here shipped (a promotion that skipped 1.1 and
    1.2 ships their commits with 1.3).
    """
    key = _precedence(release.version)
    found = [release] if release.id not in consumed else []
    if key is None:
        return found
    for other in releases:
        if other.id == release.id or other.id in consumed or other.id > release.id:
            continue
        other_key = _precedence(other.version)
        if other_key is not None and other_key <= key:  # type: ignore[operator]
            found.append(other)
    return found


def _lead_time(
    deployments: list[DeploymentRecord],
    releases: tuple[ReleaseRecord, ...],
    since: datetime,
    until: datetime,
) -> LeadTime:
    by_id = {r.id: r for r in releases}
    ordered_releases = sorted(releases, key=lambda r: r.id)
    shipping = sorted(
        (
            d
            for d in deployments
            if ran(d) and d.verified_at is not None and d.kind not in ROLLBACK_KINDS
        ),
        key=lambda d: (d.verified_at, d.id),
    )
    baseline = shipping[0].id if shipping else None
    consumed: set[int] = set()
    shipped: set[str] = set()
    leads: list[DeploymentLead] = []
    rows: list[CommitLead] = []
    fewer = False
    for d in shipping:
        assert d.verified_at is not None
        release = by_id.get(d.release_id) or ReleaseRecord(id=d.release_id, version=d.version)
        brought = _brought_by(release, ordered_releases, consumed)
        consumed.update(r.id for r in brought)
        entries: list[_Entry] = []
        bases: set[str] = set()
        cut = False
        for r in brought:
            found, basis = _entries(r)
            bases.add(basis)
            entries.extend(found)
            if r.commits is not None and r.commit_count is not None:
                cut = cut or r.commit_count > len(r.commits)
        new = []
        for entry in sorted(entries, key=lambda e: e.committed_at):
            if entry.sha not in shipped:
                shipped.add(entry.sha)
                new.append(entry)
        if not _in(d.verified_at, since, until):
            continue
        if d.id == baseline:
            leads.append(
                DeploymentLead(d.id, d.version, d.verified_at, 0, None, BASIS_BASELINE, len(new))
            )
            continue
        if not new:
            basis = BASIS_NONE if BASIS_NONE in bases else BASIS_NOTHING_NEW
        elif bases == {BASIS_LIST}:
            basis = BASIS_LIST
        else:
            basis = BASIS_RELEASE_COMMIT
        if basis in (BASIS_RELEASE_COMMIT, BASIS_NONE) or cut:
            fewer = True
        seconds = [(d.verified_at - e.committed_at).total_seconds() for e in new]
        rows.extend(
            CommitLead(e.sha, e.committed_at, d.id, d.version, d.verified_at, s, e.basis)
            for e, s in zip(new, seconds, strict=True)
        )
        leads.append(
            DeploymentLead(d.id, d.version, d.verified_at, len(new), median(seconds), basis)
        )
    values = [r.seconds for r in rows]
    return LeadTime(
        commits=len(rows),
        median_seconds=median(values),
        p90_seconds=percentile(values, 90),
        deployments=leads,
        rows=rows,
        fewer_data=fewer,
        baseline_deployment=baseline,
    )


# --------------------------------------------------------------------------- failures


def _fail_rate(rows: list[DeploymentRow], incidents: list[IncidentRecord]) -> FailRate:
    failed = [r for r in rows if r.failed]
    return FailRate(
        deployments=len(rows),
        failed=len(failed),
        rate=len(failed) / len(rows) if rows else None,
        rows=failed,
        incidents=sorted(incidents, key=lambda i: i.id),
    )


def _failed_at(j: _Judged) -> datetime:
    """When the failure began: the failed end, the rollback's request, the first incident."""
    d = j.record
    assert d.finished_at is not None
    moments = []
    if d.verified_at is None:
        moments.append(d.finished_at)
    if j.replaced_by is not None:
        moments.append(j.replaced_by.created_at)
    moments.extend(i.opened_at for i in j.incidents)
    return min(moments) if moments else d.finished_at


def _recovery(judged: list[_Judged], deployments: list[DeploymentRecord]) -> Recovery:
    rows: list[RecoveryRow] = []
    healthy = sorted(
        (d for d in deployments if ran(d) and d.verified_at is not None),
        key=lambda d: (d.verified_at, d.id),
    )
    for j in judged:
        if not j.failed:
            continue
        d = j.record
        failed_at = _failed_at(j)
        by = next(
            (
                h
                for h in healthy
                if h.id > d.id and h.verified_at is not None and h.verified_at >= failed_at
            ),
            None,
        )
        candidates: list[tuple[datetime, int | None, str]] = []
        if by is not None and by.verified_at is not None:
            candidates.append((by.verified_at, by.id, f"deployment {by.id} verified healthy"))
        if j.incidents and all(i.resolved_at is not None for i in j.incidents):
            resolved = max(i.resolved_at for i in j.incidents if i.resolved_at is not None)
            candidates.append((max(resolved, failed_at), None, "incidents resolved"))
        at: datetime | None = None
        recovered_by: int | None = None
        how = "not recovered yet"
        seconds: float | None = None
        if candidates:
            at, recovered_by, how = min(candidates, key=lambda c: c[0])
            seconds = (at - failed_at).total_seconds()
        rows.append(
            RecoveryRow(
                deployment_id=d.id,
                version=d.version,
                failed_at=failed_at,
                failure_reasons=list(j.failure_reasons),
                recovered_at=at,
                recovered_by=recovered_by,
                how=how,
                seconds=seconds,
            )
        )
    values = [r.seconds for r in rows if r.seconds is not None]
    return Recovery(
        failures=len(rows),
        recovered=len(values),
        median_seconds=median(values),
        p90_seconds=percentile(values, 90),
        rows=rows,
    )


def _rework(rows: list[DeploymentRow]) -> Rework:
    rollbacks = [r for r in rows if r.kind in ROLLBACK_KINDS]
    hotfixes = [r for r in rows if r.kind == HOTFIX_KIND]
    return Rework(
        deployments=len(rows),
        rollbacks=len(rollbacks),
        hotfixes=len(hotfixes),
        rate=(len(rollbacks) + len(hotfixes)) / len(rows) if rows else None,
        rows=[r for r in rows if r.rework],
    )


__all__ = ["CommitTime", "compute", "median", "percentile"]
