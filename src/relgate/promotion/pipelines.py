"""Use cases of pipelines: apply relgate.yaml, and review a change that weakens protection.

A revision that weakens a protected environment (relgate.promotion.protection),
applied by a token that is not an admin's, is stored as **pending**: the
revision in force stays in force, and an approver who is neither the applier
nor the author of the change approves or rejects it. A change that only
tightens, or touches only unprotected environments, takes effect at once; so
does an admin's, with the weakenings in its audit event. A newer apply
supersedes a pending revision. Revisions are rows of one table with a status
(see the migration 0006 for why); the newest ``active`` one is in force.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.model import Action, Principal, Role
from relgate.clock import Clock
from relgate.errors import Conflict, Forbidden, NotFound
from relgate.limits import check_text
from relgate.manifest.pipeline import ServicePipeline
from relgate.promotion.deployers import DeployerService
from relgate.promotion.pipeline import PipelineSpec
from relgate.promotion.protection import ProtectionDiff, compare_protection
from relgate.store import queries
from relgate.store.tables import EnvironmentRow, PipelineRow, ServiceRow
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory, as_utc


class RevisionStatus(StrEnum):
    ACTIVE = "active"  # took effect; the newest active revision is in force
    PENDING = "pending"  # weakens protection; waits for an approver
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a newer apply came before anyone decided


@dataclass(frozen=True)
class PipelineRevision:
    """One stored revision of a service's pipeline, with its review."""

    service: str
    revision: int
    status: RevisionStatus
    applied_by: str
    applied_at: datetime
    author: str | None
    weakens: list[dict[str, str]]
    tightens: list[dict[str, str]]
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_comment: str | None = None
    in_force: int | None = None
    source: str | None = None


@dataclass(frozen=True)
class ApplyResult:
    """What `relgate apply` did: the revision stored (or found) and its protection diff."""

    service: str
    revision: int
    changed: bool
    status: RevisionStatus
    in_force: int
    created: bool = False
    environments: list[str] = field(default_factory=list)
    weakens: list[dict[str, str]] = field(default_factory=list)
    tightens: list[dict[str, str]] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)
    message: str = ""


class PipelineService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, deployers: DeployerService) -> None:
        self._uow = uow
        self._clock = clock
        self._deployers = deployers

    # ------------------------------------------------------------------ apply

    def apply(
        self, principal: Principal, applied: ServicePipeline, *, author: str | None = None
    ) -> ApplyResult:
        """Store ``applied`` as the service's next revision, in force or pending review.

        Returns the result: unchanged (same text as the revision in force, or as
        the one already pending), active, or pending with what it weakens.
        ``author`` is who wrote the change (the commit author), who may not
        approve it. Raises InvalidConfig naming the file, line and field for a
        ``deployer: {ref}`` that no admin registered, Forbidden for a token that
        may not apply pipelines of this service.
        """
        principal.require(Action.APPLY_PIPELINE, service=applied.service)
        check_text("author", author, limits.PIPELINE_AUTHOR)
        for declared in applied.pipeline.environments:  # a pipeline sets every environment's rules
            principal.require(
                Action.APPLY_PIPELINE, service=applied.service, environment=declared.name
            )
        now = self._clock.now()
        spec = applied.pipeline.model_dump(mode="json")
        digest = hashlib.sha256(applied.source.encode()).hexdigest()
        with self._uow() as uow:
            session = uow.session
            for index, name in applied.pipeline.deployer_refs():
                if not self._deployers.is_registered(session, name):
                    raise applied.error(
                        ("environments", index, "deployer", "ref"),
                        f"no deployer {name!r} is registered on this server: an admin registers "
                        f"it with `relgate deployers add {name} --type command --command ...` "
                        "(`relgate deployers list` shows those there are)",
                    )
            svc = session.scalar(
                select(ServiceRow).where(ServiceRow.name == applied.service).with_for_update()
            )
            created = svc is None
            if svc is None:
                svc = ServiceRow(name=applied.service, created_at=now)
                session.add(svc)
                session.flush()
            in_force = self._in_force(session, svc)
            pending = self._pending(session, svc)
            if in_force is not None and in_force.spec == spec and in_force.source_sha256 == digest:
                superseded = self._supersede(uow, svc, pending, None, principal, now)
                uow.commit()
                return ApplyResult(
                    service=svc.name,
                    revision=in_force.revision,
                    changed=False,
                    status=RevisionStatus.ACTIVE,
                    in_force=in_force.revision,
                    superseded=superseded,
                    message=f"{svc.name} pipeline unchanged (revision {in_force.revision})",
                )
            same = next(
                (row for row in pending if row.spec == spec and row.source_sha256 == digest), None
            )
            if same is not None and in_force is not None:
                changes = same.changes or {}
                return ApplyResult(
                    service=svc.name,
                    revision=same.revision,
                    changed=False,
                    status=RevisionStatus.PENDING,
                    in_force=in_force.revision,
                    weakens=changes.get("weakens", []),
                    tightens=changes.get("tightens", []),
                    message=_pending_line(svc.name, same.revision, in_force.revision),
                )
            before = PipelineSpec.model_validate(in_force.spec) if in_force is not None else None
            for name in _environment_names(before) - _environment_names(applied.pipeline):
                # dropping an environment changes its rules too
                principal.require(Action.APPLY_PIPELINE, service=applied.service, environment=name)
            diff = compare_protection(before, applied.pipeline, now=now)
            status = (
                RevisionStatus.PENDING
                if diff.weakens and principal.role is not Role.ADMIN
                else RevisionStatus.ACTIVE
            )
            revision = (
                session.scalar(
                    select(func.max(PipelineRow.revision)).where(PipelineRow.service_id == svc.id)
                )
                or 0
            ) + 1
            superseded = self._supersede(uow, svc, pending, revision, principal, now)
            row = PipelineRow(
                service_id=svc.id,
                revision=revision,
                spec=spec,
                source=applied.source,
                source_sha256=digest,
                applied_by=principal.name,
                applied_by_identity=principal.identity,
                applied_at=now,
                author=author,
                status=status.value,
                changes=diff.as_dict(),
            )
            session.add(row)
            session.flush()
            names = [env.name for env in applied.pipeline.environments]
            if status is RevisionStatus.ACTIVE:
                self._activate(uow, svc, row, in_force, principal.name, diff, now)
                message = f"applied {svc.name} pipeline revision {revision}: " + " -> ".join(names)
                if diff.weakens:
                    message += " (an admin's apply: it weakens protection, as the audit records)"
            else:
                audit.append(
                    uow,
                    actor=principal.name,
                    action="pipeline.pending",
                    subject=f"service/{svc.name}",
                    at=now,
                    before=_revision_state(in_force),
                    after={
                        "revision": revision,
                        "spec": spec,
                        "source_sha256": digest,
                        "author": author,
                        "weakens": [c.message for c in diff.weakenings],
                    },
                )
                message = _pending_line(svc.name, revision, in_force.revision if in_force else 0)
            uow.commit()
            changes = diff.as_dict()
            return ApplyResult(
                service=svc.name,
                revision=revision,
                changed=True,
                status=status,
                in_force=revision
                if status is RevisionStatus.ACTIVE
                else (in_force.revision if in_force else 0),
                created=created,
                environments=names,
                weakens=changes["weakens"],
                tightens=changes["tightens"],
                superseded=superseded,
                message=message,
            )

    # ------------------------------------------------------------------ reading

    def pipeline(self, principal: Principal, service: str) -> dict[str, Any]:
        """Return the pipeline in force for ``service``, with its revision, source and pending ones.

        Raises NotFound for an unknown service or one with no pipeline in force.
        """
        principal.require(Action.READ, service=service)
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            row = queries.latest_pipeline(uow.session, svc)
            return {
                "service": service,
                "revision": row.revision,
                "applied_by": row.applied_by,
                "applied_at": as_utc(row.applied_at),
                "spec": row.spec,
                "source": row.source,
                "pending": [r.revision for r in self._pending(uow.session, svc)],
            }

    def pending(self, principal: Principal, service: str | None = None) -> list[PipelineRevision]:
        """Return the revisions waiting for review (of one service, or of all), oldest first."""
        principal.require(Action.READ, service=service)
        with self._uow() as uow:
            session = uow.session
            query = (
                select(PipelineRow, ServiceRow.name)
                .join(ServiceRow, ServiceRow.id == PipelineRow.service_id)
                .where(PipelineRow.status == RevisionStatus.PENDING.value)
                .order_by(ServiceRow.name, PipelineRow.revision)
            )
            if service is not None:
                query = query.where(
                    PipelineRow.service_id == queries.service_by_name(session, service).id
                )
            out = []
            for row, name in session.execute(query).all():
                if principal.services is not None and name not in principal.services:
                    continue
                in_force = self._in_force(session, session.get(ServiceRow, row.service_id))
                out.append(_view(name, row, in_force.revision if in_force else None))
            return out

    def revision(self, principal: Principal, service: str, revision: int) -> PipelineRevision:
        """Return one stored revision with its source; raises NotFound for an unknown one."""
        principal.require(Action.READ, service=service)
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            row = self._revision(uow.session, svc, revision)
            in_force = self._in_force(uow.session, svc)
            return _view(svc.name, row, in_force.revision if in_force else None, source=True)

    # ------------------------------------------------------------------ review

    def decide(
        self,
        principal: Principal,
        service: str,
        revision: int,
        *,
        approve: bool,
        comment: str = "",
    ) -> PipelineRevision:
        """Approve (it takes effect) or reject a pending revision of ``service``.

        Raises Forbidden for a token without the approver role or whose scope
        leaves out an environment the revision or the one in force names, and, to approve,
        for the applier of the revision or the author of the change (compared
        as identities); Conflict when the revision is not pending (naming what
        it is) or names a deployer that is no longer registered; NotFound for
        an unknown service or revision.
        """
        principal.require(Action.APPROVE, service=service)
        check_text("comment", comment, limits.COMMENT)
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            svc = session.scalar(
                select(ServiceRow).where(ServiceRow.name == service).with_for_update()
            )
            if svc is None:
                queries.service_by_name(session, service)
                raise AssertionError("unreachable")  # pragma: no cover
            row = self._revision(session, svc, revision)
            if row.status != RevisionStatus.PENDING.value:
                raise Conflict(_not_pending(svc.name, row, self._newer(session, svc, row)))
            if approve:
                applier = principal.is_person(row.applied_by) or principal.is_person(
                    row.applied_by_identity
                )
                if applier:
                    raise Forbidden(
                        f"{principal.name} applied revision {revision} of {service} and cannot "
                        "approve it: another approver must"
                    )
                if principal.is_person(row.author):
                    raise Forbidden(
                        f"{principal.name} wrote revision {revision} of {service} "
                        f"(author {row.author}) and cannot approve it: another approver must"
                    )
            spec = PipelineSpec.model_validate(row.spec)
            in_force = self._in_force(session, svc)
            # a revision sets the rules of every environment it names and drops the others:
            # an approver scoped to dev must not let production's protection go
            before = PipelineSpec.model_validate(in_force.spec) if in_force else None
            for name in sorted(_environment_names(spec) | _environment_names(before)):
                principal.require(Action.APPROVE, service=service, environment=name)
            row.reviewed_by = principal.name
            row.reviewed_at = now
            row.review_comment = comment
            weakens = [c["message"] for c in (row.changes or {}).get("weakens", [])]
            if approve:
                for _, name in spec.deployer_refs():
                    if not self._deployers.is_registered(session, name):
                        raise Conflict(
                            f"revision {revision} of {service} uses the deployer {name!r}, which "
                            "is no longer registered: register it again or apply a new revision"
                        )
                row.status = RevisionStatus.ACTIVE.value
                self._sync_environments(session, svc, spec)
                audit.append(
                    uow,
                    actor=principal.name,
                    action="pipeline.approved",
                    subject=f"service/{svc.name}",
                    at=now,
                    before=_revision_state(in_force),
                    after={
                        "revision": revision,
                        "spec": row.spec,
                        "applied_by": row.applied_by,
                        "comment": comment,
                        "weakens": weakens,
                    },
                )
            else:
                row.status = RevisionStatus.REJECTED.value
                audit.append(
                    uow,
                    actor=principal.name,
                    action="pipeline.rejected",
                    subject=f"service/{svc.name}",
                    at=now,
                    after={
                        "revision": revision,
                        "applied_by": row.applied_by,
                        "comment": comment,
                        "weakens": weakens,
                    },
                )
            uow.commit()
            in_force_now = revision if approve else (in_force.revision if in_force else None)
            return _view(svc.name, row, in_force_now)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _in_force(session: Session, svc: ServiceRow | None) -> PipelineRow | None:
        if svc is None:
            return None
        return session.scalar(
            select(PipelineRow)
            .where(
                PipelineRow.service_id == svc.id,
                PipelineRow.status == RevisionStatus.ACTIVE.value,
            )
            .order_by(PipelineRow.revision.desc())
            .limit(1)
        )

    @staticmethod
    def _pending(session: Session, svc: ServiceRow) -> list[PipelineRow]:
        return list(
            session.scalars(
                select(PipelineRow)
                .where(
                    PipelineRow.service_id == svc.id,
                    PipelineRow.status == RevisionStatus.PENDING.value,
                )
                .order_by(PipelineRow.revision)
            )
        )

    @staticmethod
    def _revision(session: Session, svc: ServiceRow, revision: int) -> PipelineRow:
        row = session.scalar(
            select(PipelineRow).where(
                PipelineRow.service_id == svc.id, PipelineRow.revision == revision
            )
        )
        if row is None:
            raise NotFound(f"{svc.name} has no pipeline revision {revision}")
        return row

    @staticmethod
    def _newer(session: Session, svc: ServiceRow, row: PipelineRow) -> int | None:
        return session.scalar(
            select(func.min(PipelineRow.revision)).where(
                PipelineRow.service_id == svc.id, PipelineRow.revision > row.revision
            )
        )

    def _supersede(
        self,
        uow: UnitOfWork,
        svc: ServiceRow,
        pending: list[PipelineRow],
        by: int | None,
        principal: Principal,
        now: datetime,
    ) -> list[int]:
        """Mark ``pending`` revisions superseded by revision ``by`` (None: by re-applying the one
        in force); audit each and return their numbers."""
        for row in pending:
            row.status = RevisionStatus.SUPERSEDED.value
            audit.append(
                uow,
                actor=principal.name,
                action="pipeline.superseded",
                subject=f"service/{svc.name}",
                at=now,
                before={"revision": row.revision, "status": RevisionStatus.PENDING.value},
                after={"revision": row.revision, "superseded_by": by},
            )
        return [row.revision for row in pending]

    def _activate(
        self,
        uow: UnitOfWork,
        svc: ServiceRow,
        row: PipelineRow,
        previous: PipelineRow | None,
        actor: str,
        diff: ProtectionDiff,
        now: datetime,
    ) -> None:
        self._sync_environments(uow.session, svc, PipelineSpec.model_validate(row.spec))
        after: dict[str, Any] = {
            "revision": row.revision,
            "spec": row.spec,
            "source_sha256": row.source_sha256,
        }
        if row.author:
            after["author"] = row.author
        if diff.weakens:
            # only an admin's apply takes effect while weakening protection: say so
            after["weakened_protection"] = [c.message for c in diff.weakenings]
        if diff.tightenings:
            after["tightened_protection"] = [c.message for c in diff.tightenings]
        audit.append(
            uow,
            actor=actor,
            action="pipeline.applied",
            subject=f"service/{svc.name}",
            at=now,
            before=_revision_state(previous),
            after=after,
        )

    @staticmethod
    def _sync_environments(session: Session, svc: ServiceRow, spec: PipelineSpec) -> None:
        existing = {
            row.name: row
            for row in session.scalars(
                select(EnvironmentRow).where(EnvironmentRow.service_id == svc.id)
            )
        }
        names = [env.name for env in spec.environments]
        for position, name in enumerate(names):
            env = existing.get(name)
            if env is None:
                session.add(
                    EnvironmentRow(service_id=svc.id, name=name, position=position, active=True)
                )
            else:
                env.position = position
                env.active = True
        for name, env in existing.items():
            if name not in names:
                env.active = False


def _revision_state(row: PipelineRow | None) -> dict[str, Any] | None:
    return {"revision": row.revision, "spec": row.spec} if row is not None else None


def _pending_line(service: str, revision: int, in_force: int) -> str:
    return (
        f"{service} pipeline revision {revision} weakens a protected environment: it is pending "
        f"review and revision {in_force} stays in force until an approver who is neither the "
        f"applier nor the author approves it: relgate pipeline approve {service} {revision}"
    )


def _not_pending(service: str, row: PipelineRow, newer: int | None) -> str:
    if row.status == RevisionStatus.SUPERSEDED.value:
        by = f" by revision {newer}" if newer is not None else " by re-applying the one in force"
        return f"revision {row.revision} of {service} was superseded{by}; nothing to decide"
    if row.status == RevisionStatus.REJECTED.value:
        return f"revision {row.revision} of {service} was rejected by {row.reviewed_by}"
    if row.reviewed_by:
        return f"revision {row.revision} of {service} was approved by {row.reviewed_by}"
    return f"revision {row.revision} of {service} took effect when applied; nothing to decide"


def _view(
    service: str, row: PipelineRow, in_force: int | None, *, source: bool = False
) -> PipelineRevision:
    changes = row.changes or {}
    return PipelineRevision(
        service=service,
        revision=row.revision,
        status=RevisionStatus(row.status),
        applied_by=row.applied_by,
        applied_at=as_utc(row.applied_at),
        author=row.author,
        weakens=list(changes.get("weakens", [])),
        tightens=list(changes.get("tightens", [])),
        reviewed_by=row.reviewed_by,
        reviewed_at=as_utc(row.reviewed_at) if row.reviewed_at else None,
        review_comment=row.review_comment,
        in_force=in_force,
        source=row.source if source else None,
    )


def _environment_names(spec: PipelineSpec | None) -> set[str]:
    """The names of the environments ``spec`` sets (none for no pipeline yet)."""
    return {env.name for env in spec.environments} if spec is not None else set()
