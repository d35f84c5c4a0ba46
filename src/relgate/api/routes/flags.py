"""Routes: feature flag administration under /api/v1 (flags, segments, Unleash import/export).

Thin: parse, call ``FlagService``, render. Strategy, variant and dependency
bodies are taken as plain JSON and checked by the service, whose errors name
the path of what is wrong (``strategies[0].constraints[1].operator``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from relgate import limits
from relgate.api.deps import PrincipalDep, ServicesDep
from relgate.api.params import EnvironmentPath, EnvironmentQuery, FlagKeyPath, SegmentPath
from relgate.flags.service import UNSET
from relgate.flags.views import FlagView, ImportSummary, SegmentView

router = APIRouter(prefix="/api/v1")

JsonList = Annotated[list[Any], Body()]
Tag = Annotated[str, Field(max_length=limits.FLAG_TAG)]


class FlagCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=limits.FLAG_KEY)
    type: str = Field(default="release", max_length=limits.FLAG_TYPE)
    description: str = Field(default="", max_length=limits.FLAG_DESCRIPTION)
    owner: str | None = Field(default=None, max_length=limits.FLAG_OWNER)
    tags: list[Tag] = Field(default_factory=list)
    # left out: the type's default expiry; null: never expires
    expires_at: datetime | date | None = None
    impression_data: bool = False
    # an expires_at not in the future is refused unless this is true
    force_expired: bool = False


class FlagUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(default=None, max_length=limits.FLAG_TYPE)
    description: str | None = Field(default=None, max_length=limits.FLAG_DESCRIPTION)
    owner: str | None = Field(default=None, max_length=limits.FLAG_OWNER)
    tags: list[Tag] | None = None
    expires_at: datetime | date | None = None
    impression_data: bool | None = None
    force_expired: bool = False


class KillBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=limits.REASON)


class RolloutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percentage: int = Field(ge=0, le=100)
    stickiness: str | None = Field(default=None, max_length=limits.PROPERTY_NAME)
    constraints: list[Any] | None = None


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=limits.SEGMENT_NAME)
    description: str = Field(default="", max_length=limits.FLAG_DESCRIPTION)
    constraints: list[Any] = Field(default_factory=list)


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=limits.FLAG_DESCRIPTION)
    constraints: list[Any] | None = None


def _instant(value: datetime | date | None) -> datetime | None:
    """Read a bare date as midnight UTC of that day; a naive date-time as UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(), tzinfo=UTC)


# --------------------------------------------------------------------------- flags


@router.get("/flags", tags=["flags"])
def list_flags(
    services: ServicesDep,
    me: PrincipalDep,
    archived: Annotated[bool, Query(description="Include archived flags.")] = False,
) -> list[FlagView]:
    """Every flag with its environments, usage metrics and stale reasons."""
    return services.flags.list_flags(me, include_archived=archived)


@router.post("/flags", status_code=201, tags=["flags"])
def create_flag(body: FlagCreate, services: ServicesDep, me: PrincipalDep) -> FlagView:
    """Create a flag, off everywhere; 409 when the key exists.

    400 naming ``expires_at`` when it is not in the future, unless ``force_expired``.
    """
    expires = _instant(body.expires_at) if "expires_at" in body.model_fields_set else UNSET
    return services.flags.create(
        me,
        body.key,
        type=body.type,
        description=body.description,
        owner=body.owner,
        tags=body.tags,
        expires_at=expires,
        impression_data=body.impression_data,
        force_expired=body.force_expired,
    )


@router.get("/flags/{key}", tags=["flags"])
def get_flag(key: FlagKeyPath, services: ServicesDep, me: PrincipalDep) -> FlagView:
    return services.flags.get_flag(me, key)


@router.patch("/flags/{key}", tags=["flags"])
def update_flag(
    key: FlagKeyPath, body: FlagUpdate, services: ServicesDep, me: PrincipalDep
) -> FlagView:
    """Change the metadata fields that are present in the body (null clears owner/expiry)."""
    given = body.model_fields_set
    return services.flags.update(
        me,
        key,
        type=body.type,
        description=body.description,
        owner=body.owner if "owner" in given else UNSET,
        tags=body.tags,
        expires_at=_instant(body.expires_at) if "expires_at" in given else UNSET,
        impression_data=body.impression_data,
        force_expired=body.force_expired,
    )


@router.post("/flags/{key}/archive", tags=["flags"])
def archive_flag(key: FlagKeyPath, services: ServicesDep, me: PrincipalDep) -> FlagView:
    return services.flags.archive(me, key)


@router.post("/flags/{key}/revive", tags=["flags"])
def revive_flag(key: FlagKeyPath, services: ServicesDep, me: PrincipalDep) -> FlagView:
    return services.flags.revive(me, key)


@router.post("/flags/{key}/kill", tags=["flags"])
def kill_flag(
    key: FlagKeyPath, services: ServicesDep, me: PrincipalDep, body: KillBody | None = None
) -> FlagView:
    """Turn the flag off in every environment at once."""
    return services.flags.kill(me, key, reason=body.reason if body else "")


@router.put("/flags/{key}/dependencies", tags=["flags"])
def set_dependencies(
    key: FlagKeyPath, body: JsonList, services: ServicesDep, me: PrincipalDep
) -> FlagView:
    """Body: ``[{"feature": "parent", "enabled": true, "variants": ["blue"]}]``."""
    return services.flags.set_dependencies(me, key, body)


@router.post("/flags/{key}/environments/{environment}/enable", tags=["flags"])
def enable_flag(
    key: FlagKeyPath, environment: EnvironmentPath, services: ServicesDep, me: PrincipalDep
) -> FlagView:
    return services.flags.enable(me, key, environment)


@router.post("/flags/{key}/environments/{environment}/disable", tags=["flags"])
def disable_flag(
    key: FlagKeyPath, environment: EnvironmentPath, services: ServicesDep, me: PrincipalDep
) -> FlagView:
    return services.flags.disable(me, key, environment)


@router.put("/flags/{key}/environments/{environment}/strategies", tags=["flags"])
def set_strategies(
    key: FlagKeyPath,
    environment: EnvironmentPath,
    body: JsonList,
    services: ServicesDep,
    me: PrincipalDep,
) -> FlagView:
    """Body: the ordered list of Unleash strategy objects."""
    return services.flags.set_strategies(me, key, environment, body)


@router.put("/flags/{key}/environments/{environment}/variants", tags=["flags"])
def set_variants(
    key: FlagKeyPath,
    environment: EnvironmentPath,
    body: JsonList,
    services: ServicesDep,
    me: PrincipalDep,
) -> FlagView:
    """Body: the list of Unleash variant objects; weights are fixed to total 1000."""
    return services.flags.set_variants(me, key, environment, body)


@router.post("/flags/{key}/environments/{environment}/rollout", tags=["flags"])
def rollout_flag(
    key: FlagKeyPath,
    environment: EnvironmentPath,
    body: RolloutBody,
    services: ServicesDep,
    me: PrincipalDep,
) -> FlagView:
    """Set the flag's gradual rollout percentage there, and turn it on."""
    return services.flags.rollout(
        me,
        key,
        environment,
        body.percentage,
        stickiness=body.stickiness,
        constraints=body.constraints,
    )


# --------------------------------------------------------------------------- import / export


@router.get("/flags-export", tags=["flags"])
def export_flags(
    services: ServicesDep,
    me: PrincipalDep,
    environment: Annotated[
        list[Annotated[str, Field(max_length=limits.ENVIRONMENT)]] | None, Query()
    ] = None,
) -> dict[str, Any]:
    """The Unleash export document of every live flag (``?environment=`` repeatable)."""
    return services.flags.export_unleash(me, environment or [])


@router.post("/flags-import", tags=["flags"])
def import_flags(
    body: Annotated[dict[str, Any], Body()],
    services: ServicesDep,
    me: PrincipalDep,
    environment: EnvironmentQuery = None,
) -> ImportSummary:
    """Import an Unleash export document or client features payload (all or nothing)."""
    return services.flags.import_unleash(me, body, environment=environment)


# --------------------------------------------------------------------------- segments


@router.get("/segments", tags=["flags"])
def list_segments(services: ServicesDep, me: PrincipalDep) -> list[SegmentView]:
    return services.flags.list_segments(me)


@router.post("/segments", status_code=201, tags=["flags"])
def create_segment(body: SegmentCreate, services: ServicesDep, me: PrincipalDep) -> SegmentView:
    return services.flags.create_segment(
        me, body.name, description=body.description, constraints=body.constraints
    )


@router.patch("/segments/{name}", tags=["flags"])
def update_segment(
    name: SegmentPath, body: SegmentUpdate, services: ServicesDep, me: PrincipalDep
) -> SegmentView:
    return services.flags.update_segment(
        me, name, description=body.description, constraints=body.constraints
    )


@router.delete("/segments/{name}", status_code=204, tags=["flags"])
def delete_segment(name: SegmentPath, services: ServicesDep, me: PrincipalDep) -> Response:
    services.flags.delete_segment(me, name)
    return Response(status_code=204)
