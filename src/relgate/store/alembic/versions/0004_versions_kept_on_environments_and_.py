"""versions kept on environments and deployments

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:01:40.691580
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.String(length=200), nullable=True))

    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("current_version", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("stable_version", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("pinned_version", sa.String(length=200), nullable=True))

    # fill the copies from the releases they name (a release's version never changes)
    for column, source in (
        ("current_version", "current_release_id"),
        ("stable_version", "stable_release_id"),
        ("pinned_version", "pinned_release_id"),
    ):
        op.execute(
            f"UPDATE environments SET {column} = "
            f"(SELECT version FROM releases WHERE releases.id = environments.{source})"
        )
    op.execute(
        "UPDATE deployments SET version = "
        "(SELECT version FROM releases WHERE releases.id = deployments.release_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.drop_column("pinned_version")
        batch_op.drop_column("stable_version")
        batch_op.drop_column("current_version")

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("version")
