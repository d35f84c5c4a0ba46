"""The composition root: build(settings) -> Services wires the store to the use cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from prometheus_client.registry import CollectorRegistry

from relgate import metrics
from relgate.audit import keys
from relgate.audit.checkpointer import Checkpointer
from relgate.audit.reading import AuditTrail
from relgate.audit.sinks import CheckpointSink, FileSink, GitSink, WebhookSink
from relgate.auth.identities import IdentityService
from relgate.auth.service import TokenService
from relgate.auth.sessions import SessionService
from relgate.clock import Clock, SystemClock
from relgate.config import AuditSinkSetting, Settings, SinkKind, server_environment
from relgate.delivery.service import DeliveryService
from relgate.deploy.factory import DeployerRegistry, default_registry
from relgate.deploy.oci import (
    RegistryArtifactResolver,
    RegistryClients,
    RegistryStableTagger,
    audit_recorder,
)
from relgate.deploy.registries import Registries, load_registries_file
from relgate.errors import BadInput
from relgate.flags.ingestion import MetricsIngestion
from relgate.flags.metrics import ClientMetricsService
from relgate.flags.service import FlagService
from relgate.notify.backoff import Backoff
from relgate.notify.delivery import HttpSender
from relgate.notify.service import NotifyService
from relgate.notify.worker import NotifyWorker
from relgate.promotion.deployers import DeployerService, load_deployers_file
from relgate.promotion.pipelines import PipelineService
from relgate.promotion.rehearsals import RehearsalService
from relgate.promotion.service import PromotionService
from relgate.promotion.worker import Worker
from relgate.releases.service import ReleaseService
from relgate.routing.registry import RouterRegistry, default_routers
from relgate.store import db
from relgate.store.uow import UnitOfWorkFactory


@dataclass
class Services:
    settings: Settings
    uow: UnitOfWorkFactory
    clock: Clock
    tokens: TokenService
    sessions: SessionService
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
    notify: NotifyService
    notify_worker: NotifyWorker
    metrics: CollectorRegistry
    delivery: DeliveryService
    # traffic routers by `type` (haproxy, flag, kubernetes), for progressive delivery
    routers: RouterRegistry
    # reading the audit trail; built from the above (it remembers the head it verified)
    audit: AuditTrail = field(init=False)
    # issue 10: rollback rehearsals, read from the deployment history
    rehearsals: RehearsalService = field(init=False)

    def __post_init__(self) -> None:
        self.audit = AuditTrail(self.uow, self.checkpointer, self.clock)
        self.rehearsals = RehearsalService(self.uow, self.clock)


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
    InvalidConfig when the server's deployers (RELGATE_DEPLOYERS_FILE) or registries
    (RELGATE_REGISTRIES_FILE) file is invalid.
    """
    clock = clock or SystemClock()
    configured = load_deployers_file(settings.deployers_file) if settings.deployers_file else []
    registries = Registries(
        load_registries_file(settings.registries_file) if settings.registries_file else []
    )
    audit_key = keys.load_or_create(settings.audit_key_path())
    engine = db.make_engine(settings.database_url)
    uow = UnitOfWorkFactory(engine)
    deployers = DeployerService(uow, clock, configured=configured, environ=server_environment())
    tokens = TokenService(uow, clock)
    # artifacts on the configured registries are checked at release and tagged stable
    registry_clients = RegistryClients(registries, server_environment()) if registries else None
    releases = ReleaseService(
        uow,
        clock,
        resolver=RegistryArtifactResolver(registry_clients) if registry_clients else None,
    )
    promotion = PromotionService(uow, clock)
    releases.subscribe(promotion.auto_promote)
    registry = default_registry(Path(settings.data_dir) if settings.data_dir else None)
    worker = Worker(
        uow,
        clock,
        promotion,
        deployers=deployers,
        registry=registry,
        tagger=RegistryStableTagger(registry_clients, audit_recorder(uow, clock))
        if registry_clients
        else None,
        base_dir=base_dir or Path.cwd(),
        threads=settings.worker_threads,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.poll_interval_seconds,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
        orphan_grace_seconds=settings.orphan_grace_seconds,
    )
    client_metrics = ClientMetricsService(uow, clock)
    flags = FlagService(uow, clock)
    notify_worker = NotifyWorker(
        uow,
        clock,
        sender=HttpSender(
            connect_timeout=settings.notify_connect_timeout_seconds,
            read_timeout=settings.notify_read_timeout_seconds,
        ),
        backoff=Backoff(
            base=settings.notify_backoff_base_seconds, cap=settings.notify_backoff_cap_seconds
        ),
        max_attempts=settings.notify_max_attempts,
        lease_seconds=settings.notify_lease_seconds,
        public_url=settings.public_url,
        environ=server_environment(),
        threads=settings.notify_threads,
        poll_seconds=settings.poll_interval_seconds,
    )
    return Services(
        settings=settings,
        uow=uow,
        clock=clock,
        tokens=tokens,
        sessions=SessionService(
            uow,
            clock,
            idle=timedelta(minutes=settings.web_session_idle_minutes),
            lifetime=timedelta(hours=settings.web_session_hours),
        ),
        releases=releases,
        promotion=promotion,
        pipelines=PipelineService(uow, clock, deployers),
        deployers=deployers,
        registry=registry,
        worker=worker,
        flags=flags,
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
        notify=NotifyService(uow, clock, wake=notify_worker.wake),
        notify_worker=notify_worker,
        metrics=metrics.registry(uow),
        delivery=DeliveryService(uow, clock),
        routers=default_routers(flags),
    )


def _sink(setting: AuditSinkSetting, base_dir: Path) -> CheckpointSink:
    if setting.kind is SinkKind.FILE:
        return FileSink(base_dir / setting.target)
    if setting.kind is SinkKind.GIT:
        return GitSink(base_dir / setting.target)
    return WebhookSink(setting.target)
