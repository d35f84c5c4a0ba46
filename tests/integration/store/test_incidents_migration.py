"""Migration 0011: incidents, and the commits of releases; up from 0010 and back down."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, inspect, text


def test_0011_adds_incidents_and_release_commits_and_goes_back_down(bare_engine: Engine) -> None:
    from relgate.store import db

    db.upgrade(bare_engine, "0010")
    now = datetime.now(UTC)
    with bare_engine.begin() as conn:
        conn.execute(
            text("INSERT INTO services (id, name, created_at) VALUES (1, 'mig', :n)"), {"n": now}
        )
        conn.execute(
            text(
                "INSERT INTO releases (id, service_id, version, artifact, digest, created_by, "
                "created_at) VALUES (1, 1, '1.0.0', 'a@sha256:x', 'sha256:x', 'ci', :n)"
            ),
            {"n": now},
        )

    db.upgrade(bare_engine, "0011")

    schema = inspect(bare_engine)
    assert {"commits", "commit_count", "committed_at"} <= {
        c["name"] for c in schema.get_columns("releases")
    }
    assert {i["name"] for i in schema.get_indexes("incidents")} == {
        "ix_incidents_deployment",
        "ix_incidents_service_env",
    }
    with bare_engine.connect() as conn:
        kept = conn.execute(text("SELECT version, commits, commit_count FROM releases")).one()
    assert tuple(kept) == ("1.0.0", None, None)  # an older release: no commit list

    db.upgrade(bare_engine, "head")
    from alembic import command

    with bare_engine.begin() as conn:
        command.downgrade(db._alembic_config(conn), "0010")
    schema = inspect(bare_engine)
    assert "incidents" not in schema.get_table_names()
    assert "commits" not in {c["name"] for c in schema.get_columns("releases")}
