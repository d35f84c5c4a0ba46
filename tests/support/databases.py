"""Real databases for tests: a SQLite file per test, one PostgreSQL database per session."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get(
    "RELGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextlib.contextmanager
def fresh_postgres_database(prefix: str = "relgate_test") -> Iterator[str]:
    """Create a PostgreSQL database with relgate's schema; drop it afterwards."""
    from relgate.store import db

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the suite must not silently skip PostgreSQL
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not usable: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, with relgate's schema; dropped after."""
    with fresh_postgres_database() as url:
        yield url


def truncate_all(url: str) -> None:
    """Empty every relgate table (PostgreSQL), keeping the schema."""
    from relgate.store.db import make_engine
    from relgate.store.tables import Base

    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each test using this runs twice: on a new SQLite file and on the session's PostgreSQL."""
    from relgate.store import db

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "relgate.db"
        url = f"sqlite:///{path}"
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        return url
    pg_url: str = request.getfixturevalue("postgres_url")
    truncate_all(pg_url)
    return pg_url
