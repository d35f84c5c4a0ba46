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

import itertools
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
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
# the kept rows of services with a freeze gate (it opens and closes with the minute) are
# read again at the latest after this long
CACHE_SECONDS = 30.0
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
    stamp: int = field(default=0, compare=False)
    """Differs between two reads of the row unless it is the same read (kept by the cache)."""

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
    timed: frozenset[str] = field(default=frozenset(), compare=False)
    """The services with a freeze gate: what their gates say changes with the minute."""


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
    """A small thread-safe LRU map: parsed pipelines and reports by row id, gate results."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


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

        The whole overview of a scope is kept with the audit point it was read
        at: while nothing changed it is answered again, after a change only the
        rows of the services that changed are read again (``overview_changes``;
        all of them when a flag or a pipeline changed), the rows of services with
        a freeze gate at the latest after ``CACHE_SECONDS``, and all of it again
        on a new day (UTC).
        """
        principal.require(Action.READ)
        if services is not None:
            return self._read_overview(principal, services)
        key = (principal.services, principal.environments)
        cache = _overview_cache(self)
        with cache.lock:
            kept = cache.entries.get(key)
        now = self._clock.now()
        if kept is not None and kept.day == now.date():
            old = kept.overview
            changed: set[str] | None = set()
            head = old.head
            if self.change_marker() != old.head:
                changes = self.overview_changes(principal, old.head)
                head = changes.head
                changed = None if changes.services is None else set(changes.services)
            timed_at = kept.timed_at
            if changed is not None and old.timed and time.monotonic() - timed_at >= CACHE_SECONDS:
                changed |= old.timed
                timed_at = time.monotonic()
            if changed is not None:
                if changed:
                    fresh = self._read_overview(principal, changed)
                    merged = _merge(old, fresh, changed, head)
                else:
                    merged = replace(old, head=head, read_at=now)
                with cache.lock:
                    cache.entries[key] = _Kept(kept.day, timed_at, merged)
                return merged
        began = time.monotonic()
        whole = self._read_overview(principal, None)
        with cache.lock:
            if len(cache.entries) > 64:
                cache.entries.clear()
            cache.entries[key] = _Kept(now.date(), began, whole)
        return whole

    def _read_overview(self, principal: Principal, services: Collection[str] | None) -> Overview:
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            head = int(session.scalar(select(func.max(AuditRow.seq))) or 0)
            envs = self._overview_envs(session, principal, services)
            service_ids = {e.service_id for e in envs}
            kept = _overview_cache(self)
            specs = _pipelines(session, service_ids, kept.pipelines)
            window = _window(service_ids)
            recent = _recent_releases(session, service_ids, window)
            deployed = _deployed(session, window)
            picks = _candidates(envs, recent, deployed)
            gates = _candidate_gates(session, envs, picks, specs, deployed, window, now, kept)
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
                ServiceOverview(service=name, cells=tuple(cells), stamp=next(_STAMPS))
                for name, cells in sorted(by_service.items())
            ),
            waiting=tuple(waiting),
            read_at=now,
            timed=frozenset(
                env.service
                for env in envs
                if (parsed := specs.get(env.service_id)) is not None and env.name in parsed.timed
            ),
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
        return [_Env(*list(row)) for row in session.connection().execute(query).all()]


def _candidate_gates(
    session: Session,
    envs: list[_Env],
    picks: dict[tuple[int, str], tuple[_Release, int | None]],
    specs: dict[int, _Parsed],
    deployed: _Deployed,
    window: Any,
    now: datetime,
    kept: _OverviewCache,
) -> dict[tuple[int, str], GateBadges]:
    """Evaluate each candidate's gates, reading every fact they need in a few queries.

    A result is kept under every input of its gates (the pipeline revision, the
    release, its evidence, where it verified, the approvals and requester of its
    waiting deployment, the baselines, the day) and reused while none of them
    changes; an environment with a freeze gate (which depends on the minute) is
    evaluated every time.
    """
    from relgate.promotion.anchors import stable_releases
    from relgate.promotion.gates import ApprovalItem, EvidenceItem, GateContext, evaluate_gates
    from relgate.promotion.migration_gate import MigrationsGate
    from relgate.promotion.rehearsal_store import rehearsal_facts
    from relgate.promotion.reports import EvidenceKind

    if not picks:
        return {}
    evidence = _evidence(
        session, window, {release.id for release, _ in picks.values()}, kept.reports
    )
    approvals: dict[int, list[tuple[int, ApprovalItem]]] = defaultdict(list)
    if any(holder is not None for _, holder in picks.values()):
        holding = select(EnvironmentRow.holder_deployment_id).where(
            EnvironmentRow.holder_deployment_id.is_not(None)
        )
        for approval_id, deployment_id, approver, decision, comment, created_at in session.execute(
            select(
                ApprovalRow.id,
                ApprovalRow.deployment_id,
                ApprovalRow.approver,
                ApprovalRow.decision,
                ApprovalRow.comment,
                ApprovalRow.created_at,
            )
            .where(ApprovalRow.deployment_id.in_(holding.scalar_subquery()))
            .order_by(ApprovalRow.id)
        ):
            assert deployment_id is not None
            item = ApprovalItem(approver, decision, comment, as_utc(created_at))  # type: ignore[arg-type]
            approvals[deployment_id].append((approval_id, item))
    by_key = {(e.service_id, e.name): e for e in envs}
    # performance baselines: the newest performance report of the baseline's stable release
    stable_of: dict[tuple[int, str], int | None] = {}
    for (service_id, name), _ in picks.items():
        parsed = specs.get(service_id)
        for gate in parsed.performance.get(name, ()) if parsed else ():
            key = (service_id, gate.baseline_environment)
            if key not in stable_of:
                shown = by_key.get(key)
                stable_of[key] = shown.stable_id if shown else _stable_release(session, *key)
    baselines = _baselines(session, sorted({i for i in stable_of.values() if i is not None}))

    # the release stable where a migrations gate stands (contract changes wait for it)
    anchors = stable_releases(session, _with_gate(picks, specs, MigrationsGate))

    today = now.date()
    results: dict[tuple[int, str], GateBadges] = {}
    for (service_id, name), (release, holder) in picks.items():
        parsed = specs.get(service_id)
        env_spec = parsed.environments.get(name) if parsed else None
        if parsed is None or env_spec is None:
            results[(service_id, name)] = badges(())
            continue
        env = by_key[(service_id, name)]
        requested_by = env.last_requested_by if holder is not None else None
        items = evidence.get(release.id, [])
        waiting = approvals.get(holder, []) if holder is not None else []
        verified = frozenset(deployed.verified.get(release.id, ()))
        base = {
            gate.baseline_environment: baselines.get(
                stable_of.get((service_id, gate.baseline_environment)) or 0
            )
            for gate in parsed.performance.get(name, ())
        }
        # a rollback_rehearsed gate reads the history of its `in` environment: never kept
        rehearsal = rehearsal_facts(session, service_id, env_spec, release.id, release.version)
        timeless = name not in parsed.timed and rehearsal is None
        memo = (
            parsed.id,
            name,
            release.id,
            requested_by,
            tuple(item[0] for item in items),
            verified,
            tuple(approval_id for approval_id, _ in waiting),
            tuple(sorted((env_name, b[0]) for env_name, b in base.items() if b is not None)),
            today,
            env.stable_id,
        )
        if timeless:
            known = kept.gates.get(memo)
            if known is not None:
                results[(service_id, name)] = known
                continue
        context = GateContext(
            environment=name,
            previous_environment=parsed.previous[name],
            release_author=release.author,
            requested_by=requested_by,
            evidence=[
                EvidenceItem(EvidenceKind(kind), environment, report, created_at)
                for _, kind, environment, report, created_at in items
            ],
            baselines={env_name: b[1] if b else None for env_name, b in base.items()},
            verified_in=verified,
            approvals=[item for _, item in waiting],
            now=now,
            release=f"{env.service}@{release.version}",
            artifact_digest=release.digest,
            rehearsal=rehearsal,
            stable=anchors.get((service_id, name)),
        )
        result = badges(
            GateView(gate=r.gate, status=str(r.status), reason=r.reason)
            for r in evaluate_gates(env_spec.gates, context)
        )
        if timeless:
            kept.gates.put(memo, result)
        results[(service_id, name)] = result
    return results


def _with_gate(
    picks: Collection[tuple[int, str]], specs: dict[int, _Parsed], kind: type
) -> set[tuple[int, str]]:
    """The (service id, environment) pairs of ``picks`` whose gates include one of ``kind``."""
    found: set[tuple[int, str]] = set()
    for service_id, name in picks:
        parsed = specs.get(service_id)
        env_spec = parsed.environments.get(name) if parsed else None
        if env_spec is not None and any(isinstance(gate, kind) for gate in env_spec.gates):
            found.add((service_id, name))
    return found


_STAMPS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class _Kept:
    day: date
    """The day (UTC) of the whole read: an accepted vulnerability expires with the day."""
    timed_at: float
    """When (monotonic) the services with a freeze gate were read last."""
    overview: Overview


@dataclass
class _OverviewCache:
    """What one service object keeps between reads: whole overviews, and by row id the
    parsed pipelines, parsed evidence and gate badges (ids name rows of its one database:
    a cache shared by the process mixed up two databases' rows, e.g. test after test)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: dict[Any, _Kept] = field(default_factory=dict)
    pipelines: _Lru = field(default_factory=lambda: _Lru(4096))
    reports: _Lru = field(default_factory=lambda: _Lru(50000))
    gates: _Lru = field(default_factory=lambda: _Lru(50000))


def _overview_cache(owner: object) -> _OverviewCache:
    found: _OverviewCache | None = owner.__dict__.get("_overview_cache_")
    if found is None:
        found = owner.__dict__.setdefault("_overview_cache_", _OverviewCache())
    return found


def _merge(old: Overview, fresh: Overview, changed: Collection[str], head: int) -> Overview:
    """``old`` with the rows (and queue entries) of the ``changed`` services read again."""
    rows = {row.service: row for row in fresh.services}
    services = [rows.pop(row.service, row) for row in old.services if row.service not in changed]
    services += [rows[row.service] for row in old.services if row.service in rows]
    kept = {row.service for row in old.services}
    services += [row for name, row in rows.items() if name not in kept]
    services.sort(key=lambda row: row.service)
    waiting = [w for w in old.waiting if w.service not in changed] + list(fresh.waiting)
    waiting.sort(key=lambda w: (w.since, w.deployment))
    return Overview(
        head=head,  # what the changes were looked for up to (``fresh`` may have read later)
        environments=old.environments,
        services=tuple(services),
        waiting=tuple(waiting),
        read_at=fresh.read_at,
        timed=(old.timed - set(changed)) | fresh.timed,
    )


# ---------------------------------------------------------------------- batched reads


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for offset in range(0, len(ids), _CHUNK):
        yield ids[offset : offset + _CHUNK]


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A pipeline revision in force, parsed, with what the gates of each environment need."""

    id: int
    environments: dict[str, EnvironmentSpec]
    previous: dict[str, str | None]
    performance: dict[str, tuple[Any, ...]]
    """Environment -> its performance gates (they compare with a baseline)."""
    timed: frozenset[str]
    """The environments with a freeze gate: their result depends on the minute."""

    @classmethod
    def of(cls, pipeline_id: int, spec: PipelineSpec) -> _Parsed:
        from relgate.promotion.gates import FreezeGate, PerformanceGate

        names = [env.name for env in spec.environments]
        return cls(
            id=pipeline_id,
            environments={env.name: env for env in spec.environments},
            previous={name: names[i - 1] if i else None for i, name in enumerate(names)},
            performance={
                env.name: tuple(g for g in env.gates if isinstance(g, PerformanceGate))
                for env in spec.environments
            },
            timed=frozenset(
                env.name
                for env in spec.environments
                if any(isinstance(g, FreezeGate) for g in env.gates)
            ),
        )


def _pipelines(session: Session, service_ids: set[int], kept: _Lru) -> dict[int, _Parsed]:
    """service id -> its pipeline in force (the newest active revision), parsed once per row."""
    if not service_ids:
        return {}
    newest: dict[int, int] = {}
    for pipeline_id, service_id in (
        session.connection()
        .execute(
            select(PipelineRow.id, PipelineRow.service_id)
            .where(PipelineRow.status == "active")
            .order_by(PipelineRow.service_id, PipelineRow.revision)
        )
        .all()
    ):
        if service_id in service_ids:
            newest[service_id] = pipeline_id  # ordered by revision: the last is in force
    specs: dict[int, _Parsed] = {}
    missing: dict[int, int] = {}
    for service_id, pipeline_id in newest.items():
        cached = kept.get(pipeline_id)
        if cached is not None:
            specs[service_id] = cached
        else:
            missing[pipeline_id] = service_id
    for chunk in _chunks(sorted(missing)):
        for pipeline_id, spec in session.execute(
            select(PipelineRow.id, PipelineRow.spec).where(PipelineRow.id.in_(chunk))
        ):
            try:
                parsed = _Parsed.of(pipeline_id, PipelineSpec.model_validate(spec))
            except ValueError:
                continue
            kept.put(pipeline_id, parsed)
            specs[missing[pipeline_id]] = parsed
    return specs


def _window(service_ids: set[int]) -> Any:
    """A subquery of the ids of each service's ``CANDIDATE_WINDOW`` newest registered releases.

    The floor of each service's window (one index seek per service) is
    materialized first, then each window is one index range: left to itself the
    SQLite planner scans every release and seeks the floor for each.
    """
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
    floors = select(ServiceRow.id.label("sid"), func.coalesce(floor, 0).label("floor"))
    if len(service_ids) <= _CHUNK:
        floors = floors.where(ServiceRow.id.in_(sorted(service_ids)))
    cte = floors.cte("overview_floors").prefix_with("MATERIALIZED")
    window = aliased(ReleaseRow)
    query = select(window.id).join(
        cte, and_(window.service_id == cte.c.sid, window.id >= cte.c.floor)
    )
    return query.scalar_subquery()


def _recent_releases(
    session: Session, service_ids: set[int], window: Any
) -> dict[int, list[_Release]]:
    """service id -> its ``CANDIDATE_WINDOW`` newest registered releases, newest SemVer first."""
    if not service_ids:
        return {}
    query = select(
        ReleaseRow.id,
        ReleaseRow.service_id,
        ReleaseRow.version,
        ReleaseRow.digest,
        ReleaseRow.author,
    ).where(ReleaseRow.id.in_(window))
    found: dict[int, list[_Release]] = defaultdict(list)
    for row in session.connection().execute(query).all():
        if row[1] in service_ids:
            found[row[1]].append(_Release(*row))
    for releases in found.values():
        releases.sort(key=_newest_first_key, reverse=True)
    return found


def _newest_first_key(release: _Release) -> tuple[int, Any, int]:
    """Sorted with reverse=True: SemVer versions newest first (then by registration)."""
    key = precedence(release.version)
    # releases are checked to be SemVer on creation; anything else sorts last
    return (1, key, release.id) if key is not None else (0, (), release.id)


@dataclass(slots=True)
class _Deployed:
    """(release id, environment) pairs: a deployment of it ended there, runs there, verified."""

    ended: set[tuple[int, str]]
    active: set[tuple[int, str]]
    verified: dict[int, set[str]]


def _deployed(session: Session, window: Any) -> _Deployed:
    """Where the releases of ``window`` were deployed."""
    found = _Deployed(set(), set(), defaultdict(set))
    for release_id, environment, state, verified in (
        session.connection()
        .execute(
            select(
                DeploymentRow.release_id,
                DeploymentRow.environment,
                DeploymentRow.state,
                DeploymentRow.verified_at.is_not(None),
            ).where(DeploymentRow.release_id.in_(window))
        )
        .all()
    ):
        (found.active if state in _ACTIVE else found.ended).add((release_id, environment))
        if state == _SUCCEEDED and verified:
            found.verified[release_id].add(environment)
    return found


def _candidates(
    envs: list[_Env],
    recent: dict[int, list[_Release]],
    deployed: _Deployed,
) -> dict[tuple[int, str], tuple[_Release, int | None]]:
    """(service id, environment) -> its next candidate and the deployment of it holding it."""
    picks: dict[tuple[int, str], tuple[_Release, int | None]] = {}
    for env in envs:
        current = (env.current_id, env.current) if env.current_id and env.current else None
        for release in recent.get(env.service_id, ()):
            if not is_newer((release.id, release.version), current):
                break  # newest first: the rest are older still
            if env.in_progress and env.last_release == release.id:
                picks[(env.service_id, env.name)] = (release, env.last_id)
                break
            pair = (release.id, env.name)
            if pair in deployed.ended or pair in deployed.active:
                continue
            picks[(env.service_id, env.name)] = (release, None)
            break
    return picks


def _evidence(
    session: Session, window: Any, wanted: set[int], reports: _Lru
) -> dict[int, list[tuple[int, str, str | None, Any, datetime]]]:
    """release id (of ``wanted``) -> its evidence (id, kind, environment, report, time), in order.

    Only ids are read each time (from the index: an evidence row holds its whole
    report); each row's facts are read and its report parsed once, then kept
    (evidence is immutable).
    """
    from relgate.promotion.reports import load_report

    rows = sorted(
        (int(id_), int(release_id))
        for id_, release_id in session.connection()
        .execute(
            select(EvidenceRow.id, EvidenceRow.release_id).where(EvidenceRow.release_id.in_(window))
        )
        .all()
        if release_id in wanted
    )
    facts: dict[int, tuple[int, str, str | None, Any, datetime]] = {}
    unread = []
    for evidence_id, _ in rows:
        cached = reports.get(evidence_id)
        if cached is None:
            unread.append(evidence_id)
        else:
            facts[evidence_id] = cached
    for chunk in _chunks(unread):
        for evidence_id, kind, environment, created_at, stored in session.execute(
            select(
                EvidenceRow.id,
                EvidenceRow.kind,
                EvidenceRow.environment,
                EvidenceRow.created_at,
                EvidenceRow.report,
            ).where(EvidenceRow.id.in_(chunk))
        ):
            report: Any
            try:
                report = load_report(kind, stored)
            except Exception:  # a stored report of an older format: the gate says it is not one
                report = _Unreadable()
            item = (evidence_id, kind, environment, report, as_utc(created_at))
            reports.put(evidence_id, item)
            facts[evidence_id] = item
    found: dict[int, list[tuple[int, str, str | None, Any, datetime]]] = defaultdict(list)
    for evidence_id, release_id in rows:
        found[release_id].append(facts[evidence_id])
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


def _baselines(session: Session, release_ids: list[int]) -> dict[int, tuple[int, Any]]:
    """release id -> (evidence id, report) of its newest performance report."""
    from relgate.promotion.reports import load_report

    found: dict[int, tuple[int, Any]] = {}
    for chunk in _chunks(release_ids):
        for evidence_id, release_id, stored in session.execute(
            select(EvidenceRow.id, EvidenceRow.release_id, EvidenceRow.report)
            .where(EvidenceRow.release_id.in_(chunk), EvidenceRow.kind == "performance")
            .order_by(EvidenceRow.id)
        ):
            try:
                found[release_id] = (evidence_id, load_report("performance", stored))
            except Exception:  # an unreadable baseline is no baseline
                found.pop(release_id, None)
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
