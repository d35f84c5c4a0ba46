"""relgate's schema. Changed only together with a new Alembic revision in store/alembic/versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class IdentityRow(Base):
    """A person or robot; tokens belong to one. ``key`` is the normalised name."""

    __tablename__ = "identities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="person")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class IdentityNameRow(Base):
    """An email address or alias of an identity, normalised; each names one identity only."""

    __tablename__ = "identity_names"
    __table_args__ = (Index("ix_identity_names_identity", "identity_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"))
    kind: Mapped[str] = mapped_column(String(10))  # "email" or "alias"
    value: Mapped[str] = mapped_column(String(320), unique=True)


class TokenRow(Base):
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    environment: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
    # the identity the token belongs to (None only for rows older than identities)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"))
    # the scope: lists of names, None = unrestricted
    services: Mapped[list[Any] | None] = mapped_column(JSON)
    environments: Mapped[list[Any] | None] = mapped_column(JSON)
    # a frontend token's browser origins, canonical (migration 0012); None for other roles
    origins: Mapped[list[Any] | None] = mapped_column(JSON)


class WebSessionRow(Base):
    """A signed-in browser: the hash of its cookie, the token it signed in with, its CSRF secret."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_token", "token_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class ServiceRow(Base):
    __tablename__ = "services"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime]


class PipelineRow(Base):
    """Every applied version of a service's pipeline, kept.

    ``status`` (relgate.promotion.pipelines.RevisionStatus): ``active`` revisions
    were in force in turn (the newest is in force now); a ``pending`` one weakens
    a protected environment and waits for an approver; ``rejected`` and
    ``superseded`` ones never took effect.
    """

    __tablename__ = "pipelines"
    __table_args__ = (
        UniqueConstraint("service_id", "revision"),
        Index("ix_pipelines_status", "service_id", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    revision: Mapped[int]
    spec: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    applied_by: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    # the identity key of the applier's token, and who wrote the change (commit author)
    applied_by_identity: Mapped[str | None] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(String(600))
    # the protection diff against the revision in force when it was applied
    changes: Mapped[dict[str, Any] | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None]
    review_comment: Mapped[str | None] = mapped_column(Text)


class DeployerRow(Base):
    """A deployer an admin registered (relgate.deploy.registered.RegisteredDeployer as JSON)."""

    __tablename__ = "deployers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    definition: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class EnvironmentRow(Base):
    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("service_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    # the deployment that holds the environment; taken by a conditional UPDATE
    holder_deployment_id: Mapped[int | None]
    last_deployment_id: Mapped[int | None]
    current_release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    stable_release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    stable_deployment_id: Mapped[int | None]
    pinned_release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    # the versions of the three releases above, written with them (a release's
    # version never changes): status reads one table instead of joining releases
    current_version: Mapped[str | None] = mapped_column(String(200))
    stable_version: Mapped[str | None] = mapped_column(String(200))
    pinned_version: Mapped[str | None] = mapped_column(String(200))
    pinned_reason: Mapped[str | None] = mapped_column(Text)


class ReleaseRow(Base):
    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("service_id", "version"),
        Index("ix_releases_service_created", "service_id", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    version: Mapped[str] = mapped_column(String(200))
    artifact: Mapped[str] = mapped_column(String(1000))
    digest: Mapped[str] = mapped_column(String(71))
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    changelog: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))
    author_email: Mapped[str | None] = mapped_column(String(320))
    # [{"name": ..., "email": ...}] from the commit's Co-authored-by trailers
    co_authors: Mapped[list[Any] | None] = mapped_column(JSON)
    # keys of the known identities among the author and co-authors when it was created
    author_identities: Mapped[list[Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    # the commits since the previous release tag, [{"sha": ..., "committed_at": ISO}]
    # (None: not sent), how many the range held, and the release commit's own time
    # (migration 0011): the change lead time is measured from them
    commits: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    commit_count: Mapped[int | None] = mapped_column(Integer, default=None)
    committed_at: Mapped[datetime | None] = mapped_column(default=None)


class EvidenceRow(Base):
    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_release", "release_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    kind: Mapped[str] = mapped_column(String(40))
    environment: Mapped[str | None] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    report: Mapped[dict[str, Any]]
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ApprovalRow(Base):
    __tablename__ = "approvals"
    __table_args__ = (
        Index("ix_approvals_release_env", "release_id", "environment"),
        Index("ix_approvals_deployment", "deployment_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    environment: Mapped[str] = mapped_column(String(100))
    deployment_id: Mapped[int | None]
    approver: Mapped[str] = mapped_column(String(200))
    # the approver's identity: one person decides once, whichever of their tokens they use
    approver_identity: Mapped[str | None] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class DeploymentRow(Base):
    __tablename__ = "deployments"
    __table_args__ = (
        Index("ix_deployments_service_env", "service_id", "environment", "id"),
        Index("ix_deployments_release", "release_id", "state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    environment: Mapped[str] = mapped_column(String(100))
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    # the release's version, kept here for status and history (it never changes)
    version: Mapped[str | None] = mapped_column(String(200))
    previous_release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    pipeline_revision: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(30))
    # the deployment a rollback replaces: marked rolled_back when the rollback succeeds
    replaces_deployment_id: Mapped[int | None]
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_by_identity: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    gate_results: Mapped[list[Any]]
    log: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # set when the deployment verified healthy: what makes a release known-good here
    verified_at: Mapped[datetime | None]


class IncidentRow(Base):
    """A production failure linked to the deployment that caused it (migration 0011)."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_deployment", "deployment_id"),
        Index("ix_incidents_service_env", "service", "environment", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    # the deployment's service and environment, kept here for scope checks and listing
    service: Mapped[str] = mapped_column(String(100))
    environment: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text, default="")
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]


class JobRow(Base):
    """Durable work claimed by workers; a running job's heartbeat proves its worker alive."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_id", "state", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    deployment_id: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(20))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # incremented at every claim: deployment id + attempt is the fencing token a
    # deployer gets, so a late write from an earlier (presumed dead) attempt is refused
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OutboxRow(Base):
    """A domain event (relgate.notify.events), stored with the change that caused it."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_type", "type", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(300))
    service: Mapped[str | None] = mapped_column(String(100))
    environment: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # set when the notification worker made this event's deliveries (migration 0009);
    # the partial index keeps "what is left to fan out" one index range
    fanned_out_at: Mapped[datetime | None] = mapped_column(default=None)


Index(
    "ix_outbox_events_unfanned",
    OutboxRow.id,
    postgresql_where=OutboxRow.fanned_out_at.is_(None),
    sqlite_where=OutboxRow.fanned_out_at.is_(None),
)


class SubscriberRow(Base):
    """A receiver of notifications an admin configured: a Slack webhook or a generic webhook.

    ``services``, ``environments`` and ``event_types`` are lists; an empty list
    admits everything. ``after_outbox_id`` is the newest outbox event when the
    subscriber was added: it gets only later events.
    """

    __tablename__ = "notify_subscribers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(2000))
    # the HMAC key itself, or the name of a server variable holding it; never shown back
    secret: Mapped[str | None] = mapped_column(String(500))
    secret_env: Mapped[str | None] = mapped_column(String(200))
    services: Mapped[list[Any]]
    environments: Mapped[list[Any]]
    event_types: Mapped[list[Any]]
    enabled: Mapped[bool] = mapped_column(default=True)
    after_outbox_id: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class DeliveryRow(Base):
    """One event for one subscriber: pending, delivering (claimed under a lease), delivered, dead.

    ``attempts`` grows at every claim; with ``claimed_by`` it fences a worker whose
    lease ran out, so its late result does not overwrite the next attempt's.
    """

    __tablename__ = "notify_deliveries"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "outbox_id"),
        Index("ix_notify_deliveries_due", "state", "next_attempt_at"),
        Index("ix_notify_deliveries_claimed", "state", "claimed_until"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("notify_subscribers.id", ondelete="CASCADE")
    )
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"))
    event_id: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class AuditRow(Base):
    """Append-only, hash-chained: hash = sha256(prev_hash + canonical JSON of the event)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(500))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """A signed checkpoint of the chain's head, kept until every sink has it (an outbox).

    ``seq`` is unique: replicas that checkpoint the same head write it once.
    """

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)


class AuditSinkRow(Base):
    """How far one checkpoint sink got: every checkpoint up to ``delivered_seq`` reached it."""

    __tablename__ = "audit_checkpoint_sinks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(1000), unique=True)
    delivered_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


# --------------------------------------------------------------------------- feature flags


class FlagRow(Base):
    """A feature flag: what it is for and how long it should live."""

    __tablename__ = "flags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(30))
    owner: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[Any]]
    impression_data: Mapped[bool] = mapped_column(default=False)
    # [{"feature": parent, "enabled": bool, "variants": [...]}], as Unleash writes them
    dependencies: Mapped[list[Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]


class FlagEnvironmentRow(Base):
    """A flag's configuration in one environment: on/off, strategies, variants."""

    __tablename__ = "flag_environments"
    __table_args__ = (UniqueConstraint("flag_id", "environment"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"))
    environment: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(default=False)
    # Unleash strategy objects: name, parameters, constraints, segments, variants
    strategies: Mapped[list[Any]]
    # variants with their weights fixed at save time (total 1000, localeCompare order)
    variants: Mapped[list[Any]]
    updated_at: Mapped[datetime]
    # when the flag became on for everyone here (None while it is not)
    fully_rolled_out_since: Mapped[datetime | None]


class SegmentRow(Base):
    """A named, reusable set of constraints."""

    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    constraints: Mapped[list[Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FlagRevisionRow(Base):
    """One row per environment whose number grows with every change that affects it.

    Polling clients and server-sent event streams compare it to know cheaply
    whether anything changed, on any replica.
    """

    __tablename__ = "flag_revisions"
    environment: Mapped[str] = mapped_column(String(100), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class ClientApplicationRow(Base):
    """An SDK instance that registered (POST /api/client/register)."""

    __tablename__ = "client_applications"
    __table_args__ = (UniqueConstraint("app_name", "instance_id", "environment"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_name: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(100))
    sdk_version: Mapped[str | None] = mapped_column(String(100))
    strategies: Mapped[list[Any]]
    interval_ms: Mapped[int | None]
    started_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime]


class FlagMetricRow(Base):
    """Usage counts sent by SDKs (POST /api/client/metrics), aggregated per hour."""

    __tablename__ = "flag_metrics"
    __table_args__ = (
        UniqueConstraint("flag_key", "environment", "app_name", "hour"),
        Index("ix_flag_metrics_flag_env", "flag_key", "environment"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_key: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(100))
    app_name: Mapped[str] = mapped_column(String(200))
    hour: Mapped[datetime]
    yes: Mapped[int] = mapped_column(BigInteger, default=0)
    no: Mapped[int] = mapped_column(BigInteger, default=0)
    variants: Mapped[dict[str, Any]]
    last_seen_at: Mapped[datetime]
