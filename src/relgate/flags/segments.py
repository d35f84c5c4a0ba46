"""Segments: named sets of constraints that strategies of every flag refer to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.model import Action, Principal
from relgate.errors import BadInput, Conflict
from relgate.flags import unleash_format as fmt
from relgate.flags.core import Change, FlagCore
from relgate.flags.payloads import segment_view
from relgate.flags.stored import load_segment, segment_state, segment_users
from relgate.flags.views import (
    SegmentView,
)
from relgate.store.tables import (
    SegmentRow,
)


class FlagSegments(FlagCore):
    def list_segments(self, principal: Principal) -> list[SegmentView]:
        """Return every segment, ordered by name, with the flags that use it."""
        principal.require(Action.READ)
        with self._uow() as uow:
            rows = uow.session.scalars(select(SegmentRow).order_by(SegmentRow.name))
            users = segment_users(uow)
            return [segment_view(row, users.get(row.id, [])) for row in rows]

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
                after=segment_state(row),
            )
            # a new segment is in no payload yet: no revision to bump
            view = segment_view(row, [])
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
            row = load_segment(uow, name)
            before = segment_state(row)
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
                after=segment_state(row),
            )
            change = Change(set(), True)
            self._bump(uow, change)
            view = segment_view(row, segment_users(uow).get(row.id, []))
            uow.commit()
        self._notify(change)
        return view

    def delete_segment(self, principal: Principal, name: str) -> None:
        """Delete a segment no flag uses. Raises ``NotFound``, ``Conflict`` naming the users."""
        principal.require(Action.MANAGE_FLAGS)
        with self._uow() as uow:
            row = load_segment(uow, name)
            users = segment_users(uow, include_archived=True).get(row.id, [])
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
                before=segment_state(row),
            )
            uow.session.delete(row)
            uow.commit()
