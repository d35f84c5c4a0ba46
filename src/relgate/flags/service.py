"""Use cases of feature flags: serving the client payload, reading, and changing flags.

Segments (segments.py) and Unleash import/export (transfer.py) are mixed in;
how a change commits (audit, outbox event, revision bump, listeners) is
core.py's, and the row helpers are stored.py's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select

from relgate.auth.model import Action, Principal
from relgate.errors import BadInput, Conflict
from relgate.flags import unleash_format as fmt
from relgate.flags.core import Change
from relgate.flags.model import Snapshot
from relgate.flags.payloads import client_features_of, flag_views, kill_refusal, visible
from relgate.flags.segments import FlagSegments
from relgate.flags.stored import (
    check_dependencies,
    check_metadata,
    clean_tags,
    environment_rows,
    flag_state,
    is_conditional,
    load_flag,
    load_live_flag,
    revision_of,
    rollout_strategy,
)
from relgate.flags.transfer import FlagTransfer
from relgate.flags.views import (
    FlagBoard,
    FlagBoardRow,
    FlagView,
)
from relgate.store.tables import (
    EnvironmentRow,
    FlagEnvironmentRow,
    FlagRow,
    SegmentRow,
)


class _Unset:
    """Marks an argument that was not given (None means "no expiry")."""


UNSET: Final = _Unset()


class FlagService(FlagSegments, FlagTransfer):
    """Feature flags' use cases: serving, reading, changing, segments, import and export."""

    def revision(self, environment: str) -> int:
        """Return the revision of ``environment``'s payload: 0 before any change, then growing."""
        with self._uow() as uow:
            return revision_of(uow, environment)

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
            revision = revision_of(uow, environment)
            return revision, client_features_of(uow, environment, segments_inline=segments_inline)

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
            return visible(principal, flag_views(uow, flags, self._clock.now()))

    def get_flag(self, principal: Principal, key: str) -> FlagView:
        """Return one flag, archived or not, with the environments of the token's scope.

        Raises ``NotFound``.
        """
        principal.require(Action.READ)
        with self._uow() as uow:
            return visible(principal, flag_views(uow, [load_flag(uow, key)], self._clock.now()))[0]

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
                flags = [load_flag(uow, key)]
            else:
                query = select(FlagRow).order_by(FlagRow.key)
                if not include_archived:
                    query = query.where(FlagRow.archived_at.is_(None))
                flags = list(uow.session.scalars(query))
            views = flag_views(uow, flags, self._clock.now())
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
            FlagBoardRow(flag=shown, kill_refused=kill_refusal(principal, view))
            for view, shown in zip(views, visible(principal, views), strict=True)
        ]
        return FlagBoard(
            environments=[n for n in names if principal.may_touch_environment(n)],
            rows=rows,
            segments=segments,
        )

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
        force_expired: bool = False,
    ) -> FlagView:
        """Create a flag, off in every environment; return it.

        ``expires_at`` defaults by type (``relgate.flags.lifecycle.default_expiry``);
        ``None`` means never; a time not in the future is refused (``BadInput``
        naming ``expires_at``) unless ``force_expired``. Raises
        ``InvalidFlagDefinition`` for a bad key or type and ``Conflict`` when
        the key is taken (archived flags included).
        """
        from relgate.flags.lifecycle import check_expiry, default_expiry

        principal.require(Action.MANAGE_FLAGS)
        fmt.check_key(key)
        fmt.check_type(type)
        check_metadata(description, owner, tags)
        now = self._clock.now()
        if isinstance(expires_at, _Unset):
            expiry = default_expiry(type, now)
        else:
            check_expiry(expires_at, now, force_expired=force_expired)
            expiry = expires_at
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
                tags=clean_tags(tags),
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
                uow, principal, "flag.created", flag, None, flag_state(flag), Change(set(), True)
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
        force_expired: bool = False,
    ) -> FlagView:
        """Change a flag's metadata (only the fields given); return it.

        A new ``expires_at`` not in the future is refused (``BadInput`` naming
        ``expires_at``) unless ``force_expired``. Raises ``NotFound``,
        ``Conflict`` for an archived flag and ``InvalidFlagDefinition`` for an
        unknown type.
        """
        from relgate.flags.lifecycle import check_expiry

        principal.require(Action.MANAGE_FLAGS)
        check_metadata(description, None if isinstance(owner, _Unset) else owner, tags or ())
        if not isinstance(expires_at, _Unset):
            check_expiry(expires_at, self._clock.now(), force_expired=force_expired)
        with self._uow() as uow:
            flag = load_live_flag(uow, key)
            before = flag_state(flag)
            if type is not None:
                flag.type = fmt.check_type(type)
            if description is not None:
                flag.description = description
            if not isinstance(owner, _Unset):
                flag.owner = owner
            if tags is not None:
                flag.tags = clean_tags(tags)
            if not isinstance(expires_at, _Unset):
                flag.expires_at = expires_at
            if impression_data is not None:
                flag.impression_data = impression_data
            flag.updated_at = self._clock.now()
            after = flag_state(flag)
            # owner, tags and expiry are not in the client payload: no revision to bump
            served = ("type", "description", "impression_data")
            changed = any(before[name] != after[name] for name in served)
            return self._commit(
                uow, principal, "flag.updated", flag, before, after, Change(set(), changed)
            )

    def archive(self, principal: Principal, key: str) -> FlagView:
        """Archive a flag: it leaves every client payload. Return it.

        Raises ``NotFound``, and ``Conflict`` when it is already archived or
        another live flag depends on it; ``Forbidden`` for a scoped token (it
        leaves every environment).
        """
        principal.require(Action.MANAGE_FLAGS, everywhere=True)
        with self._uow() as uow:
            flag = load_live_flag(uow, key)
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
            before = flag_state(flag)
            now = self._clock.now()
            flag.archived_at = now
            flag.updated_at = now
            return self._commit(
                uow,
                principal,
                "flag.archived",
                flag,
                before,
                flag_state(flag),
                Change(set(), True),
            )

    def revive(self, principal: Principal, key: str) -> FlagView:
        """Bring an archived flag back with its last configuration; return it.

        Raises ``NotFound``, and ``Conflict`` when the flag is not archived;
        ``Forbidden`` for a scoped token (it comes back in every environment).
        """
        principal.require(Action.MANAGE_FLAGS, everywhere=True)
        with self._uow() as uow:
            flag = load_flag(uow, key)
            if flag.archived_at is None:
                raise Conflict(f"flag {key!r} is not archived")
            before = flag_state(flag)
            flag.archived_at = None
            flag.updated_at = self._clock.now()
            return self._commit(
                uow,
                principal,
                "flag.revived",
                flag,
                before,
                flag_state(flag),
                Change(set(), True),
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
            flag = load_live_flag(uow, key)
            check_dependencies(uow, key, normalized)
            before = flag_state(flag)
            flag.dependencies = normalized
            flag.updated_at = self._clock.now()
            return self._commit(
                uow,
                principal,
                "flag.dependencies_set",
                flag,
                before,
                flag_state(flag),
                Change(set(), True),
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
                row.strategies = [rollout_strategy(flag.key, 100, "default", [])]

        return self._change_environment(principal, key, environment, "flag.enabled", change)

    def disable(self, principal: Principal, key: str, environment: str) -> FlagView:
        """Turn a flag off in ``environment``, keeping its strategies; return it."""

        def change(row: FlagEnvironmentRow, load_flag: FlagRow) -> None:
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

        def change(row: FlagEnvironmentRow, load_flag: FlagRow) -> None:
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

        def change(row: FlagEnvironmentRow, load_flag: FlagRow) -> None:
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
                if strategy["name"] == "default" and not is_conditional(strategy):
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
                    rollout_strategy(
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
            flag = load_live_flag(uow, key)
            rows = environment_rows(uow, flag.id)
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
                Change({r.environment for r in rows}),
            )
