"""Reading and writing the flag tables: rows, checks and the states the audit records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select

from relgate import limits
from relgate.errors import BadInput, Conflict, InvalidFlagDefinition, NotFound
from relgate.store.tables import (
    FlagEnvironmentRow,
    FlagRevisionRow,
    FlagRow,
    SegmentRow,
)
from relgate.store.uow import UnitOfWork, as_utc

ALL_ENVIRONMENTS: Final = "*"

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


# --------------------------------------------------------------------------- reading rows


def revision_of(uow: UnitOfWork, environment: str) -> int:
    total = uow.session.scalar(
        select(func.coalesce(func.sum(FlagRevisionRow.revision), 0)).where(
            FlagRevisionRow.environment.in_([environment, ALL_ENVIRONMENTS])
        )
    )
    return int(total or 0)


def load_flag(uow: UnitOfWork, key: str) -> FlagRow:
    flag = uow.session.scalar(select(FlagRow).where(FlagRow.key == key))
    if flag is None:
        raise NotFound(f"no flag {key!r}")
    return flag


def load_live_flag(uow: UnitOfWork, key: str) -> FlagRow:
    flag = load_flag(uow, key)
    if flag.archived_at is not None:
        raise Conflict(f"flag {key!r} is archived: revive it first")
    return flag


def load_segment(uow: UnitOfWork, name: str) -> SegmentRow:
    row = uow.session.scalar(select(SegmentRow).where(SegmentRow.name == name))
    if row is None:
        raise NotFound(f"no segment {name!r}")
    return row


def check_metadata(description: str | None, owner: str | None, tags: Sequence[str]) -> None:
    """Raise BadInput naming the field when a flag's free text is longer than its limit."""
    limits.check_text("description", description, limits.FLAG_DESCRIPTION)
    limits.check_text("owner", owner, limits.FLAG_OWNER)
    for index, tag in enumerate(tags):
        limits.check_text(f"tags[{index}]", tag, limits.FLAG_TAG)


def environment_rows(uow: UnitOfWork, flag_id: int) -> list[FlagEnvironmentRow]:
    return list(
        uow.session.scalars(
            select(FlagEnvironmentRow)
            .where(FlagEnvironmentRow.flag_id == flag_id)
            .order_by(FlagEnvironmentRow.environment)
        )
    )


def environment_row(
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


def segment_users(uow: UnitOfWork, *, include_archived: bool = False) -> dict[int, list[str]]:
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


def check_segments(uow: UnitOfWork, strategies: Sequence[Mapping[str, Any]]) -> None:
    known = set(uow.session.scalars(select(SegmentRow.id)))
    for index, strategy in enumerate(strategies):
        for position, segment_id in enumerate(strategy.get("segments") or []):
            if segment_id not in known:
                raise InvalidFlagDefinition(
                    f"strategies[{index}].segments[{position}]: no segment with id {segment_id}"
                )


def mapped_segment(ids: Mapping[int, int], segment_id: int, key: str, env: str, index: int) -> int:
    if segment_id not in ids:
        raise InvalidFlagDefinition(
            f"flag {key!r}, environment {env!r}, strategy {index}: segment id {segment_id} "
            "is not among the file's segments"
        )
    return ids[segment_id]


def check_dependencies(
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


# --------------------------------------------------------------------------- writing rows


def clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        text = tag.strip()
        if not text:
            raise BadInput("tags: a tag must not be empty")
        if text not in cleaned:
            cleaned.append(text)
    return cleaned


def is_conditional(strategy: Mapping[str, Any]) -> bool:
    return bool(strategy.get("constraints") or strategy.get("segments"))


def rollout_strategy(
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


def touch(row: FlagEnvironmentRow, now: datetime) -> None:
    """Mark ``row`` changed and keep ``fully_rolled_out_since`` true to its config."""
    from relgate.flags.lifecycle import is_fully_rolled_out

    row.updated_at = now
    if is_fully_rolled_out(row.enabled, row.strategies):
        if row.fully_rolled_out_since is None:
            row.fully_rolled_out_since = now
    else:
        row.fully_rolled_out_since = None


# --------------------------------------------------------------------------- audit states


def iso(at: datetime | None) -> str | None:
    return None if at is None else as_utc(at).isoformat()


def flag_state(flag: FlagRow) -> dict[str, Any]:
    return {
        "key": flag.key,
        "type": flag.type,
        "description": flag.description,
        "owner": flag.owner,
        "tags": list(flag.tags),
        "impression_data": flag.impression_data,
        "dependencies": list(flag.dependencies),
        "expires_at": iso(flag.expires_at),
        "archived_at": iso(flag.archived_at),
    }


def environment_state(row: FlagEnvironmentRow) -> dict[str, Any]:
    return {
        "environment": row.environment,
        "enabled": row.enabled,
        "strategies": list(row.strategies),
        "variants": list(row.variants),
    }


def full_state(uow: UnitOfWork, flag: FlagRow) -> dict[str, Any]:
    state = flag_state(flag)
    state["environments"] = {
        row.environment: environment_state(row) for row in environment_rows(uow, flag.id)
    }
    return state


def segment_state(row: SegmentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "constraints": list(row.constraints),
    }
