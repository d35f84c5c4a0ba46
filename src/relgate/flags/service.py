"""Use cases of feature flags: administration, and the payload the client APIs serve.

Every change to a flag, its configuration in an environment or a segment is
audited and bumps the affected ``FlagRevisionRow``\\s in the same transaction,
so polling clients (ETag) and event streams on any replica see it at once.
A change confined to one environment bumps that environment's row; a change to
the flag itself (created, archived, description, dependencies, a segment)
bumps every environment's row and the ``"*"`` row. ``revision(env)`` is the
sum of the environment's row and the ``"*"`` row, so it grows with every change
that affects the environment, including environments no flag was configured in.

Audit events come before the revision bump in each transaction: on PostgreSQL
the audit append takes a transaction-wide lock, so concurrent flag changes
queue there and never deadlock on the revision rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.model import Action, Principal, Role
from relgate.clock import Clock
from relgate.errors import BadInput, Conflict, Forbidden, InvalidFlagDefinition, NotFound
from relgate.flags import unleash_format as fmt
from relgate.flags.model import Snapshot
from relgate.flags.views import (
    FlagBoard,
    FlagBoardRow,
    FlagEnvironmentView,
    FlagUsageView,
    FlagView,
    ImportSummary,
    SegmentView,
)
from relgate.notify import outbox
from relgate.notify.events import DomainEvent, EventType
from relgate.store.tables import (
    EnvironmentRow,
    FlagEnvironmentRow,
    FlagMetricRow,
    FlagRevisionRow,
    FlagRow,
    SegmentRow,
)
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory, as_utc

ALL_ENVIRONMENTS: Final = "*"

ChangeListener = Callable[[frozenset[str]], None]
"""Called after a commit with the environments whose payload changed ("*": all of them)."""


class _Unset:
    """Marks an argument that was not given (None means "no expiry")."""


UNSET: Final = _Unset()

_ENV_NAME_MAX = 100


def check_environment(name: object) -> str:
    """Return ``name`` if it can name an environment; raise ``BadInput`` if not."""
    if (
        not isinstance(name, str)
        or not name
        or len(name) > _ENV_NAME_MAX
        or name == ALL_ENVIRONMENTS
        or not name.isprintable()
        or "/" in name
    ):
        raise BadInput(
            f"environment {name!r}: expected a name of 1 to 100 printable characters, "
            "without '/' (e.g. production)"
        )
    return name


@dataclass
class _Change:
    """What one transaction changed, to bump revisions and notify listeners."""

    environments: set[str]
    everywhere: bool = False


def _flag_event(
    key: str,
    action: str,
    actor: str,
    change: _Change,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    clock: Clock,
) -> DomainEvent:
    """``flag.changed``: which flag, what was done (the audit action), where and by whom."""
    environment = next(iter(change.environments)) if len(change.environments) == 1 else None
    return DomainEvent(
        type=EventType.FLAG_CHANGED,
        subject=f"flag/{key}",
        time=clock.now(),
        environment=environment,
        actor=actor,
        data={
            "flag": key,
            "change": action,
            "environment": environment,
            "environments": sorted(change.environments),
            "actor": actor,
            "before": before,
            "after": after,
        },
    )


class FlagService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock
        self._listeners: list[ChangeListener] = []
        self._snapshots: dict[str, tuple[int, Snapshot]] = {}
        self._snapshot_lock = threading.Lock()

    # ------------------------------------------------------------------ serving

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener(environments)`` after each committed change in this process.

        ``environments`` holds the names whose payload changed, or ``"*"`` when
        every environment's did. Other replicas learn of changes from
        ``revision``; this is for pushing at once within the process.
        """
        self._listeners.append(listener)

    def revision(self, environment: str) -> int:
        """Return the revision of ``environment``'s payload: 0 before any change, then growing."""
        with self._uow() as uow:
            return _revision(uow, environment)

    def client_features(self, environment: str, *, segments_inline: bool) -> dict[str, Any]:
        """Return the Unleash client API v2 payload of ``environment``.

        Every non-archived flag is in it (disabled where it was never configured
        in this environment). With ``segments_inline`` the segments' constraints
        are added to each strategy's constraints and there is no top-level
        ``segments``, for SDKs older than client specification 4.2.0.
        """
        return self.versioned_client_features(environment, segments_inline=segments_inline)[1]

    def versioned_client_features(
        self, environment: str, *, segments_inline: bool
    ) -> tuple[int, dict[str, Any]]:
        """Return ``(revision, client_features(...))`` read consistently.

        The revision is read first, so a payload is never labelled with a
        revision newer than what it shows (a later request then refreshes it).
        """
        with self._uow() as uow:
            revision = _revision(uow, environment)
            return revision, _client_features(uow, environment, segments_inline=segments_inline)

    def snapshot(self, environment: str) -> Snapshot:
        """Return the compiled snapshot of ``environment``, cached per revision.

        Raises ``InvalidFlagDefinition`` only if stored data is malformed,
        which the admin use cases prevent.
        """
        current = self.revision(environment)
        with self._snapshot_lock:
            cached = self._snapshots.get(environment)
        if cached is not None and cached[0] == current:
            return cached[1]
        revision, payload = self.versioned_client_features(environment, segments_inline=False)
        built = Snapshot.from_unleash_features(payload)
        with self._snapshot_lock:
            cached = self._snapshots.get(environment)
            if cached is None or cached[0] <= revision:
                self._snapshots[environment] = (revision, built)
        return built

    # ------------------------------------------------------------------ reading

    def list_flags(self, principal: Principal, *, include_archived: bool = False) -> list[FlagView]:
        """Return every flag (archived ones too when asked), ordered by key.

        A token scoped to some environments sees only their configurations and metrics.
        """
        principal.require(Action.READ)
        with self._uow() as uow:
            query = select(FlagRow).order_by(FlagRow.key)
            if not include_archived:
                query = query.where(FlagRow.archived_at.is_(None))
            flags = list(uow.session.scalars(query))
            return _visible(principal, _views(uow, flags, self._clock.now()))

    def get_flag(self, principal: Principal, key: str) -> FlagView:
        """Return one flag, archived or not, with the environments of the token's scope.

        Raises ``NotFound``.
        """
        principal.require(Action.READ)
        with self._uow() as uow:
            return _visible(principal, _views(uow, [_flag(uow, key)], self._clock.now()))[0]

    def board(
        self, principal: Principal, *, include_archived: bool = False, key: str | None = None
    ) -> FlagBoard:
        """Return the flags page: every flag (or only ``key``) against every environment.

        The environments are those of every pipeline, in pipeline order, then
        those any flag is configured in, by name; a scoped token sees only the
        ones its scope admits, and only their configurations. Each row says why
        the caller may not kill the flag, if it may not (the rules of ``kill``).
        Raises ``NotFound`` for an unknown ``key``.
        """
        principal.require(Action.READ)
        with self._uow() as uow:
            if key is not None:
                flags = [_flag(uow, key)]
            else:
                query = select(FlagRow).order_by(FlagRow.key)
                if not include_archived:
                    query = query.where(FlagRow.archived_at.is_(None))
                flags = list(uow.session.scalars(query))
            views = _views(uow, flags, self._clock.now())
            ordered = uow.session.execute(
                select(EnvironmentRow.name, func.min(EnvironmentRow.position))
                .where(EnvironmentRow.active.is_(True))
                .group_by(EnvironmentRow.name)
            ).all()
            configured = set(uow.session.scalars(select(FlagEnvironmentRow.environment).distinct()))
            segments = {
                id_: name
                for id_, name in uow.session.execute(select(SegmentRow.id, SegmentRow.name))
            }
        names = [name for name, _ in sorted(ordered, key=lambda item: (item[1], item[0]))]
        names += sorted(configured - set(names))
        rows = [
            FlagBoardRow(flag=shown, kill_refused=_kill_refusal(principal, view))
            for view, shown in zip(views, _visible(principal, views), strict=True)
        ]
        return FlagBoard(
            environments=[n for n in names if principal.may_touch_environment(n)],
            rows=rows,
            segments=segments,
        )

    def list_segments(self, principal: Principal) -> list[SegmentView]:
        """Return every segment, ordered by name, with the flags that use it."""
        principal.require(Action.READ)
        with self._uow() as uow:
            rows = uow.session.scalars(select(SegmentRow).order_by(SegmentRow.name))
            users = _segment_users(uow)
            return [_segment_view(row, users.get(row.id, [])) for row in rows]

    # ------------------------------------------------------------------ flags

    def create(
        self,
        principal: Principal,
        key: str,
        *,
        type: str = "release",
        description: str = "",
        owner: str | None = None,
        tags: Sequence[str] = (),
        expires_at: datetime | _Unset | None = UNSET,
        impression_data: bool = False,
    ) -> FlagView:
        """Create a flag, off in every environment; return it.

        ``expires_at`` defaults by type (``relgate.flags.lifecycle.default_expiry``);
        ``None`` means never. Raises ``InvalidFlagDefinition`` for a bad key or
        type and ``Conflict`` when the key is taken (archived flags included).
        """
        from relgate.flags.lifecycle import default_expiry

        principal.require(Action.MANAGE_FLAGS)
        fmt.check_key(key)
        fmt.check_type(type)
        _check_metadata(description, owner, tags)
        now = self._clock.now()
        expiry = default_expiry(type, now) if isinstance(expires_at, _Unset) else expires_at
        with self._uow() as uow:
            existing = uow.session.scalar(select(FlagRow).where(FlagRow.key == key))
            if existing is not None:
                archived = " (archived: revive it instead)" if existing.archived_at else ""
                raise Conflict(f"flag {key!r} already exists{archived}")
            flag = FlagRow(
                key=key,
                description=description,
                type=type,
                owner=owner,
                tags=_tags(tags),
                impression_data=impression_data,
                dependencies=[],
                created_at=now,
                updated_at=now,
                expires_at=expiry,
                archived_at=None,
            )
            uow.session.add(flag)
            uow.session.flush()
            return self._commit(
                uow, principal, "flag.created", flag, None, _flag_state(flag), _Change(set(), True)
            )

    def update(
        self,
        principal: Principal,
        key: str,
        *,
        type: str | None = None,
        description: str | None = None,
        owner: str | _Unset | None = UNSET,
        tags: Sequence[str] | None = None,
        expires_at: datetime | _Unset | None = UNSET,
        impression_data: bool | None = None,
    ) -> FlagView:
        """Change a flag's metadata (only the fields given); return it.

        Raises ``NotFound``, ``Conflict`` for an archived flag and
        ``InvalidFlagDefinition`` for an unknown type.
        """
        principal.require(Action.MANAGE_FLAGS)
        _check_metadata(description, None if isinstance(owner, _Unset) else owner, tags or ())
        with self._uow() as uow:
            flag = _live_flag(uow, key)
            before = _flag_state(flag)
            if type is not None:
                flag.type = fmt.check_type(type)
            if description is not None:
                flag.description = description
            if not isinstance(owner, _Unset):
                flag.owner = owner
            if tags is not None:
                flag.tags = _tags(tags)
            if not isinstance(expires_at, _Unset):
                flag.expires_at = expires_at
            if impression_data is not None:
                flag.impression_data = impression_data
            flag.updated_at = self._clock.now()
            after = _flag_state(flag)
            # owner, tags and expiry are not in the client payload: no revision to bump
            served = ("type", "description", "impression_data")
            changed = any(before[name] != after[name] for name in served)
            return self._commit(
                uow, principal, "flag.updated", flag, before, after, _Change(set(), changed)
            )

    def archive(self, principal: Principal, key: str) -> FlagView:
        """Archive a flag: it leaves every client payload. Return it.

        Raises ``NotFound``, and ``Conflict`` when it is already archived or
        another live flag depends on it; ``Forbidden`` for a scoped token (it
        leaves every environment).
        """
        principal.require(Action.MANAGE_FLAGS, everywhere=True)
        with self._uow() as uow:
            flag = _live_flag(uow, key)
            children = [
                other.key
                for other in uow.session.scalars(
                    select(FlagRow).where(FlagRow.archived_at.is_(None), FlagRow.key != key)
                )
                if any(d.get("feature") == key for d in other.dependencies)
            ]
            if children:
                raise Conflict(
                    f"flag {key!r} cannot be archived: {', '.join(sorted(children))} "
                    "depend on it; remove those dependencies first"
                )
            before = _flag_state(flag)
            now = self._clock.now()
            flag.archived_at = now
            flag.updated_at = now
            return self._commit(
                uow,
                principal,
                "flag.archived",
                flag,
                before,
                _flag_state(flag),
                _Change(set(), True),
            )

    def revive(self, principal: Principal, key: str) -> FlagView:
        """Bring an archived flag back with its last configuration; return it.

        Raises ``NotFound``, and ``Conflict`` when the flag is not archived;
        ``Forbidden`` for a scoped token (it comes back in every environment).
        """
        principal.require(Action.MANAGE_FLAGS, everywhere=True)
        with self._uow() as uow:
            flag = _flag(uow, key)
            if flag.archived_at is None:
                raise Conflict(f"flag {key!r} is not archived")
            before = _flag_state(flag)
            flag.archived_at = None
            flag.updated_at = self._clock.now()
            return self._commit(
                uow,
                principal,
                "flag.revived",
                flag,
                before,
                _flag_state(flag),
                _Change(set(), True),
            )

    def set_dependencies(
        self, principal: Principal, key: str, dependencies: Sequence[Mapping[str, Any]]
    ) -> FlagView:
        """Make ``key`` on only when its parents are (``[{feature, enabled, variants}]``).

        As in Unleash, one level only: a parent may not itself depend on a
        flag, and a flag others depend on may not get parents. Raises
        ``InvalidFlagDefinition`` naming the entry, ``NotFound``, ``Conflict``,
        ``Forbidden`` for a scoped token (dependencies hold in every environment).
        """
        principal.require(Action.MANAGE_FLAGS, everywhere=True)
        normalized = fmt.normalize_dependencies(list(dependencies))
        with self._uow() as uow:
            flag = _live_flag(uow, key)
            _check_dependencies(uow, key, normalized)
            before = _flag_state(flag)
            flag.dependencies = normalized
            flag.updated_at = self._clock.now()
            return self._commit(
                uow,
                principal,
                "flag.dependencies_set",
                flag,
                before,
                _flag_state(flag),
                _Change(set(), True),
            )

    # ------------------------------------------------------------------ per environment

    def enable(self, principal: Principal, key: str, environment: str) -> FlagView:
        """Turn a flag on in ``environment``; return it.

        A flag without strategies there gets Unleash's default one
        (``flexibleRollout`` at 100%), so "on" means on for everyone until a
        rollout or strategies say otherwise. Raises ``NotFound``, ``Conflict``.
        """

        def change(row: FlagEnvironmentRow, flag: FlagRow) -> None:
            row.enabled = True
            if not row.strategies:
                row.strategies = [_rollout_strategy(flag.key, 100, "default", [])]

        return self._change_environment(principal, key, environment, "flag.enabled", change)

    def disable(self, principal: Principal, key: str, environment: str) -> FlagView:
        """Turn a flag off in ``environment``, keeping its strategies; return it."""

        def change(row: FlagEnvironmentRow, _flag: FlagRow) -> None:
            row.enabled = False

        return self._change_environment(principal, key, environment, "flag.disabled", change)

    def set_strategies(
        self,
        principal: Principal,
        key: str,
        environment: str,
        strategies: Sequence[Mapping[str, Any]],
    ) -> FlagView:
        """Replace the ordered strategies of a flag in ``environment``; return it.

        Raises ``InvalidFlagDefinition`` naming the path of a malformed
        strategy (``strategies[1].constraints[0].operator``) or of an unknown
        segment id, ``NotFound``, ``Conflict``.
        """
        normalized = fmt.normalize_strategies(list(strategies), flag_key=key)

        def change(row: FlagEnvironmentRow, _flag: FlagRow) -> None:
            row.strategies = normalized

        return self._change_environment(
            principal, key, environment, "flag.strategies_set", change, strategies=normalized
        )

    def set_variants(
        self,
        principal: Principal,
        key: str,
        environment: str,
        variants: Sequence[Mapping[str, Any]],
    ) -> FlagView:
        """Replace a flag's variants in ``environment``, weights fixed to total 1000; return it.

        Raises ``InvalidFlagDefinition`` naming the variant at fault, ``NotFound``, ``Conflict``.
        """
        normalized = fmt.normalize_variants(list(variants))

        def change(row: FlagEnvironmentRow, _flag: FlagRow) -> None:
            row.variants = normalized

        return self._change_environment(principal, key, environment, "flag.variants_set", change)

    def rollout(
        self,
        principal: Principal,
        key: str,
        environment: str,
        percentage: int,
        *,
        stickiness: str | None = None,
        constraints: Sequence[Mapping[str, Any]] | None = None,
    ) -> FlagView:
        """Roll a flag out to ``percentage`` % in ``environment`` and turn it on there.

        Updates the first ``flexibleRollout`` strategy (its stickiness and
        constraints too when given) or adds one (stickiness ``default``,
        groupId the flag key). Unconstrained ``default`` strategies are
        removed: they would turn the flag on for everyone whatever the
        percentage. 100 is "fully rolled out". Raises ``BadInput`` for a
        percentage outside 0..100, ``InvalidFlagDefinition``, ``NotFound``, ``Conflict``.
        """
        if isinstance(percentage, bool) or not 0 <= percentage <= 100:
            raise BadInput(f"rollout: {percentage!r} is not a percentage from 0 to 100")
        normalized = (
            None
            if constraints is None
            else fmt.normalize_constraints(list(constraints), "constraints")
        )

        def change(row: FlagEnvironmentRow, flag: FlagRow) -> None:
            kept: list[Any] = []
            updated = False
            for strategy in row.strategies:
                if strategy["name"] == "default" and not _conditional(strategy):
                    continue
                if strategy["name"] == "flexibleRollout" and not updated:
                    rollout = dict(strategy)
                    parameters = dict(rollout["parameters"])
                    parameters["rollout"] = str(percentage)
                    if stickiness:
                        parameters["stickiness"] = stickiness
                    rollout["parameters"] = parameters
                    if normalized is not None:
                        rollout["constraints"] = normalized
                    rollout["disabled"] = False
                    updated = True
                    kept.append(rollout)
                    continue
                kept.append(strategy)
            if not updated:
                kept.append(
                    _rollout_strategy(
                        flag.key, percentage, stickiness or "default", normalized or []
                    )
                )
            row.strategies = kept
            row.enabled = True

        return self._change_environment(principal, key, environment, "flag.rolled_out", change)

    def kill(self, principal: Principal, key: str, *, reason: str = "") -> FlagView:
        """Turn a flag off in every environment at once (audited as ``flag.killed``); return it.

        Strategies are kept, so re-enabling restores the previous rollout.
        Raises ``NotFound``, ``Conflict`` for an archived flag, ``Forbidden`` when
        the flag is configured in an environment outside the token's scope.
        """
        principal.require(Action.MANAGE_FLAGS)
        now = self._clock.now()
        with self._uow() as uow:
            flag = _live_flag(uow, key)
            rows = _environment_rows(uow, flag.id)
            for row in rows:
                principal.require(Action.MANAGE_FLAGS, environment=row.environment)
            before = {"enabled": {row.environment: row.enabled for row in rows}}
            for row in rows:
                if row.enabled:
                    row.enabled = False
                    row.updated_at = now
                    row.fully_rolled_out_since = None
            flag.updated_at = now
            after = {"enabled": {row.environment: False for row in rows}, "reason": reason}
            return self._commit(
                uow,
                principal,
                "flag.killed",
                flag,
                before,
                after,
                _Change({r.environment for r in rows}),
            )

    # ------------------------------------------------------------------ segments

    def create_segment(
        self,
        principal: Principal,
        name: str,
        *,
        description: str = "",
        constraints: Sequence[Mapping[str, Any]] = (),
    ) -> SegmentView:
        """Create a named set of constraints that strategies refer to by id; return it.

        Raises ``BadInput`` for an empty name, ``InvalidFlagDefinition`` for a
        malformed constraint, ``Conflict`` when the name is taken.
        """
        principal.require(Action.MANAGE_FLAGS)
        if not name or len(name) > 200:
            raise BadInput(f"segment name {name!r}: expected 1 to 200 characters")
        limits.check_text("description", description, limits.FLAG_DESCRIPTION)
        normalized = fmt.normalize_constraints(list(constraints), "constraints")
        now = self._clock.now()
        with self._uow() as uow:
            if uow.session.scalar(select(SegmentRow).where(SegmentRow.name == name)):
                raise Conflict(f"segment {name!r} already exists")
            row = SegmentRow(
                name=name,
                description=description,
                constraints=normalized,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(row)
            uow.session.flush()
            audit.append(
                uow,
                actor=principal.name,
                action="segment.created",
                subject=f"segment/{name}",
                at=now,
                after=_segment_state(row),
            )
            # a new segment is in no payload yet: no revision to bump
            view = _segment_view(row, [])
            uow.commit()
            return view

    def update_segment(
        self,
        principal: Principal,
        name: str,
        *,
        description: str | None = None,
        constraints: Sequence[Mapping[str, Any]] | None = None,
    ) -> SegmentView:
        """Change a segment's description or constraints; return it.

        Raises ``NotFound``, and ``Forbidden`` for a scoped token (a segment
        holds in every environment).
        """
        principal.require(Action.MANAGE_FLAGS, everywhere=True)
        limits.check_text("description", description, limits.FLAG_DESCRIPTION)
        normalized = (
            None
            if constraints is None
            else fmt.normalize_constraints(list(constraints), "constraints")
        )
        now = self._clock.now()
        with self._uow() as uow:
            row = _segment(uow, name)
            before = _segment_state(row)
            if description is not None:
                row.description = description
            if normalized is not None:
                row.constraints = normalized
            row.updated_at = now
            audit.append(
                uow,
                actor=principal.name,
                action="segment.updated",
                subject=f"segment/{name}",
                at=now,
                before=before,
                after=_segment_state(row),
            )
            change = _Change(set(), True)
            self._bump(uow, change)
            view = _segment_view(row, _segment_users(uow).get(row.id, []))
            uow.commit()
        self._notify(change)
        return view

    def delete_segment(self, principal: Principal, name: str) -> None:
        """Delete a segment no flag uses. Raises ``NotFound``, ``Conflict`` naming the users."""
        principal.require(Action.MANAGE_FLAGS)
        with self._uow() as uow:
            row = _segment(uow, name)
            users = _segment_users(uow, include_archived=True).get(row.id, [])
            if users:
                raise Conflict(
                    f"segment {name!r} is used by {', '.join(users)}: remove it from their "
                    "strategies first"
                )
            audit.append(
                uow,
                actor=principal.name,
                action="segment.deleted",
                subject=f"segment/{name}",
                at=self._clock.now(),
                before=_segment_state(row),
            )
            uow.session.delete(row)
            uow.commit()

    # ------------------------------------------------------------------ import / export

    def import_unleash(
        self, principal: Principal, document: object, *, environment: str | None = None
    ) -> ImportSummary:
        """Create or update flags and segments from an Unleash export or client payload.

        Flags are matched by key and segments by name; a file's segment ids
        are mapped to relgate's. Tags are replaced by the file's when it has
        any; owners and expiry dates are kept (new flags get their type's
        default expiry). Every flag gets a ``flag.imported`` audit event.
        All or nothing: raises ``InvalidFlagDefinition`` naming the path of
        what is malformed, and ``BadInput`` for a segment relgate does not
        have and the file does not define, or a dependency on an unknown flag.
        """
        # an import may change segments and dependencies, which hold in every environment
        principal.require(Action.MANAGE_FLAGS, everywhere=True)
        if environment is not None:
            check_environment(environment)
        plan = fmt.read_import(document, environment=environment)
        for imported in plan.flags:
            for name in imported.environments:
                check_environment(name)
        now = self._clock.now()
        with self._uow() as uow:
            ids, segments_created = _import_segments(uow, principal, plan.segments, now)
            created: list[str] = []
            updated: list[str] = []
            environments: set[str] = set()
            planned = {imported.key for imported in plan.flags}
            for imported in plan.flags:
                flag = uow.session.scalar(select(FlagRow).where(FlagRow.key == imported.key))
                before = None if flag is None else _full_state(uow, flag)
                (updated if flag is not None else created).append(imported.key)
                flag = _import_flag(uow, flag, imported, ids, planned, now)
                environments.update(imported.environments)
                audit.append(
                    uow,
                    actor=principal.name,
                    action="flag.imported",
                    subject=f"flag/{flag.key}",
                    at=now,
                    before=before,
                    after=_full_state(uow, flag),
                )
                outbox.append(
                    uow.session,
                    [
                        _flag_event(
                            flag.key,
                            "flag.imported",
                            principal.name,
                            _Change(set(imported.environments)),
                            None,
                            None,
                            self._clock,
                        )
                    ],
                )
            change = _Change(environments, True)
            self._bump(uow, change)
            uow.commit()
        self._notify(change)
        return ImportSummary(
            created=created,
            updated=updated,
            segments_created=segments_created,
            environments=sorted(environments),
        )

    def export_unleash(
        self, principal: Principal, environments: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Return the Unleash export document of every live flag.

        With ``environments``, only those (a flag never configured in one is
        exported there as off, without strategies); otherwise every
        environment each flag is configured in.
        """
        principal.require(Action.READ)
        wanted = [check_environment(e) for e in environments]
        for name in wanted:
            principal.require(Action.READ, environment=name)
        now = self._clock.now()
        with self._uow() as uow:
            flags = list(
                uow.session.scalars(
                    select(FlagRow).where(FlagRow.archived_at.is_(None)).order_by(FlagRow.key)
                )
            )
            views = _views(uow, flags, now)
            exported: list[fmt.ExportedFlag] = []
            for flag, view in zip(flags, views, strict=True):
                names = wanted or sorted(
                    e for e in view.environments if principal.may_touch_environment(e)
                )
                configs: dict[str, tuple[bool, Sequence[Mapping[str, Any]], Sequence[Any]]] = {}
                for name in names:
                    env = view.environments.get(name)
                    configs[name] = (
                        (env.enabled, env.strategies, env.variants) if env else (False, [], [])
                    )
                exported.append(
                    fmt.ExportedFlag(
                        key=flag.key,
                        type=flag.type,
                        description=flag.description,
                        impression_data=flag.impression_data,
                        stale=view.stale,
                        tags=flag.tags,
                        dependencies=flag.dependencies,
                        environments=configs,
                    )
                )
            segments = [
                {
                    "id": row.id,
                    "name": row.name,
                    "description": row.description,
                    "constraints": row.constraints,
                }
                for row in uow.session.scalars(select(SegmentRow).order_by(SegmentRow.id))
            ]
            return fmt.build_export(exported, segments)

    # ------------------------------------------------------------------ internals

    def _change_environment(
        self,
        principal: Principal,
        key: str,
        environment: str,
        action: str,
        change: Callable[[FlagEnvironmentRow, FlagRow], None],
        *,
        strategies: list[Any] | None = None,
    ) -> FlagView:
        principal.require(Action.MANAGE_FLAGS, environment=environment)
        check_environment(environment)
        now = self._clock.now()
        with self._uow() as uow:
            flag = _live_flag(uow, key)
            if strategies is not None:
                _check_segments(uow, strategies)
            row = _environment_row(uow, flag, environment, now)
            before = _environment_state(row)
            change(row, flag)
            _touch(row, now)
            flag.updated_at = now
            after = _environment_state(row)
            return self._commit(uow, principal, action, flag, before, after, _Change({environment}))

    def _commit(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        flag: FlagRow,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        change: _Change,
    ) -> FlagView:
        audit.append(
            uow,
            actor=principal.name,
            action=action,
            subject=f"flag/{flag.key}",
            at=self._clock.now(),
            before=before,
            after=after,
        )
        outbox.append(
            uow.session,
            [_flag_event(flag.key, action, principal.name, change, before, after, self._clock)],
        )
        self._bump(uow, change)
        uow.session.flush()
        view = _visible(principal, _views(uow, [flag], self._clock.now()))[0]
        uow.commit()
        self._notify(change)
        return view

    def _bump(self, uow: UnitOfWork, change: _Change) -> None:
        session = uow.session
        now = self._clock.now()
        insert = postgresql.insert if uow.dialect == "postgresql" else sqlite.insert
        names = sorted(change.environments | ({ALL_ENVIRONMENTS} if change.everywhere else set()))
        if change.everywhere:
            session.execute(
                update(FlagRevisionRow).values(
                    revision=FlagRevisionRow.revision + 1, updated_at=now
                )
            )
            for name in names:
                session.execute(
                    insert(FlagRevisionRow)
                    .values(environment=name, revision=1, updated_at=now)
                    .on_conflict_do_nothing(index_elements=["environment"])
                )
            return
        for name in names:
            session.execute(
                insert(FlagRevisionRow)
                .values(environment=name, revision=1, updated_at=now)
                .on_conflict_do_update(
                    index_elements=["environment"],
                    set_={"revision": FlagRevisionRow.revision + 1, "updated_at": now},
                )
            )

    def _notify(self, change: _Change) -> None:
        names = frozenset({ALL_ENVIRONMENTS} if change.everywhere else change.environments)
        if not names:
            return
        for listener in list(self._listeners):
            listener(names)


# --------------------------------------------------------------------------- reading rows


def _revision(uow: UnitOfWork, environment: str) -> int:
    total = uow.session.scalar(
        select(func.coalesce(func.sum(FlagRevisionRow.revision), 0)).where(
            FlagRevisionRow.environment.in_([environment, ALL_ENVIRONMENTS])
        )
    )
    return int(total or 0)


def _flag(uow: UnitOfWork, key: str) -> FlagRow:
    flag = uow.session.scalar(select(FlagRow).where(FlagRow.key == key))
    if flag is None:
        raise NotFound(f"no flag {key!r}")
    return flag


def _live_flag(uow: UnitOfWork, key: str) -> FlagRow:
    flag = _flag(uow, key)
    if flag.archived_at is not None:
        raise Conflict(f"flag {key!r} is archived: revive it first")
    return flag


def _segment(uow: UnitOfWork, name: str) -> SegmentRow:
    row = uow.session.scalar(select(SegmentRow).where(SegmentRow.name == name))
    if row is None:
        raise NotFound(f"no segment {name!r}")
    return row


def _check_metadata(description: str | None, owner: str | None, tags: Sequence[str]) -> None:
    """Raise BadInput naming the field when a flag's free text is longer than its limit."""
    limits.check_text("description", description, limits.FLAG_DESCRIPTION)
    limits.check_text("owner", owner, limits.FLAG_OWNER)
    for index, tag in enumerate(tags):
        limits.check_text(f"tags[{index}]", tag, limits.FLAG_TAG)


def _environment_rows(uow: UnitOfWork, flag_id: int) -> list[FlagEnvironmentRow]:
    return list(
        uow.session.scalars(
            select(FlagEnvironmentRow)
            .where(FlagEnvironmentRow.flag_id == flag_id)
            .order_by(FlagEnvironmentRow.environment)
        )
    )


def _environment_row(
    uow: UnitOfWork, flag: FlagRow, environment: str, now: datetime
) -> FlagEnvironmentRow:
    """Return the flag's row for ``environment``, created (off) the first time it is configured."""
    row = uow.session.scalar(
        select(FlagEnvironmentRow).where(
            FlagEnvironmentRow.flag_id == flag.id, FlagEnvironmentRow.environment == environment
        )
    )
    if row is None:
        row = FlagEnvironmentRow(
            flag_id=flag.id,
            environment=environment,
            enabled=False,
            strategies=[],
            variants=[],
            updated_at=now,
            fully_rolled_out_since=None,
        )
        uow.session.add(row)
        uow.session.flush()
    return row


def _segment_users(uow: UnitOfWork, *, include_archived: bool = False) -> dict[int, list[str]]:
    query = select(FlagRow.key, FlagRow.archived_at, FlagEnvironmentRow.strategies).join(
        FlagEnvironmentRow, FlagEnvironmentRow.flag_id == FlagRow.id
    )
    users: dict[int, set[str]] = {}
    for key, archived_at, strategies in uow.session.execute(query):
        if archived_at is not None and not include_archived:
            continue
        for strategy in strategies:
            for segment_id in strategy.get("segments") or []:
                users.setdefault(segment_id, set()).add(key)
    return {segment_id: sorted(keys) for segment_id, keys in users.items()}


def _check_segments(uow: UnitOfWork, strategies: Sequence[Mapping[str, Any]]) -> None:
    known = set(uow.session.scalars(select(SegmentRow.id)))
    for index, strategy in enumerate(strategies):
        for position, segment_id in enumerate(strategy.get("segments") or []):
            if segment_id not in known:
                raise InvalidFlagDefinition(
                    f"strategies[{index}].segments[{position}]: no segment with id {segment_id}"
                )


def _mapped_segment(ids: Mapping[int, int], segment_id: int, key: str, env: str, index: int) -> int:
    if segment_id not in ids:
        raise InvalidFlagDefinition(
            f"flag {key!r}, environment {env!r}, strategy {index}: segment id {segment_id} "
            "is not among the file's segments"
        )
    return ids[segment_id]


def _check_dependencies(
    uow: UnitOfWork, key: str, dependencies: Sequence[Mapping[str, Any]]
) -> None:
    for index, dependency in enumerate(dependencies):
        parent_key = dependency["feature"]
        where = f"dependencies[{index}].feature"
        if parent_key == key:
            raise InvalidFlagDefinition(f"{where}: a flag cannot depend on itself")
        parent = uow.session.scalar(select(FlagRow).where(FlagRow.key == parent_key))
        if parent is None or parent.archived_at is not None:
            raise InvalidFlagDefinition(f"{where}: no live flag {parent_key!r}")
        if parent.dependencies:
            raise InvalidFlagDefinition(
                f"{where}: {parent_key!r} depends on other flags itself; relgate, like "
                "Unleash, allows one level of dependencies"
            )
    if dependencies:
        children = [
            other.key
            for other in uow.session.scalars(select(FlagRow).where(FlagRow.archived_at.is_(None)))
            if any(d.get("feature") == key for d in other.dependencies)
        ]
        if children:
            raise Conflict(
                f"flag {key!r} cannot depend on other flags: {', '.join(sorted(children))} "
                "depend on it, and relgate allows one level of dependencies"
            )


# --------------------------------------------------------------------------- import


def _import_segments(
    uow: UnitOfWork,
    principal: Principal,
    segments: Sequence[fmt.ImportedSegment],
    now: datetime,
) -> tuple[dict[int, int], list[str]]:
    """Match the file's segments to relgate's by name, creating or updating them.

    Returns the map of the file's ids to relgate's and the names created.
    """
    ids: dict[int, int] = {}
    created: list[str] = []
    for imported in segments:
        row = uow.session.scalar(select(SegmentRow).where(SegmentRow.name == imported.name))
        before = None if row is None else _segment_state(row)
        if row is None:
            if imported.constraints is None:
                raise BadInput(
                    f"segment {imported.name!r} (id {imported.id} in the file) is not in "
                    "relgate and the file does not carry its constraints: create it first "
                    "(POST /api/v1/segments), as Unleash's own import requires"
                )
            row = SegmentRow(
                name=imported.name,
                description=imported.description,
                constraints=imported.constraints,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(row)
            uow.session.flush()
            created.append(imported.name)
        elif imported.constraints is not None and imported.constraints != row.constraints:
            row.constraints = imported.constraints
            row.updated_at = now
        else:
            ids[imported.id] = row.id
            continue
        ids[imported.id] = row.id
        audit.append(
            uow,
            actor=principal.name,
            action="segment.imported",
            subject=f"segment/{row.name}",
            at=now,
            before=before,
            after=_segment_state(row),
        )
    return ids, created


def _import_flag(
    uow: UnitOfWork,
    flag: FlagRow | None,
    imported: fmt.ImportedFlag,
    segment_ids: Mapping[int, int],
    planned: Collection[str],
    now: datetime,
) -> FlagRow:
    """Create or update one flag and the environments the file configures; return it."""
    from relgate.flags.lifecycle import default_expiry

    for dependency in imported.dependencies:
        parent = dependency["feature"]
        if parent in planned:
            continue
        if uow.session.scalar(select(FlagRow.id).where(FlagRow.key == parent)) is None:
            raise BadInput(
                f"flag {imported.key!r} depends on {parent!r}, which is neither in the file "
                "nor in relgate"
            )
    if flag is None:
        flag = FlagRow(
            key=imported.key,
            owner=None,
            tags=[],
            dependencies=[],
            created_at=now,
            expires_at=default_expiry(imported.type, now),
        )
        uow.session.add(flag)
    flag.description = imported.description
    flag.type = imported.type
    flag.impression_data = imported.impression_data
    if imported.tags:
        flag.tags = imported.tags
    flag.dependencies = imported.dependencies
    flag.updated_at = now
    flag.archived_at = (flag.archived_at or now) if imported.archived else None
    uow.session.flush()
    for name, config in imported.environments.items():
        strategies = []
        for index, strategy in enumerate(config.strategies):
            mapped = dict(strategy)
            mapped["segments"] = [
                _mapped_segment(segment_ids, s, imported.key, name, index)
                for s in strategy["segments"]
            ]
            strategies.append(mapped)
        row = _environment_row(uow, flag, name, now)
        row.enabled = config.enabled
        row.strategies = strategies
        row.variants = config.variants
        _touch(row, now)
    return flag


# --------------------------------------------------------------------------- writing rows


def _tags(tags: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        text = tag.strip()
        if not text:
            raise BadInput("tags: a tag must not be empty")
        if text not in cleaned:
            cleaned.append(text)
    return cleaned


def _conditional(strategy: Mapping[str, Any]) -> bool:
    return bool(strategy.get("constraints") or strategy.get("segments"))


def _rollout_strategy(
    key: str, percentage: int, stickiness: str, constraints: list[Any]
) -> dict[str, Any]:
    return {
        "name": "flexibleRollout",
        "parameters": {"rollout": str(percentage), "stickiness": stickiness, "groupId": key},
        "constraints": constraints,
        "segments": [],
        "variants": [],
        "disabled": False,
    }


def _touch(row: FlagEnvironmentRow, now: datetime) -> None:
    """Mark ``row`` changed and keep ``fully_rolled_out_since`` true to its config."""
    from relgate.flags.lifecycle import is_fully_rolled_out

    row.updated_at = now
    if is_fully_rolled_out(row.enabled, row.strategies):
        if row.fully_rolled_out_since is None:
            row.fully_rolled_out_since = now
    else:
        row.fully_rolled_out_since = None


# --------------------------------------------------------------------------- audit states


def _iso(at: datetime | None) -> str | None:
    return None if at is None else as_utc(at).isoformat()


def _flag_state(flag: FlagRow) -> dict[str, Any]:
    return {
        "key": flag.key,
        "type": flag.type,
        "description": flag.description,
        "owner": flag.owner,
        "tags": list(flag.tags),
        "impression_data": flag.impression_data,
        "dependencies": list(flag.dependencies),
        "expires_at": _iso(flag.expires_at),
        "archived_at": _iso(flag.archived_at),
    }


def _environment_state(row: FlagEnvironmentRow) -> dict[str, Any]:
    return {
        "environment": row.environment,
        "enabled": row.enabled,
        "strategies": list(row.strategies),
        "variants": list(row.variants),
    }


def _full_state(uow: UnitOfWork, flag: FlagRow) -> dict[str, Any]:
    state = _flag_state(flag)
    state["environments"] = {
        row.environment: _environment_state(row) for row in _environment_rows(uow, flag.id)
    }
    return state


def _segment_state(row: SegmentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "constraints": list(row.constraints),
    }


# --------------------------------------------------------------------------- views


def _segment_view(row: SegmentRow, used_by: list[str]) -> SegmentView:
    return SegmentView(
        id=row.id,
        name=row.name,
        description=row.description,
        constraints=list(row.constraints),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        used_by=used_by,
    )


def _visible(principal: Principal, views: list[FlagView]) -> list[FlagView]:
    """Return ``views`` with only the environments the token's scope admits."""
    if principal.environments is None and principal.role is not Role.CLIENT:
        return views
    return [
        replace(
            view,
            environments={
                name: env
                for name, env in view.environments.items()
                if principal.may_touch_environment(name)
            },
            metrics={
                name: usage
                for name, usage in view.metrics.items()
                if principal.may_touch_environment(name)
            },
        )
        for view in views
    ]


def _kill_refusal(principal: Principal, view: FlagView) -> str | None:
    """Why ``kill`` would refuse ``principal`` this flag (``view`` unscoped), or None."""
    if view.archived_at is not None:
        return f"flag {view.key!r} is archived: revive it first"
    try:
        principal.require(Action.MANAGE_FLAGS)
        for environment in view.environments:
            principal.require(Action.MANAGE_FLAGS, environment=environment)
    except Forbidden as exc:
        return exc.message
    return None


def _views(uow: UnitOfWork, flags: Sequence[FlagRow], now: datetime) -> list[FlagView]:
    """Return the views of ``flags``, reading their environments and metrics in two queries."""
    from relgate.flags.lifecycle import EnvironmentFacts, stale_reasons

    if not flags:
        return []
    ids = [flag.id for flag in flags]
    keys = [flag.key for flag in flags]
    environments: dict[int, dict[str, FlagEnvironmentView]] = {}
    for row in uow.session.scalars(
        select(FlagEnvironmentRow)
        .where(FlagEnvironmentRow.flag_id.in_(ids))
        .order_by(FlagEnvironmentRow.environment)
    ):
        environments.setdefault(row.flag_id, {})[row.environment] = FlagEnvironmentView(
            enabled=row.enabled,
            strategies=list(row.strategies),
            variants=list(row.variants),
            updated_at=as_utc(row.updated_at),
            fully_rolled_out_since=(
                None if row.fully_rolled_out_since is None else as_utc(row.fully_rolled_out_since)
            ),
        )
    usage: dict[str, dict[str, FlagUsageView]] = {}
    for key, environment, yes, no, last_seen in uow.session.execute(
        select(
            FlagMetricRow.flag_key,
            FlagMetricRow.environment,
            func.sum(FlagMetricRow.yes),
            func.sum(FlagMetricRow.no),
            func.max(FlagMetricRow.last_seen_at),
        )
        .where(FlagMetricRow.flag_key.in_(keys))
        .group_by(FlagMetricRow.flag_key, FlagMetricRow.environment)
        .order_by(FlagMetricRow.environment)
    ):
        usage.setdefault(key, {})[environment] = FlagUsageView(
            yes=int(yes or 0),
            no=int(no or 0),
            last_seen_at=None if last_seen is None else as_utc(last_seen),
        )
    views: list[FlagView] = []
    for flag in flags:
        envs = environments.get(flag.id, {})
        reasons = stale_reasons(
            flag.type,
            as_utc(flag.created_at),
            None if flag.expires_at is None else as_utc(flag.expires_at),
            {
                name: EnvironmentFacts(env.enabled, env.fully_rolled_out_since)
                for name, env in envs.items()
            },
            now,
        )
        views.append(
            FlagView(
                key=flag.key,
                type=flag.type,
                description=flag.description,
                owner=flag.owner,
                tags=list(flag.tags),
                created_at=as_utc(flag.created_at),
                updated_at=as_utc(flag.updated_at),
                expires_at=None if flag.expires_at is None else as_utc(flag.expires_at),
                archived_at=None if flag.archived_at is None else as_utc(flag.archived_at),
                impression_data=flag.impression_data,
                dependencies=list(flag.dependencies),
                stale=bool(reasons),
                stale_reasons=reasons,
                environments=envs,
                metrics=usage.get(flag.key, {}),
            )
        )
    return views


# --------------------------------------------------------------------------- the client payload


def _client_strategy(strategy: Mapping[str, Any], order: int) -> dict[str, Any]:
    served: dict[str, Any] = {
        "name": strategy["name"],
        "parameters": dict(strategy.get("parameters") or {}),
        "constraints": list(strategy.get("constraints") or []),
        "segments": list(strategy.get("segments") or []),
        "variants": list(strategy.get("variants") or []),
        "sortOrder": order,
    }
    for optional in ("id", "title"):
        if optional in strategy:
            served[optional] = strategy[optional]
    return served


def _client_features(uow: UnitOfWork, environment: str, *, segments_inline: bool) -> dict[str, Any]:
    session = uow.session
    rows = session.execute(
        select(FlagRow, FlagEnvironmentRow)
        .outerjoin(
            FlagEnvironmentRow,
            (FlagEnvironmentRow.flag_id == FlagRow.id)
            & (FlagEnvironmentRow.environment == environment),
        )
        .where(FlagRow.archived_at.is_(None))
        .order_by(FlagRow.key)
    ).all()
    features: list[dict[str, Any]] = []
    used: set[int] = set()
    for flag, env in rows:
        strategies = [
            _client_strategy(s, order)
            for order, s in enumerate(env.strategies if env is not None else [])
            if not s.get("disabled")
        ]
        for strategy in strategies:
            used.update(strategy["segments"])
        features.append(
            {
                "name": flag.key,
                "type": flag.type,
                "description": flag.description,
                "enabled": env is not None and env.enabled,
                # staleness changes with time, not with revisions: the admin API shows it
                "stale": False,
                "impressionData": flag.impression_data,
                "project": "default",
                "strategies": strategies,
                "variants": list(env.variants) if env is not None else [],
                "dependencies": list(flag.dependencies),
            }
        )
    segments: dict[int, dict[str, Any]] = {}
    if used:
        for segment in session.scalars(select(SegmentRow).where(SegmentRow.id.in_(sorted(used)))):
            segments[segment.id] = {
                "id": segment.id,
                "name": segment.name,
                "constraints": list(segment.constraints),
            }
    query = {"environment": environment, "inlineSegmentConstraints": segments_inline}
    if segments_inline:
        for feature in features:
            for strategy in feature["strategies"]:
                for segment_id in strategy.pop("segments"):
                    if segment_id in segments:
                        strategy["constraints"].extend(segments[segment_id]["constraints"])
        return {"version": 2, "features": features, "query": query}
    return {
        "version": 2,
        "features": features,
        "segments": [segments[i] for i in sorted(segments)],
        "query": query,
    }
