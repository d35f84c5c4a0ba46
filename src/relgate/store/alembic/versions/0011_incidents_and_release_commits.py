"""incidents, and the commits each release brought

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 08:00:00

``incidents`` are production failures linked explicitly to the deployment that
caused them (by id; re-linking moves one); the delivery measures count an
incident against that deployment and nothing else. ``releases.commits`` holds
the commits since the previous release tag as ``[{"sha", "committed_at"}]``
(None: not sent), ``releases.commit_count`` how many the range held (more than
the list when it was cut), ``releases.committed_at`` the time of the release's
own commit: the change lead time is measured from them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commits", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("commit_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_incidents_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_deployment", "incidents", ["deployment_id"], unique=False)
    op.create_index(
        "ix_incidents_service_env", "incidents", ["service", "environment", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_service_env", table_name="incidents")
    op.drop_index("ix_incidents_deployment", table_name="incidents")
    op.drop_table("incidents")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_column("committed_at")
        batch_op.drop_column("commit_count")
        batch_op.drop_column("commits")
