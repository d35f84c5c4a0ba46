"""web UI sessions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:00:00

``web_sessions`` hold one row per signed-in browser: the SHA-256 of the session
cookie (the cookie itself is never stored), the token it signed in with (so
revoking the token ends its sessions), the CSRF secret of its forms, and when it
was last seen and expires.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name=op.f("fk_web_sessions_token_id_tokens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_web_sessions_session_hash")),
    )
    op.create_index("ix_web_sessions_token", "web_sessions", ["token_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_web_sessions_token", table_name="web_sessions")
    op.drop_table("web_sessions")
