"""The composition root: build(settings) -> Services wires the store to the use cases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from relgate.auth.service import TokenService
from relgate.clock import Clock, SystemClock
from relgate.config import Settings
from relgate.errors import BadInput
from relgate.flags.ingestion import MetricsIngestion
from relgate.flags.metrics import ClientMetricsService
from relgate.flags.service import FlagService
from relgate.promotion.service import PromotionService
from relgate.promotion.worker import Worker
from relgate.releases.service import ReleaseService
from relgate.store import db
from relgate.store.uow import UnitOfWorkFactory


@dataclass
class Services:
    settings: Settings
    uow: UnitOfWorkFactory
    clock: Clock
    tokens: TokenService
    releases: ReleaseService
    promotion: PromotionService
    worker: Worker
    flags: FlagService
    client_metrics: ClientMetricsService
    metrics_ingestion: MetricsIngestion


def check_schema(settings: Settings) -> None:
    """Make sure the schema is current: apply it on SQLite, refuse on PostgreSQL.

    Raises BadInput telling what to run when a PostgreSQL schema is out of date.
    """
    engine = db.make_engine(settings.database_url)
    try:
        current = db.current_revision(engine)
        head = db.head_revision()
        if current == head:
            return
        if engine.dialect.name == "sqlite" and settings.auto_migrate_sqlite:
            db.upgrade(engine)
            return
        raise BadInput(
            f"the database schema is at {current or 'nothing (empty database)'}, relgate needs "
            f"{head}: run `relgate db upgrade` (with the same RELGATE_DATABASE_URL) first"
        )
    finally:
        engine.dispose()


def build(
    settings: Settings, *, clock: Clock | None = None, base_dir: Path | None = None
) -> Services:
    """Wire every service to one engine; nothing is started."""
    clock = clock or SystemClock()
    engine = db.make_engine(settings.database_url)
    uow = UnitOfWorkFactory(engine)
    tokens = TokenService(uow, clock)
    releases = ReleaseService(uow, clock)
    promotion = PromotionService(uow, clock)
    releases.subscribe(promotion.auto_promote)
    worker = Worker(
        uow,
        clock,
        promotion,
        base_dir=base_dir or Path.cwd(),
        threads=settings.worker_threads,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.poll_interval_seconds,
    )
    client_metrics = ClientMetricsService(uow, clock)
    return Services(
        settings=settings,
        uow=uow,
        clock=clock,
        tokens=tokens,
        releases=releases,
        promotion=promotion,
        worker=worker,
        flags=FlagService(uow, clock),
        client_metrics=client_metrics,
        metrics_ingestion=MetricsIngestion(client_metrics),
    )
