"""Loading and saving the lifecycle objects: rows to Deployment/Environment and back.

``SqlDeployments`` works in the caller's session (one unit of work);
``MemoryDeployments`` keeps the same objects in dicts for fast unit tests of
the use cases (relgate.promotion.transitions). Both refuse to let a second
deployment hold an environment: the SQL one with the conditional UPDATE
``... WHERE holder_deployment_id IS NULL`` that only one transaction can win,
across threads, processes and replicas.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from relgate.errors import Conflict, NotFound
from relgate.notify.events import DomainEvent
from relgate.promotion.lifecycle import Deployment, Environment, ReleaseRef, drain
from relgate.promotion.model import DeploymentKind, DeploymentState
from relgate.promotion.pipeline import EnvironmentSpec
from relgate.store import queries
from relgate.store.tables import DeploymentRow, EnvironmentRow, JobRow, ReleaseRow, ServiceRow
from relgate.store.uow import as_utc

_T = TypeVar("_T", Deployment, Environment)


class DeploymentStore(Protocol):
    """What the use cases need from a store of deployments and environments."""

    def environment(self, service: str, name: str, *, lock: bool = False) -> Environment: ...

    def deployment(self, deployment_id: int) -> Deployment: ...

    def add(self, deployment: Deployment) -> None:
        """Store a new deployment and give it its id."""

    def save(self, *objects: Deployment | Environment) -> None:
        """Write changed objects back; Conflict when another deployment took the environment."""

    def queue_job(self, deployment: Deployment, now: datetime) -> None:
        """Queue the deploy job a worker claims."""

    def events(self) -> list[DomainEvent]:
        """Take the events recorded by every object loaded or added so far."""


def apply_spec(env: Environment, spec: EnvironmentSpec | None) -> Environment:
    """Copy the pipeline's rules for ``env`` onto it (what the rows do not hold)."""
    if spec is not None:
        env.auto_promote = spec.auto_promote
        env.auto_rollback = spec.auto_rollback
    return env


class SqlDeployments:
    """The lifecycle objects over relgate's tables, in one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._envs: dict[int, tuple[Environment, EnvironmentRow, int | None]] = {}
        self._deployments: dict[int, tuple[Deployment, DeploymentRow]] = {}
        self._services: dict[int, str] = {}
        self._releases: dict[int, ReleaseRef] = {}

    # ------------------------------------------------------------------ loading

    def release(self, release_id: int | None) -> ReleaseRef | None:
        if release_id is None:
            return None
        if release_id not in self._releases:
            row = self.session.get(ReleaseRow, release_id)
            if row is None:
                return None
            self._releases[release_id] = ReleaseRef(row.id, row.version, row.artifact)
        return self._releases[release_id]

    def _service_name(self, service_id: int) -> str:
        if service_id not in self._services:
            row = self.session.get(ServiceRow, service_id)
            self._services[service_id] = row.name if row else "?"
        return self._services[service_id]

    def environment(self, service: str, name: str, *, lock: bool = False) -> Environment:
        svc = queries.service_by_name(self.session, service)
        try:
            return self.environment_of(queries.environment(self.session, svc, name, lock=lock))
        except NotFound:
            # a deployment that ran while its environment left the pipeline still ends
            row = self.session.scalar(
                select(EnvironmentRow).where(
                    EnvironmentRow.service_id == svc.id, EnvironmentRow.name == name
                )
            )
            if row is None:
                raise
            return self.environment_of(row)

    def environment_of(self, row: EnvironmentRow) -> Environment:
        """The Environment for a row loaded by the caller (kept in step with it)."""
        known = self._envs.get(row.id)
        if known is not None and known[1] is row:
            return known[0]
        env = Environment(
            id=row.id,
            service=self._service_name(row.service_id),
            name=row.name,
            holder=row.holder_deployment_id,
            last_deployment=row.last_deployment_id,
            current=self.release(row.current_release_id),
            stable=self.release(row.stable_release_id),
            stable_deployment=row.stable_deployment_id,
            pinned=self.release(row.pinned_release_id),
            pinned_reason=row.pinned_reason,
        )
        self._envs[row.id] = (env, row, row.holder_deployment_id)
        return env

    def environment_row(self, env: Environment) -> EnvironmentRow:
        return self._envs[env.id][1]

    def deployment(self, deployment_id: int) -> Deployment:
        known = self._deployments.get(deployment_id)
        if known is not None:
            return known[0]
        return self.deployment_of(queries.deployment(self.session, deployment_id))

    def deployment_of(self, row: DeploymentRow) -> Deployment:
        known = self._deployments.get(row.id)
        if known is not None and known[1] is row:
            return known[0]
        release = self.release(row.release_id)
        assert release is not None
        deployment = Deployment(
            id=row.id,
            service=self._service_name(row.service_id),
            environment=row.environment,
            release=release,
            kind=DeploymentKind(row.kind),
            state=DeploymentState(row.state),
            requested_by=row.requested_by,
            requested_by_identity=row.requested_by_identity,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            pipeline_revision=row.pipeline_revision,
            previous=self.release(row.previous_release_id),
            reason=row.reason,
            outcome=row.outcome,
            gate_results=list(row.gate_results or []),
            replaces=row.replaces_deployment_id,
            started_at=as_utc(row.started_at) if row.started_at else None,
            finished_at=as_utc(row.finished_at) if row.finished_at else None,
            verified_at=as_utc(row.verified_at) if row.verified_at else None,
        )
        self._deployments[row.id] = (deployment, row)
        return deployment

    def row(self, deployment: Deployment) -> DeploymentRow:
        return self._deployments[deployment.number][1]

    def holder(self, env: Environment) -> Deployment | None:
        """The deployment holding ``env``, if any."""
        if env.holder is None:
            return None
        try:
            return self.deployment(env.holder)
        except NotFound:
            return None

    # ------------------------------------------------------------------ saving

    def add(self, deployment: Deployment) -> None:
        service_id = self.session.scalar(
            select(ServiceRow.id).where(ServiceRow.name == deployment.service)
        )
        assert service_id is not None
        row = DeploymentRow(service_id=service_id, log="")
        self._write_deployment(deployment, row)
        self.session.add(row)
        self.session.flush()
        deployment.id = row.id
        self._services[service_id] = deployment.service
        self._deployments[row.id] = (deployment, row)

    @staticmethod
    def _write_deployment(d: Deployment, row: DeploymentRow) -> None:
        row.environment = d.environment
        row.release_id = d.release.id
        row.version = d.release.version
        row.previous_release_id = d.previous.id if d.previous else None
        row.pipeline_revision = d.pipeline_revision
        row.kind = d.kind.value
        row.state = d.state.value
        row.requested_by = d.requested_by
        row.requested_by_identity = d.requested_by_identity
        row.reason = d.reason
        row.outcome = d.outcome
        row.gate_results = list(d.gate_results)
        row.replaces_deployment_id = d.replaces
        row.created_at = d.created_at
        row.updated_at = d.updated_at
        row.started_at = d.started_at
        row.finished_at = d.finished_at
        row.verified_at = d.verified_at

    def save(self, *objects: Deployment | Environment) -> None:
        for obj in objects:
            if isinstance(obj, Deployment):
                self._write_deployment(obj, self.row(obj))
            else:
                self._save_environment(obj)
        self.session.flush()

    def _save_environment(self, env: Environment) -> None:
        _, row, loaded_holder = self._envs[env.id]
        if env.holder != loaded_holder:
            if env.holder is not None:
                # the conditional UPDATE is what makes "one deployment per environment" hold
                # across threads, processes and replicas: only one transaction can see NULL
                taken = self.session.execute(
                    update(EnvironmentRow)
                    .where(
                        EnvironmentRow.id == env.id,
                        EnvironmentRow.holder_deployment_id.is_(None),
                    )
                    .values(holder_deployment_id=env.holder, last_deployment_id=env.holder)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    raise Conflict(f"{env.name} of {env.service} is held by another deployment")
            else:
                # let go only of what this deployment holds, like taking it
                assert loaded_holder is not None
                self.session.execute(
                    update(EnvironmentRow)
                    .where(
                        EnvironmentRow.id == env.id,
                        EnvironmentRow.holder_deployment_id == loaded_holder,
                    )
                    .values(holder_deployment_id=None)
                )
            self.session.expire(row, ["holder_deployment_id", "last_deployment_id"])
            self._envs[env.id] = (env, row, env.holder)
        row.current_release_id = env.current.id if env.current else None
        row.current_version = env.current.version if env.current else None
        row.stable_release_id = env.stable.id if env.stable else None
        row.stable_version = env.stable.version if env.stable else None
        row.stable_deployment_id = env.stable_deployment
        row.pinned_release_id = env.pinned.id if env.pinned else None
        row.pinned_version = env.pinned.version if env.pinned else None
        row.pinned_reason = env.pinned_reason

    def queue_job(self, deployment: Deployment, now: datetime) -> None:
        self.session.add(
            JobRow(kind="deploy", deployment_id=deployment.number, state="queued", created_at=now)
        )

    def events(self) -> list[DomainEvent]:
        return drain(
            *(env for env, _, _ in self._envs.values()),
            *(d for d, _ in self._deployments.values()),
        )


@dataclass
class MemoryDeployments:
    """The same store in dicts: for unit tests of the use cases, no database.

    Objects handed out are copies; ``save`` writes them back, refusing a hold
    when the stored environment is held already (as the conditional UPDATE does).
    """

    environments: dict[tuple[str, str], Environment] = field(default_factory=dict)
    deployments: dict[int, Deployment] = field(default_factory=dict)
    jobs: list[int] = field(default_factory=list)
    outbox: list[DomainEvent] = field(default_factory=list)
    _loaded: list[Deployment | Environment] = field(default_factory=list)

    def put(self, env: Environment) -> Environment:
        self.environments[(env.service, env.name)] = env
        return env

    def environment(self, service: str, name: str, *, lock: bool = False) -> Environment:
        stored = self.environments.get((service, name))
        if stored is None:
            raise NotFound(f"service {service!r} has no environment {name!r}")
        env = copy.deepcopy(stored)
        self._loaded.append(env)
        return env

    def deployment(self, deployment_id: int) -> Deployment:
        stored = self.deployments.get(deployment_id)
        if stored is None:
            raise NotFound(f"no deployment {deployment_id}")
        deployment = copy.deepcopy(stored)
        self._loaded.append(deployment)
        return deployment

    def add(self, deployment: Deployment) -> None:
        deployment.id = max(self.deployments, default=0) + 1
        self.deployments[deployment.id] = _stored(deployment)
        self._loaded.append(deployment)

    def save(self, *objects: Deployment | Environment) -> None:
        for obj in objects:
            if isinstance(obj, Deployment):
                self.deployments[obj.number] = _stored(obj)
                continue
            stored = self.environments[(obj.service, obj.name)]
            if obj.holder is not None and stored.holder not in (None, obj.holder):
                raise Conflict(f"{obj.name} of {obj.service} is held by another deployment")
            self.environments[(obj.service, obj.name)] = _stored(obj)

    def queue_job(self, deployment: Deployment, now: datetime) -> None:
        self.jobs.append(deployment.number)

    def events(self) -> list[DomainEvent]:
        loaded, self._loaded = self._loaded, []
        return drain(*loaded)

    def commit(self) -> None:
        """What the unit of work does: the drained events reach the outbox with the change."""
        self.outbox.extend(self.events())


def _stored(obj: _T) -> _T:
    """A copy to keep: its events belong to the caller's copy, which drains them."""
    kept = copy.deepcopy(obj)
    kept.events.clear()
    return kept
