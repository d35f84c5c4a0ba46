"""GET /metrics: Prometheus text format, computed from the database (relgate.metrics)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from starlette.concurrency import run_in_threadpool

from relgate import metrics
from relgate.api.deps import ServicesDep

router = APIRouter()


@router.get(
    "/metrics",
    tags=["health"],
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format 0.0.4."},
        401: {"description": "No token, or neither RELGATE_METRICS_TOKEN nor a known token."},
        403: {"description": "A token scoped to some services or environments, or a client's."},
    },
)
async def scrape(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus metrics; needs RELGATE_METRICS_TOKEN or an unrestricted read token."""
    await run_in_threadpool(
        metrics.authorize_scrape,
        authorization,
        metrics_token=services.settings.metrics_token,
        authenticate=services.tokens.authenticate,
    )
    body, content_type = await run_in_threadpool(metrics.render, services.metrics)
    return Response(content=body, media_type=content_type)
