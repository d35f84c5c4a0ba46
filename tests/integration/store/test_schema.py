"""Schema management: SQLite upgrades itself on start, PostgreSQL is upgraded on request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, text


def relgate(*args: str, cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELGATE_DATABASE_URL": url, "RELGATE_PORT": "1"}
    return subprocess.run(
        [sys.executable, "-m", "relgate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_refuses_an_out_of_date_postgres_schema_and_says_what_to_run(
    empty_postgres: str, tmp_path: Path
) -> None:
    refused = relgate("serve", cwd=tmp_path, url=empty_postgres)
    assert refused.returncode == 2
    assert "relgate db upgrade" in refused.stderr
    assert "Traceback" not in refused.stderr

    behind = relgate("db", "status", cwd=tmp_path, url=empty_postgres)
    assert behind.returncode == 1

    upgraded = relgate("db", "upgrade", cwd=tmp_path, url=empty_postgres)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "upgraded from empty" in upgraded.stdout
    assert relgate("db", "status", cwd=tmp_path, url=empty_postgres).returncode == 0


def test_a_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = relgate("db", "upgrade", cwd=tmp_path, url="mysql://nobody@localhost/x")
    assert result.returncode == 2
    assert "unsupported database" in result.stderr


def test_the_upgrade_to_0004_copies_release_versions_onto_environments_and_deployments(
    bare_engine: Engine,
) -> None:
    from datetime import UTC, datetime

    from relgate.store import db

    db.upgrade(bare_engine, "0003")
    now = datetime.now(UTC)
    with bare_engine.begin() as conn:
        conn.execute(
            text("INSERT INTO services (id, name, created_at) VALUES (1, 'mig', :n)"),
            {"n": now},
        )
        conn.execute(
            text(
                "INSERT INTO releases (id, service_id, version, artifact, digest, created_by,"
                " created_at) VALUES (7, 1, '1.2.3', 'a@sha256:x', 'sha256:x', 'ci', :n)"
            ),
            {"n": now},
        )
        conn.execute(
            text(
                "INSERT INTO environments (id, service_id, name, position, active,"
                " current_release_id, stable_release_id) VALUES (1, 1, 'prod', 0, true, 7, 7)"
            )
        )
    db.upgrade(bare_engine)
    with bare_engine.connect() as conn:
        row = conn.execute(
            text("SELECT current_version, stable_version, pinned_version FROM environments")
        ).one()
    assert tuple(row) == ("1.2.3", "1.2.3", None)


def test_the_upgrade_to_0007_keeps_every_stored_revision_in_force_in_its_turn(
    bare_engine: Engine,
) -> None:
    from datetime import UTC, datetime

    from alembic.script import ScriptDirectory

    from relgate.store import db

    with bare_engine.begin() as conn:
        before = ScriptDirectory.from_config(db._alembic_config(conn)).get_revision("0007")
    db.upgrade(bare_engine, str(before.down_revision))
    now = datetime.now(UTC)
    with bare_engine.begin() as conn:
        conn.execute(
            text("INSERT INTO services (id, name, created_at) VALUES (1, 'mig', :n)"),
            {"n": now},
        )
        for revision in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO pipelines (service_id, revision, spec, source, source_sha256,"
                    " applied_by, applied_at) VALUES (1, :r, '{}', 'x', 'd', 'ci', :n)"
                ),
                {"r": revision, "n": now},
            )
    db.upgrade(bare_engine, "0007")
    with bare_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT revision, status, reviewed_by FROM pipelines ORDER BY revision")
        ).all()
        deployers = conn.execute(text("SELECT count(*) FROM deployers")).scalar()
    assert [tuple(row) for row in rows] == [(1, "active", None), (2, "active", None)]
    assert deployers == 0
    from alembic import command

    with bare_engine.begin() as conn:  # and back
        command.downgrade(db._alembic_config(conn), "-1")
    with bare_engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM pipelines")).keys()
    assert "status" not in columns
