"""identities, token scopes, release authorship

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:40:00.000000
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _normalise(text: str) -> str:
    # frozen copy of relgate.auth.model.normalise as it was when this revision was written
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("key", name=op.f("uq_identities_key")),
    )
    op.create_table(
        "identity_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_identity_names_identity_id_identities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_names")),
        sa.UniqueConstraint("value", name=op.f("uq_identity_names_value")),
    )
    op.create_index("ix_identity_names_identity", "identity_names", ["identity_id"])
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("services", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("environments", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_tokens_identity_id_identities"), "identities", ["identity_id"], ["id"]
        )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("co_authors", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("author_identities", sa.JSON(), nullable=True))
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approver_identity", sa.String(length=200), nullable=True))
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requested_by_identity", sa.String(length=200), nullable=True)
        )

    # every existing token gets the identity of its normalised name ("Alice" and
    # "alice" become one person, which is what separation of duties needs)
    bind = op.get_bind()
    tokens = sa.table("tokens", sa.column("id"), sa.column("name"), sa.column("identity_id"))
    identities = sa.table(
        "identities",
        sa.column("id"),
        sa.column("key"),
        sa.column("name"),
        sa.column("kind"),
        sa.column("created_at"),
        sa.column("created_by"),
    )
    now = datetime.now(UTC)
    keys: dict[str, int] = {}
    for token_id, name in bind.execute(sa.select(tokens.c.id, tokens.c.name)).all():
        key = _normalise(name)[:200] or f"token-{token_id}"
        if key not in keys:
            bind.execute(
                identities.insert().values(
                    key=key, name=name, kind="person", created_at=now, created_by="relgate"
                )
            )
            keys[key] = bind.execute(
                sa.select(identities.c.id).where(identities.c.key == key)
            ).scalar_one()
        bind.execute(tokens.update().where(tokens.c.id == token_id).values(identity_id=keys[key]))


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("requested_by_identity")
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_column("approver_identity")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_column("author_identities")
        batch_op.drop_column("co_authors")
        batch_op.drop_column("author_email")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_tokens_identity_id_identities"), type_="foreignkey")
        batch_op.drop_column("environments")
        batch_op.drop_column("services")
        batch_op.drop_column("identity_id")
    op.drop_index("ix_identity_names_identity", table_name="identity_names")
    op.drop_table("identity_names")
    op.drop_table("identities")
