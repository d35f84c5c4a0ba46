"""The upgrade to 0005 gives every existing token the identity of its normalised name."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.integration.store.test_schema import empty_postgres  # noqa: F401  (a fixture)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_upgrade_to_0005_makes_one_identity_per_normalised_token_name(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from relgate.store import db

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("empty_postgres")
    engine = db.make_engine(url)
    try:
        db.upgrade(engine, "0004")
        with engine.begin() as conn:
            for i, name in enumerate(["Alice", "alice ", "ci"]):
                conn.execute(
                    text(
                        "INSERT INTO tokens (name, role, token_hash, created_at, created_by)"
                        " VALUES (:name, 'approver', :hash, :at, 'relgate')"
                    ),
                    {"name": name, "hash": str(i) * 64, "at": datetime.now(UTC)},
                )
        db.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT tokens.name, identities.key FROM tokens"
                    " JOIN identities ON identities.id = tokens.identity_id ORDER BY tokens.id"
                )
            ).all()
        assert [tuple(row) for row in rows] == [
            ("Alice", "alice"),
            ("alice ", "alice"),
            ("ci", "ci"),
        ]
    finally:
        engine.dispose()
