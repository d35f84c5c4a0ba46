"""Engines and schema management: create the engine, check and upgrade the schema with Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from relgate.errors import BadInput, ExternalError

ALEMBIC_DIR = Path(__file__).parent / "alembic"


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str) -> Engine:
    """Create an engine for a SQLite file or PostgreSQL; raises BadInput for an unusable URL."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInput(
            f"RELGATE_DATABASE_URL {url!r} is not a database URL "
            "(e.g. sqlite:///relgate.db or postgresql://user@host/db)"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _make_sqlite_serialisable(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise BadInput(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")


def _make_sqlite_serialisable(engine: Engine) -> None:
    # pysqlite's own transaction handling begins lazily and defers locks, so two
    # writers can both read and then one fails to upgrade its lock. Beginning
    # every transaction IMMEDIATE makes SQLite writers queue instead (busy timeout).
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the newest revision of relgate's schema."""
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the schema revision the database is at (None: empty database)."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise ExternalError(f"cannot reach the database: {exc.orig}") from None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply relgate's migrations up to ``revision``."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)
