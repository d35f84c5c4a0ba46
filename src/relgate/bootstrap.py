"""The composition root: build(settings) -> Services wires the store to the use cases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from relgate.audit import keys
from relgate.audit.checkpointer import Checkpointer
from relgate.audit.sinks import CheckpointSink, FileSink, GitSink, WebhookSink
from relgate.auth.identities import IdentityService
from relgate.auth.service import TokenService
from relgate.clock import Clock, SystemClock
from relgate.config import AuditSinkSetting, Settings, SinkKind, server_environment
from relgate.deploy.factory import DeployerRegistry, default_registry
from relgate.errors import BadInput
from relgate.flags.ingestion import MetricsIngestion
from relgate.flags.metrics import ClientMetricsService
from relgate.flags.service import FlagService
from relgate.promotion.deployers import DeployerService, load_deployers_file
from relgate.promotion.pipelines import PipelineService
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
    pipelines: PipelineService
    deployers: DeployerService
    registry: DeployerRegistry
    worker: Worker
    flags: FlagService
    identities: IdentityService
    checkpointer: Checkpointer
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
    """Wire every service to one engine; nothing is started.

    Loads the audit signing key (creating it on the first start); raises
    BadInput naming the key file when it is unreadable or malformed, and
    InvalidConfig when the server's deployers file (RELGATE_DEPLOYERS_FILE) is invalid.
    """
    clock = clock or SystemClock()
    configured = load_deployers_file(settings.deployers_file) if settings.deployers_file else []
    audit_key = keys.load_or_create(settings.audit_key_path())
    engine = db.make_engine(settings.database_url)
    uow = UnitOfWorkFactory(engine)
    deployers = DeployerService(uow, clock, configured=configured, environ=server_environment())
    tokens = TokenService(uow, clock)
    releases = ReleaseService(uow, clock)
    promotion = PromotionService(uow, clock)
    releases.subscribe(promotion.auto_promote)
    registry = default_registry()
    worker = Worker(
        uow,
        clock,
        promotion,
        deployers=deployers,
        registry=registry,
        base_dir=base_dir or Path.cwd(),
        threads=settings.worker_threads,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.poll_interval_seconds,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
        orphan_grace_seconds=settings.orphan_grace_seconds,
    )
    client_metrics = ClientMetricsService(uow, clock)
    return Services(
        settings=settings,
        uow=uow,
        clock=clock,
        tokens=tokens,
        releases=releases,
        promotion=promotion,
        pipelines=PipelineService(uow, clock, deployers),
        deployers=deployers,
        registry=registry,
        worker=worker,
        flags=FlagService(uow, clock),
        identities=IdentityService(uow, clock),
        checkpointer=Checkpointer(
            uow,
            clock,
            audit_key,
            [_sink(sink, base_dir or Path.cwd()) for sink in settings.audit_sinks],
            every_events=settings.audit_checkpoint_events,
            every_minutes=settings.audit_checkpoint_minutes,
        ),
        client_metrics=client_metrics,
        metrics_ingestion=MetricsIngestion(client_metrics),
    )


def _sink(setting: AuditSinkSetting, base_dir: Path) -> CheckpointSink:
    if setting.kind is SinkKind.FILE:
        return FileSink(base_dir / setting.target)
    if setting.kind is SinkKind.GIT:
        return GitSink(base_dir / setting.target)
    return WebhookSink(setting.target)
