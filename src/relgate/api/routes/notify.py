"""Routes of notifications: subscribers (admin), delivery status and retry."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from relgate.api.deps import PrincipalDep, ServicesDep
from relgate.notify.subscribers import Filters, SubscriberKind, SubscriberSpec

router = APIRouter(prefix="/api/v1/notify")

_Item = Annotated[str, Field(min_length=1, max_length=100)]
SubscriberPath = Annotated[str, Path(max_length=100, description="A subscriber's name.")]


class SubscriberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    kind: Literal["slack", "webhook"]
    url: str = Field(max_length=2000, description="The receiver: an http(s) URL.")
    secret: str | None = Field(
        default=None, max_length=500, description="HMAC-SHA256 key of a webhook; never shown back."
    )
    secret_env: str | None = Field(
        default=None, max_length=200, description="Or: the server variable holding that key."
    )
    services: list[_Item] = Field(default_factory=list, max_length=100)
    environments: list[_Item] = Field(default_factory=list, max_length=100)
    events: list[_Item] = Field(default_factory=list, max_length=100)


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    all_dead: bool = False


@router.post("/subscribers", status_code=201, tags=["notify"])
def add_subscriber(
    body: SubscriberCreate, services: ServicesDep, me: PrincipalDep
) -> dict[str, Any]:
    """Add a Slack or webhook subscriber (admin); it hears events committed from now on."""
    spec = SubscriberSpec(
        name=body.name,
        kind=SubscriberKind(body.kind),
        url=body.url,
        secret=body.secret,
        secret_env=body.secret_env,
        filters=Filters(
            services=tuple(body.services),
            environments=tuple(body.environments),
            event_types=tuple(body.events),
        ),
    )
    return services.notify.add(me, spec)


@router.get("/subscribers", tags=["notify"])
def list_subscribers(services: ServicesDep, me: PrincipalDep) -> list[dict[str, Any]]:
    """The subscribers the token's scope covers; secrets are never shown."""
    return services.notify.list_subscribers(me)


@router.delete("/subscribers/{name}", tags=["notify"])
def remove_subscriber(
    name: SubscriberPath, services: ServicesDep, me: PrincipalDep
) -> dict[str, str]:
    """Remove a subscriber and its undelivered notifications (admin)."""
    services.notify.remove(me, name)
    return {"removed": name}


@router.get("/status", tags=["notify"])
def status(
    services: ServicesDep,
    me: PrincipalDep,
    dead: Annotated[bool, Query(description="Only the dead letters.")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Backlog, each subscriber's deliveries by state, and dead letters with their last error."""
    return services.notify.status(me, dead_only=dead, limit=limit)


@router.post("/retry", tags=["notify"])
def retry(body: RetryRequest, services: ServicesDep, me: PrincipalDep) -> dict[str, int]:
    """Queue one delivery, or every dead one, again (admin)."""
    count = services.notify.retry(me, delivery_id=body.delivery_id, all_dead=body.all_dead)
    return {"queued": count}
