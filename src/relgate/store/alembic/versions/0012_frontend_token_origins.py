"""the browser origins of frontend tokens

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 16:30:00

``tokens.origins`` holds a frontend token's allowed CORS origins, canonical
(``https://shop.example``, ``*`` for any); None for tokens of other roles.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origins", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("origins")
