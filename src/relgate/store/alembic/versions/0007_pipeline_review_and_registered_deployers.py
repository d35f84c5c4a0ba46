"""pipeline revisions under review, and deployers registered on the server

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:50:00

A revision that weakens a protected environment is stored like any other, with
``status = 'pending'``, rather than in a table of its own: a pending revision
is a revision (it has a number, a source and a spec, and it becomes the one in
force when approved), and keeping one table keeps revision numbers unique and
ordered without a second sequence. ``status`` says which revisions took
effect (``active``) and which did not (``pending``, ``rejected``,
``superseded``); the newest ``active`` one is in force. The reviewer, the time
and the comment of the decision sit beside it, with the protection diff
computed at apply time. Every revision stored before this migration was in
force in its turn, so they become ``active``.

``deployers`` holds the definitions an admin registered (`relgate deployers
add`), as JSON, the secrets included (never shown back).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("applied_by_identity", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("author", sa.String(length=600), nullable=True))
        batch_op.add_column(sa.Column("changes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("review_comment", sa.Text(), nullable=True))
        batch_op.create_index("ix_pipelines_status", ["service_id", "status"], unique=False)

    op.create_table(
        "deployers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployers")),
        sa.UniqueConstraint("name", name=op.f("uq_deployers_name")),
    )


def downgrade() -> None:
    op.drop_table("deployers")
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.drop_index("ix_pipelines_status")
        batch_op.drop_column("review_comment")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewed_by")
        batch_op.drop_column("changes")
        batch_op.drop_column("author")
        batch_op.drop_column("applied_by_identity")
        batch_op.drop_column("status")
