"""notification subscribers, their deliveries, and the fan-out mark of outbox events

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:00:00

``notify_subscribers`` are the receivers admins configure (Slack or a generic
webhook, with filters); ``notify_deliveries`` hold one row per event and
subscriber, the unit the delivery worker claims, retries and dead-letters.
``outbox_events.fanned_out_at`` marks the events whose deliveries were made; a
partial index over the unmarked ones keeps the fan-out query one range scan.
A mark per event, not a cursor of ids, because on PostgreSQL ids are taken in
one order and committed in another: a cursor would step over an event whose
transaction committed late.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fanned_out_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_outbox_events_unfanned",
        "outbox_events",
        ["id"],
        unique=False,
        postgresql_where=sa.text("fanned_out_at IS NULL"),
        sqlite_where=sa.text("fanned_out_at IS NULL"),
    )
    op.create_table(
        "notify_subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=500), nullable=True),
        sa.Column("secret_env", sa.String(length=200), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("environments", sa.JSON(), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("after_outbox_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_subscribers")),
        sa.UniqueConstraint("name", name=op.f("uq_notify_subscribers_name")),
    )
    op.create_table(
        "notify_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["notify_subscribers.id"],
            name=op.f("fk_notify_deliveries_subscriber_id_notify_subscribers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox_events.id"],
            name=op.f("fk_notify_deliveries_outbox_id_outbox_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_deliveries")),
        sa.UniqueConstraint(
            "subscriber_id", "outbox_id", name=op.f("uq_notify_deliveries_subscriber_id")
        ),
    )
    op.create_index(
        "ix_notify_deliveries_due", "notify_deliveries", ["state", "next_attempt_at"], unique=False
    )
    op.create_index(
        "ix_notify_deliveries_claimed",
        "notify_deliveries",
        ["state", "claimed_until"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_notify_deliveries_claimed", table_name="notify_deliveries")
    op.drop_index("ix_notify_deliveries_due", table_name="notify_deliveries")
    op.drop_table("notify_deliveries")
    op.drop_table("notify_subscribers")
    op.drop_index("ix_outbox_events_unfanned", table_name="outbox_events")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_column("fanned_out_at")
