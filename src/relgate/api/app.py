"""create_app: the FastAPI application; settings and engine are built here, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from relgate import __version__
from relgate.bootstrap import Services


def create_app(services: Services, *, start_workers: bool = True) -> FastAPI:
    """Return the app serving the REST API, health and OpenAPI, with workers tied to its life."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # SDK metrics are stored by a thread of their own, off the request path
        services.metrics_ingestion.start()
        if start_workers:
            services.worker.start()
            services.notify_worker.start()
            services.checkpointer.start()
        try:
            yield
        finally:
            services.checkpointer.stop()
            services.notify_worker.stop()
            services.worker.stop()
            services.metrics_ingestion.stop()

    app = FastAPI(
        title="relgate",
        version=__version__,
        description="Release control plane: releases, gates, approvals, deployments, rollback.",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.services = services

    from relgate.api import errors, openapi
    from relgate.api.limits import BodyLimits
    from relgate.api.routes import (
        admin,
        audit,
        control,
        delivery,
        flags,
        frontend,
        metrics,
        notify,
        ofrep,
        pipelines,
        rehearsals,
        unleash,
    )

    errors.install(app)
    openapi.install(app)
    # a token before any body is read, bodies within their size and depth limits
    app.add_middleware(BodyLimits)
    app.include_router(pipelines.router)
    app.include_router(control.router)
    app.include_router(admin.router)
    app.include_router(audit.router)
    app.include_router(flags.router)
    app.include_router(unleash.router)
    app.include_router(ofrep.router)
    app.include_router(frontend.router)
    app.include_router(notify.router)
    app.include_router(metrics.router)
    app.include_router(delivery.router)
    app.include_router(rehearsals.router)
    from relgate.web import app as web

    web.install(app)
    # answers cached GET /api/client/features before FastAPI's routing: the
    # Unleash SDKs' polling is by far the most frequent request
    unleash.install_fast_path(app)
    # CORS of /api/frontend, per frontend token: outermost, so refusals carry it too
    frontend.install(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Answers without a token; checks the database."""
        from sqlalchemy import text

        with services.uow() as uow:
            uow.session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    return app
