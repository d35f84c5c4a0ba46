"""The overview read model: every service × environment, what runs, what waits, what is next.

``OverviewViews.overview`` answers the web UI's overview page in a fixed
number of queries however many services there are (nine, plus the reports of
evidence not read before), and ``overview_changes`` tells which services
changed since a point of the audit log, so a page can update only their rows.

The gate badges are the real gates: for each environment's *next candidate*
(the newest release, by SemVer precedence, among the service's
``CANDIDATE_WINDOW`` newest registered releases, that is newer than what runs
there and has not been deployed there, or is being deployed or waits for
approval there now) the gates of the pipeline in force are evaluated by
``relgate.promotion.gates.evaluate_gates`` over the same facts
``check_gates`` (``relgate gates check``) reads: the release's evidence, where
it verified, the baselines, the approvals of its waiting deployment and the
time. Reading those facts is batched over all cells; parsed pipelines and
reports are cached by their row id (both rows are immutable).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from relgate.auth.model import Action, Principal
from relgate.promotion.core import PromotionCore
from relgate.promotion.model import DeploymentState
from relgate.promotion.pipeline import EnvironmentSpec, PipelineSpec
from relgate.promotion.views import GateView
from relgate.store.tables import (
    ApprovalRow,
    AuditRow,
    DeploymentRow,
    EnvironmentRow,
    EvidenceRow,
    FlagEnvironmentRow,
    FlagRow,
    PipelineRow,
    ReleaseRow,
    ServiceRow,
)
from relgate.store.uow import as_utc

# the next candidate is looked for among this many newest releases of a service
CANDIDATE_WINDOW = 10
# more audit events than this since the page's point: the page reloads its matrix
CHANGES_LIMIT = 500
# ids per IN (...) list: SQLite and PostgreSQL both take this many parameters
_CHUNK = 900

_ACTIVE = frozenset(
    {
        DeploymentState.REQUESTED.value,
        DeploymentState.WAITING_FOR_APPROVAL.value,
        DeploymentState.DEPLOYING.value,
        DeploymentState.VERIFYING.value,
    }
)
_WAITING = DeploymentState.WAITING_FOR_APPROVAL.value
_SUCCEEDED = DeploymentState.SUCCEEDED.value


# ---------------------------------------------------------------------- what it returns


@dataclass(frozen=True, slots=True)
class GateBadges:
    """The gates of one environment for one release: counts, and each gate with its reason."""

    passed: int
    failed: int
    missing: int
    gates: tuple[GateView, ...]

    @property
    def total(self) -> int:
        return len(self.gates)


@dataclass(frozen=True, slots=True)
class Candidate:
    """The release an environment would take next, and what its gates say there now."""

    version: str
    digest: str
    created_at: datetime
    gates: GateBadges
    deployment: int | None = None
    """The deployment of it that holds the environment now (waiting or deploying), if any."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One environment of one service."""

    environment: str
    position: int
    current: str | None
    current_digest: str | None
    deployed_at: datetime | None
    """When the deployment that put ``current`` here finished."""
    stable: str | None
    pinned: str | None
    pinned_reason: str | None
    last_deployment: int | None
    last_state: str | None
    last_version: str | None
    in_progress: bool
    """The last deployment holds the environment (requested, waiting, deploying, verifying)."""
    candidate: Candidate | None
    flags_on: int
    """Flags switched on in an environment of this name (flags are shared by services)."""

    @property
    def is_stable(self) -> bool:
        """What runs is the stable anchor (the last release that verified healthy here)."""
        return self.current is not None and self.current == self.stable


@dataclass(frozen=True, slots=True)
class ServiceOverview:
    service: str
    cells: tuple[Cell, ...]

    def cell(self, environment: str) -> Cell | None:
        return next((c for c in self.cells if c.environment == environment), None)


@dataclass(frozen=True, slots=True)
class WaitingApproval:
    """A deployment waiting for an approver."""

    deployment: int
    service: str
    environment: str
    version: str
    requested_by: str
    since: datetime


@dataclass(frozen=True, slots=True)
class Overview:
    head: int
    """The audit log's newest sequence number when this was read: where changes start."""
    environments: tuple[str, ...]
    """Every environment name shown, in pipeline order (the matrix's columns)."""
    services: tuple[ServiceOverview, ...]
    waiting: tuple[WaitingApproval, ...]
    read_at: datetime


@dataclass(frozen=True, slots=True)
class OverviewChanges:
    head: int
    """The newest audit sequence number looked at."""
    services: frozenset[str] | None
    """The services (within the caller's scope) whose rows changed; None: maybe all of them."""


# ---------------------------------------------------------------------- pure helpers


@lru_cache(maxsize=131072)
def precedence(version: str) -> Any:
    """The SemVer precedence key of ``version`` (cached: 100,000 parses would take 2 s)."""
    from relgate.versioning.semver import Version

    try:
        return Version.parse(version).precedence_key()
    except Exception:
        return None


def is_newer(candidate: tuple[int, str], than: tuple[int, str] | None) -> bool:
    """``relgate.promotion.lifecycle.is_newer`` on (release id, version) pairs, cached."""
    if than is None:
        return True
    mine, theirs = precedence(candidate[1]), precedence(than[1])
    if mine is None or theirs is None:
        return candidate[0] > than[0]
    return bool(mine > theirs)


def badges(gates: Iterable[GateView]) -> GateBadges:
    """Count ``gates`` by status."""
    listed = tuple(gates)
    return GateBadges(
        passed=sum(1 for g in listed if g.status == "pass"),
        failed=sum(1 for g in listed if g.status == "fail"),
        missing=sum(1 for g in listed if g.status == "missing"),
        gates=listed,
    )


def column_order(pipelines: Iterable[Sequence[str]]) -> list[str]:
    """Every environment name of ``pipelines``, each after the names before it in any pipeline.

    ``[["dev", "prod"], ["dev", "qa", "prod"]]`` -> ``["dev", "qa", "prod"]``. Names
    whose order pipelines disagree on keep the order they were first seen in.
    """
    order: list[str] = []
    for names in pipelines:
        last = -1
        for name in names:
            if name in order:
                last = max(last, order.index(name))
                continue
            order.insert(last + 1, name)
            last += 1
    return order


def audit_services(subject: str, deployment_services: dict[int, str]) -> str | None:
    """The service an audit subject is about; ``"*"`` for every service; None for none.

    ``deployment/N`` (looked up in ``deployment_services``), ``release/SVC@V`` and
    ``environment/SVC/ENV`` name one service; a pipeline (``service/SVC``), a flag
    or a segment may change every row.
    """
    kind, _, rest = subject.partition("/")
    if kind == "deployment":
        return deployment_services.get(int(rest)) if rest.isdigit() else None
    if kind == "release":
        return rest.partition("@")[0] or None
    if kind == "environment":
        return rest.partition("/")[0] or None
    # a pipeline applied may add a service or change the environments (the columns);
    # a flag or a segment changes the flag counts of every service
    if kind in ("service", "flag", "segment"):
        return "*"
    return None


# ---------------------------------------------------------------------- the use cases


class _Lru:
    """A small thread-safe LRU map (parsed pipelines and reports, keyed by immutable row ids)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: int) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: int, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_PIPELINES = _Lru(4096)
_REPORTS = _Lru(50000)


@dataclass(slots=True)
class _Env:
    service_id: int
    service: str
    name: str
    position: int
    current_id: int | None
    current: str | None
    current_digest: str | None
    stable_id: int | None
    stable: str | None
    pinned: str | None
    pinned_reason: str | None
    holder: int | None
    last_id: int | None
    last_state: str | None
    last_version: str | None
    last_release: int | None
    last_requested_by: str | None
    last_created_at: datetime | None
    deployed_at: datetime | None

    @property
    def in_progress(self) -> bool:
        return (
            self.holder is not None and self.holder == self.last_id and self.last_state in _ACTIVE
        )


@dataclass(slots=True)
class _Release:
    id: int
    service_id: int
    version: str
    digest: str
    author: str | None
    created_at: datetime


class OverviewViews(PromotionCore):
    """The overview's reading use cases (mixed into PromotionService)."""

    def change_marker(self) -> int:
        """The audit log's newest sequence number: it grows with every change of state."""
        with self._uow() as uow:
            return int(uow.session.scalar(select(func.max(AuditRow.seq))) or 0)

    def overview_changes(
        self, principal: Principal, since: int, *, limit: int = CHANGES_LIMIT
    ) -> OverviewChanges:
        """Which services' overview rows may have changed after audit event ``since``.

        Only services within ``principal``'s scope are named. ``services`` is None
        when anything may have changed (a flag changed, or more than ``limit``
        events happened): the page then reads the whole overview again.
        """
        principal.require(Action.READ)
        with self._uow() as uow:
            session = uow.session
            rows = session.execute(
                select(AuditRow.seq, AuditRow.subject)
                .where(AuditRow.seq > since)
                .order_by(AuditRow.seq)
                .limit(limit + 1)
            ).all()
            if not rows:
                return OverviewChanges(head=since, services=frozenset())
            head = int(rows[-1][0])
            if len(rows) > limit:
                return OverviewChanges(head=head, services=None)
            numbers = {
                int(rest)
                for _, subject in rows
                for kind, _, rest in [subject.partition("/")]
                if kind == "deployment" and rest.isdigit()
            }
            by_deployment: dict[int, str] = {}
            for chunk in _chunks(sorted(numbers)):
                by_deployment.update(
                    session.execute(
                        select(DeploymentRow.id, ServiceRow.name)
                        .join(ServiceRow, ServiceRow.id == DeploymentRow.service_id)
                        .where(DeploymentRow.id.in_(chunk))
                    ).all()
                )
        names: set[str] = set()
        for _, subject in rows:
            name = audit_services(subject, by_deployment)
            if name == "*":
                return OverviewChanges(head=head, services=None)
            if name is not None and principal.may_touch_service(name):
                names.add(name)
        return OverviewChanges(head=head, services=frozenset(names))

    def overview_columns(self, principal: Principal) -> tuple[str, ...]:
        """The environment names the principal's overview shows, in pipeline order."""
        principal.require(Action.READ)
        query = (
            select(EnvironmentRow.service_id, EnvironmentRow.name)
            .where(EnvironmentRow.active.is_(True))
            .order_by(EnvironmentRow.service_id, EnvironmentRow.position)
        )
        if principal.services is not None:
            query = query.join(ServiceRow, ServiceRow.id == EnvironmentRow.service_id).where(
                ServiceRow.name.in_(sorted(principal.services))
            )
        if principal.environments is not None:
            query = query.where(EnvironmentRow.name.in_(sorted(principal.environments)))
        pipelines: dict[int, list[str]] = defaultdict(list)
        with self._uow() as uow:
            for service_id, name in uow.session.execute(query):
                pipelines[service_id].append(name)
        return tuple(column_order(pipelines.values()))

    def approval_queue(self, principal: Principal) -> list[WaitingApproval]:
        """The deployments waiting for an approver that the principal may read, oldest first."""
        principal.require(Action.READ)
        query = (
            select(
                DeploymentRow.id,
                ServiceRow.name,
                DeploymentRow.environment,
                DeploymentRow.version,
                DeploymentRow.requested_by,
                DeploymentRow.created_at,
            )
            .join(EnvironmentRow, EnvironmentRow.holder_deployment_id == DeploymentRow.id)
            .join(ServiceRow, ServiceRow.id == EnvironmentRow.service_id)
            .where(DeploymentRow.state == _WAITING, EnvironmentRow.active.is_(True))
            .order_by(DeploymentRow.created_at, DeploymentRow.id)
        )
        if principal.services is not None:
            query = query.where(ServiceRow.name.in_(sorted(principal.services)))
        if principal.environments is not None:
            query = query.where(EnvironmentRow.name.in_(sorted(principal.environments)))
        with self._uow() as uow:
            return [
                WaitingApproval(id_, service, env, version or "", by, as_utc(at))
                for id_, service, env, version, by, at in uow.session.execute(query)
            ]

    def overview(self, principal: Principal, services: Collection[str] | None = None) -> Overview:
        """Every service (or those named in ``services``) the principal may read, by environment.

        A token scoped to some services or environments sees only those; names
        outside its scope in ``services`` are left out (never an error: a page
        asks for the services that changed).
        """
        principal.require(Action.READ)
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            head = int(session.scalar(select(func.max(AuditRow.seq))) or 0)
            envs = self._overview_envs(session, principal, services)
            specs = _pipelines(session, {e.service_id for e in envs})
            recent = _recent_releases(session, {e.service_id for e in envs})
            deployed = _deployed(session, [r.id for rs in recent.values() for r in rs])
            picks = _candidates(envs, recent, deployed)
            gates = self._candidate_gates(session, envs, picks, specs, deployed, now)
            flags = _flags_on(session, {e.name for e in envs})
        by_service: dict[str, list[Cell]] = defaultdict(list)
        waiting: list[WaitingApproval] = []
        for env in envs:
            pick = picks.get((env.service_id, env.name))
            candidate = None
            if pick is not None:
                release, holder = pick
                candidate = Candidate(
                    version=release.version,
                    digest=release.digest,
                    created_at=as_utc(release.created_at),
                    gates=gates[(env.service_id, env.name)],
                    deployment=holder,
                )
            by_service[env.service].append(
                Cell(
                    environment=env.name,
                    position=env.position,
                    current=env.current,
                    current_digest=env.current_digest,
                    deployed_at=as_utc(env.deployed_at) if env.deployed_at else None,
                    stable=env.stable,
                    pinned=env.pinned,
                    pinned_reason=env.pinned_reason,
                    last_deployment=env.last_id,
                    last_state=env.last_state,
                    last_version=env.last_version,
                    in_progress=env.in_progress,
                    candidate=candidate,
                    flags_on=flags.get(env.name, 0),
                )
            )
            if env.in_progress and env.last_state == _WAITING and env.last_id is not None:
                waiting.append(
                    WaitingApproval(
                        deployment=env.last_id,
                        service=env.service,
                        environment=env.name,
                        version=env.last_version or "",
                        requested_by=env.last_requested_by or "",
                        since=as_utc(env.last_created_at) if env.last_created_at else now,
                    )
                )
        waiting.sort(key=lambda w: (w.since, w.deployment))
        columns = column_order([c.environment for c in cells] for cells in by_service.values())
        return Overview(
            head=head,
            environments=tuple(columns),
            services=tuple(
                ServiceOverview(service=name, cells=tuple(cells))
                for name, cells in by_service.items()
            ),
            waiting=tuple(waiting),
            read_at=now,
        )

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _overview_envs(
        session: Session, principal: Principal, services: Collection[str] | None
    ) -> list[_Env]:
        last = aliased(DeploymentRow)
        current = aliased(ReleaseRow)
        since = aliased(DeploymentRow)
        # the deployment that put what runs here: the newest finished one of that release
        put_in = (
            select(func.max(since.id))
            .where(
                since.service_id == EnvironmentRow.service_id,
                since.environment == EnvironmentRow.name,
                since.release_id == EnvironmentRow.current_release_id,
                since.finished_at.is_not(None),
            )
            .correlate(EnvironmentRow)
            .scalar_subquery()
        )
        finished = aliased(DeploymentRow)
        query = (
            select(
                ServiceRow.id,
                ServiceRow.name,
                EnvironmentRow.name,
                EnvironmentRow.position,
                EnvironmentRow.current_release_id,
                EnvironmentRow.current_version,
                current.digest,
                EnvironmentRow.stable_release_id,
                EnvironmentRow.stable_version,
                EnvironmentRow.pinned_version,
                EnvironmentRow.pinned_reason,
                EnvironmentRow.holder_deployment_id,
                last.id,
                last.state,
                last.version,
                last.release_id,
                last.requested_by,
                last.created_at,
                finished.finished_at,
            )
            .join(EnvironmentRow, EnvironmentRow.service_id == ServiceRow.id)
            .outerjoin(last, last.id == EnvironmentRow.last_deployment_id)
            .outerjoin(current, current.id == EnvironmentRow.current_release_id)
            .outerjoin(finished, finished.id == put_in)
            .where(EnvironmentRow.active.is_(True))
            .order_by(ServiceRow.name, EnvironmentRow.position)
        )
        wanted: set[str] | None = None if services is None else set(services)
        if principal.services is not None:
            wanted = set(principal.services) if wanted is None else wanted & principal.services
        if wanted is not None:
            if not wanted:
                return []
            query = query.where(ServiceRow.name.in_(sorted(wanted)))
        if principal.environments is not None:
            query = query.where(EnvironmentRow.name.in_(sorted(principal.environments)))
        return [_Env(*list(row)) for row in session.execute(query)]

    def _candidate_gates(
        self,
        session: Session,
        envs: list[_Env],
        picks: dict[tuple[int, str], tuple[_Release, int | None]],
        specs: dict[int, PipelineSpec],
        deployed: dict[int, dict[str, set[str]]],
        now: datetime,
    ) -> dict[tuple[int, str], GateBadges]:
        """Evaluate each candidate's gates, reading every fact they need in a few queries."""
        from relgate.promotion.gates import (
            ApprovalItem,
            EvidenceItem,
            GateContext,
            PerformanceGate,
            evaluate_gates,
        )
        from relgate.promotion.reports import EvidenceKind, PerformanceReport

        if not picks:
            return {}
        release_ids = sorted({release.id for release, _ in picks.values()})
        evidence = _evidence(session, release_ids)
        holders = sorted({holder for _, holder in picks.values() if holder is not None})
        approvals: dict[int, list[ApprovalItem]] = defaultdict(list)
        for chunk in _chunks(holders):
            for deployment_id, approver, decision, comment, created_at in session.execute(
                select(
                    ApprovalRow.deployment_id,
                    ApprovalRow.approver,
                    ApprovalRow.decision,
                    ApprovalRow.comment,
                    ApprovalRow.created_at,
                )
                .where(ApprovalRow.deployment_id.in_(chunk))
                .order_by(ApprovalRow.id)
            ):
                assert deployment_id is not None
                approvals[deployment_id].append(
                    ApprovalItem(approver, decision, comment, as_utc(created_at))  # type: ignore[arg-type]
                )
        requesters: dict[int, str] = {}
        for chunk in _chunks(holders):
            requesters.update(
                session.execute(
                    select(DeploymentRow.id, DeploymentRow.requested_by).where(
                        DeploymentRow.id.in_(chunk)
                    )
                ).all()
            )
        # performance baselines: the stable release of the baseline environment
        stable_of = {(e.service_id, e.name): e.stable_id for e in envs}
        wanted_baselines: set[int] = set()
        for (service_id, name), _ in picks.items():
            env_spec = _env_spec(specs, service_id, name)
            for gate in env_spec.gates if env_spec else ():
                if isinstance(gate, PerformanceGate):
                    stable = stable_of.get((service_id, gate.baseline_environment))
                    if stable is None:
                        stable = _stable_release(session, service_id, gate.baseline_environment)
                    if stable is not None:
                        wanted_baselines.add(stable)
        baselines = _baselines(session, sorted(wanted_baselines))

        names = {e.service_id: e.service for e in envs}
        results: dict[tuple[int, str], GateBadges] = {}
        for (service_id, name), (release, holder) in picks.items():
            spec = specs.get(service_id)
            env_spec = spec.environment(name) if spec else None
            if spec is None or env_spec is None:
                results[(service_id, name)] = badges(())
                continue
            previous = spec.previous(name)
            base: dict[str, PerformanceReport | None] = {}
            for gate in env_spec.gates:
                if isinstance(gate, PerformanceGate):
                    stable = stable_of.get((service_id, gate.baseline_environment))
                    if stable is None:
                        stable = _stable_release(session, service_id, gate.baseline_environment)
                    base[gate.baseline_environment] = (
                        baselines.get(stable) if stable is not None else None
                    )
            context = GateContext(
                environment=name,
                previous_environment=previous.name if previous else None,
                release_author=release.author,
                requested_by=requesters.get(holder) if holder is not None else None,
                evidence=[
                    EvidenceItem(EvidenceKind(kind), environment, report, created_at)
                    for kind, environment, report, created_at in evidence.get(release.id, ())
                ],
                baselines=base,
                verified_in=frozenset(deployed.get(release.id, {}).get("verified", ())),
                approvals=approvals.get(holder, []) if holder is not None else [],
                now=now,
                release=f"{names[service_id]}@{release.version}",
                artifact_digest=release.digest,
            )
            results[(service_id, name)] = badges(
                GateView(gate=r.gate, status=str(r.status), reason=r.reason)
                for r in evaluate_gates(env_spec.gates, context)
            )
        return results


# ---------------------------------------------------------------------- batched reads


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for offset in range(0, len(ids), _CHUNK):
        yield ids[offset : offset + _CHUNK]


def _env_spec(specs: dict[int, PipelineSpec], service_id: int, name: str) -> EnvironmentSpec | None:
    spec = specs.get(service_id)
    return spec.environment(name) if spec else None


def _pipelines(session: Session, service_ids: set[int]) -> dict[int, PipelineSpec]:
    """service id -> its pipeline in force (the newest active revision), parsed once per row."""
    if not service_ids:
        return {}
    newest: dict[int, int] = {}
    for pipeline_id, service_id in session.execute(
        select(PipelineRow.id, PipelineRow.service_id)
        .where(PipelineRow.status == "active")
        .order_by(PipelineRow.service_id, PipelineRow.revision)
    ):
        if service_id in service_ids:
            newest[service_id] = pipeline_id  # ordered by revision: the last is in force
    specs: dict[int, PipelineSpec] = {}
    missing: dict[int, int] = {}
    for service_id, pipeline_id in newest.items():
        cached = _PIPELINES.get(pipeline_id)
        if cached is not None:
            specs[service_id] = cached
        else:
            missing[pipeline_id] = service_id
    for chunk in _chunks(sorted(missing)):
        for pipeline_id, spec in session.execute(
            select(PipelineRow.id, PipelineRow.spec).where(PipelineRow.id.in_(chunk))
        ):
            try:
                parsed = PipelineSpec.model_validate(spec)
            except ValueError:
                continue
            _PIPELINES.put(pipeline_id, parsed)
            specs[missing[pipeline_id]] = parsed
    return specs


def _recent_releases(session: Session, service_ids: set[int]) -> dict[int, list[_Release]]:
    """service id -> its ``CANDIDATE_WINDOW`` newest registered releases, newest SemVer first."""
    if not service_ids:
        return {}
    inner = aliased(ReleaseRow)
    floor = (
        select(inner.id)
        .where(inner.service_id == ServiceRow.id)
        .order_by(inner.id.desc())
        .limit(1)
        .offset(CANDIDATE_WINDOW - 1)
        .correlate(ServiceRow)
        .scalar_subquery()
    )
    query = (
        select(
            ReleaseRow.id,
            ReleaseRow.service_id,
            ReleaseRow.version,
            ReleaseRow.digest,
            ReleaseRow.author,
            ReleaseRow.created_at,
        )
        .join(
            ServiceRow,
            and_(ServiceRow.id == ReleaseRow.service_id, ReleaseRow.id >= func.coalesce(floor, 0)),
        )
        .order_by(ReleaseRow.service_id, ReleaseRow.id)
    )
    if len(service_ids) <= _CHUNK:
        query = query.where(ServiceRow.id.in_(sorted(service_ids)))
    found: dict[int, list[_Release]] = defaultdict(list)
    for row in session.execute(query):
        if row[1] in service_ids:
            found[row[1]].append(_Release(*row))
    for releases in found.values():
        releases.sort(key=_newest_first_key)
    return found


def _newest_first_key(release: _Release) -> tuple[int, Any, int]:
    key = precedence(release.version)
    # SemVer versions first, newest first (releases are checked to be SemVer on creation)
    return (0, _Reverse(key), -release.id) if key is not None else (1, 0, -release.id)


class _Reverse:
    """Sorts its value in reverse order."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and bool(self.value == other.value)

    __hash__ = None  # type: ignore[assignment]


def _deployed(session: Session, release_ids: list[int]) -> dict[int, dict[str, set[str]]]:
    """release id -> the environments where a deployment of it "ended", is "active", "verified"."""
    found: dict[int, dict[str, set[str]]] = defaultdict(
        lambda: {"ended": set(), "verified": set(), "active": set()}
    )
    for chunk in _chunks(sorted(release_ids)):
        for release_id, environment, state, verified_at in session.execute(
            select(
                DeploymentRow.release_id,
                DeploymentRow.environment,
                DeploymentRow.state,
                DeploymentRow.verified_at,
            ).where(DeploymentRow.release_id.in_(chunk))
        ):
            facts = found[release_id]
            if state in _ACTIVE:
                facts["active"].add(environment)
            else:
                facts["ended"].add(environment)
            if state == _SUCCEEDED and verified_at is not None:
                facts["verified"].add(environment)
    return found


def _candidates(
    envs: list[_Env],
    recent: dict[int, list[_Release]],
    deployed: dict[int, dict[str, set[str]]],
) -> dict[tuple[int, str], tuple[_Release, int | None]]:
    """(service id, environment) -> its next candidate and the deployment of it holding it."""
    picks: dict[tuple[int, str], tuple[_Release, int | None]] = {}
    for env in envs:
        current = (env.current_id, env.current) if env.current_id and env.current else None
        for release in recent.get(env.service_id, ()):
            if not is_newer((release.id, release.version), current):
                break  # newest first: the rest are older still
            facts = deployed.get(release.id)
            if env.in_progress and env.last_release == release.id:
                picks[(env.service_id, env.name)] = (release, env.last_id)
                break
            if facts is not None and (env.name in facts["ended"] or env.name in facts["active"]):
                continue
            picks[(env.service_id, env.name)] = (release, None)
            break
    return picks


def _evidence(
    session: Session, release_ids: list[int]
) -> dict[int, list[tuple[str, str | None, Any, datetime]]]:
    """release id -> its evidence (kind, environment, parsed report, time), oldest first."""
    from relgate.promotion.reports import load_report

    rows: list[tuple[int, int, str, str | None, datetime]] = []
    for chunk in _chunks(release_ids):
        rows.extend(
            session.execute(
                select(
                    EvidenceRow.id,
                    EvidenceRow.release_id,
                    EvidenceRow.kind,
                    EvidenceRow.environment,
                    EvidenceRow.created_at,
                ).where(EvidenceRow.release_id.in_(chunk))
            )
        )
    rows.sort()
    reports: dict[int, Any] = {}
    unread = []
    for evidence_id, *_ in rows:
        cached = _REPORTS.get(evidence_id)
        if cached is None:
            unread.append(evidence_id)
        else:
            reports[evidence_id] = cached
    kinds = {row[0]: row[2] for row in rows}
    for chunk in _chunks(unread):
        for evidence_id, stored in session.execute(
            select(EvidenceRow.id, EvidenceRow.report).where(EvidenceRow.id.in_(chunk))
        ):
            report: Any
            try:
                report = load_report(kinds[evidence_id], stored)
            except Exception:  # a stored report of an older format: the gate says it is not one
                report = _Unreadable()
            _REPORTS.put(evidence_id, report)
            reports[evidence_id] = report
    found: dict[int, list[tuple[str, str | None, Any, datetime]]] = defaultdict(list)
    for evidence_id, release_id, kind, environment, created_at in rows:
        found[release_id].append((kind, environment, reports[evidence_id], as_utc(created_at)))
    return found


class _Unreadable:
    """A stored report that no longer loads: no gate accepts it as its report."""


def _stable_release(session: Session, service_id: int, environment: str) -> int | None:
    """The stable release of an environment not shown (outside the scope, or inactive)."""
    return session.scalar(
        select(EnvironmentRow.stable_release_id).where(
            EnvironmentRow.service_id == service_id, EnvironmentRow.name == environment
        )
    )


def _baselines(session: Session, release_ids: list[int]) -> dict[int, Any]:
    """release id -> its newest performance report."""
    from relgate.promotion.reports import load_report

    found: dict[int, Any] = {}
    for chunk in _chunks(release_ids):
        for release_id, stored in session.execute(
            select(EvidenceRow.release_id, EvidenceRow.report)
            .where(EvidenceRow.release_id.in_(chunk), EvidenceRow.kind == "performance")
            .order_by(EvidenceRow.id)
        ):
            found[release_id] = load_report("performance", stored)  # the newest wins
    return found


def _flags_on(session: Session, environments: set[str]) -> dict[str, int]:
    """environment name -> how many live (not archived) flags are on there."""
    if not environments:
        return {}
    return dict(
        session.execute(
            select(FlagEnvironmentRow.environment, func.count())
            .join(FlagRow, FlagRow.id == FlagEnvironmentRow.flag_id)
            .where(
                FlagEnvironmentRow.enabled.is_(True),
                FlagRow.archived_at.is_(None),
                FlagEnvironmentRow.environment.in_(sorted(environments)),
            )
            .group_by(FlagEnvironmentRow.environment)
        ).all()
    )
