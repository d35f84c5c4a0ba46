"""The upgrade to 0005 gives every existing token the identity of its normalised name."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text


def test_the_upgrade_to_0005_makes_one_identity_per_normalised_token_name(
    bare_engine: Engine,
) -> None:
    from relgate.store import db

    db.upgrade(bare_engine, "0004")
    with bare_engine.begin() as conn:
        for i, name in enumerate(["Alice", "alice ", "ci"]):
            conn.execute(
                text(
                    "INSERT INTO tokens (name, role, token_hash, created_at, created_by)"
                    " VALUES (:name, 'approver', :hash, :at, 'relgate')"
                ),
                {"name": name, "hash": str(i) * 64, "at": datetime.now(UTC)},
            )
    db.upgrade(bare_engine)
    with bare_engine.connect() as conn:
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
