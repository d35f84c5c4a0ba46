"""Alembic environment: relgate runs migrations programmatically (see store/schema.py)."""

from __future__ import annotations

from alembic import context

from relgate.store.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - relgate always passes a connection
    raise RuntimeError("relgate's migrations run through `relgate db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
