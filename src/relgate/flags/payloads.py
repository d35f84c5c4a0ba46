"""What readers get: flag views within a token's scope, and the client API payload."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from relgate.auth.model import Action, Principal, Role
from relgate.errors import Forbidden
from relgate.flags.views import (
    FlagEnvironmentView,
    FlagUsageView,
    FlagView,
    SegmentView,
)
from relgate.store.tables import (
    FlagEnvironmentRow,
    FlagMetricRow,
    FlagRow,
    SegmentRow,
)
from relgate.store.uow import UnitOfWork, as_utc

# --------------------------------------------------------------------------- views


def segment_view(row: SegmentRow, used_by: list[str]) -> SegmentView:
    return SegmentView(
        id=row.id,
        name=row.name,
        description=row.description,
        constraints=list(row.constraints),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        used_by=used_by,
    )


def visible(principal: Principal, views: list[FlagView]) -> list[FlagView]:
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


def kill_refusal(principal: Principal, view: FlagView) -> str | None:
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


def flag_views(uow: UnitOfWork, flags: Sequence[FlagRow], now: datetime) -> list[FlagView]:
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


def client_features_of(
    uow: UnitOfWork, environment: str, *, segments_inline: bool
) -> dict[str, Any]:
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
