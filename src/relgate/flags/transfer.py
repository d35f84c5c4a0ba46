"""Moving flags in and out: Unleash exports and client payloads imported, an export built."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from relgate.audit import store as audit
from relgate.auth.model import Action, Principal
from relgate.errors import BadInput
from relgate.flags import unleash_format as fmt
from relgate.flags.core import Change, FlagCore, flag_event
from relgate.flags.payloads import flag_views
from relgate.flags.stored import (
    check_environment,
    environment_row,
    full_state,
    mapped_segment,
    segment_state,
    touch,
)
from relgate.flags.views import (
    ImportSummary,
)
from relgate.notify import outbox
from relgate.store.tables import (
    FlagRow,
    SegmentRow,
)
from relgate.store.uow import UnitOfWork


class FlagTransfer(FlagCore):
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
                before = None if flag is None else full_state(uow, flag)
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
                    after=full_state(uow, flag),
                )
                outbox.append(
                    uow.session,
                    [
                        flag_event(
                            flag.key,
                            "flag.imported",
                            principal.name,
                            Change(set(imported.environments)),
                            None,
                            None,
                            self._clock,
                        )
                    ],
                )
            change = Change(environments, True)
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
            views = flag_views(uow, flags, now)
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
        before = None if row is None else segment_state(row)
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
            after=segment_state(row),
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
                mapped_segment(segment_ids, s, imported.key, name, index)
                for s in strategy["segments"]
            ]
            strategies.append(mapped)
        row = environment_row(uow, flag, name, now)
        row.enabled = config.enabled
        row.strategies = strategies
        row.variants = config.variants
        touch(row, now)
    return flag
