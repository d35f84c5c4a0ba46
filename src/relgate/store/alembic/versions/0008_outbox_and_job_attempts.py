"""the outbox of domain events, and the attempt number of a job (its fencing token)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:50:00

``outbox_events`` holds every domain event (deployment started / succeeded /
failed / rolled back, approvals, releases, flag changes), written in the same
transaction as the change. Delivery state lives with the subscribers, not here,
so one event can go to many receivers.

``jobs.attempt`` counts the claims of a job; with the deployment id it is the
fencing token handed to a deployer.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=True),
        sa.Column("environment", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
    )
    op.create_index("ix_outbox_events_type", "outbox_events", ["type", "id"], unique=False)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempt", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("attempt")
    op.drop_index("ix_outbox_events_type", table_name="outbox_events")
    op.drop_table("outbox_events")
