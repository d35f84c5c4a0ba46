"""`relgate flags lint` against a real `relgate serve`: definitions from GET /api/v1/flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from tests.support.server import ServerProcess, start_server

ADMIN = Principal("tester", Role.ADMIN)


@pytest.fixture
def server_with_flags(tmp_path: Path) -> Iterator[tuple[ServerProcess, Services, str]]:
    """A server on SQLite with an expired, a live and an archived flag; an admin token."""
    from relgate.store import db

    url = f"sqlite:///{tmp_path / 'relgate.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    services = build(Settings(database_url=url))
    _, token = services.tokens.create("lint-ci", "admin", "tester")
    now = datetime.now(UTC)
    services.flags.create(
        ADMIN, "express-checkout-v2", expires_at=now - timedelta(days=2), force_expired=True
    )
    services.flags.set_strategies(ADMIN, "express-checkout-v2", "production", [{"name": "default"}])
    services.flags.enable(ADMIN, "express-checkout-v2", "production")
    services.flags.create(ADMIN, "new-nav", type="kill-switch", owner="web-team")
    services.flags.create(ADMIN, "retired-banner")
    services.flags.archive(ADMIN, "retired-banner")
    server = start_server(tmp_path / "server", {"RELGATE_DATABASE_URL": url})
    try:
        yield server, services, token
    finally:
        server.stop()
        services.uow.engine.dispose()


def test_lint_reads_the_servers_flags_and_fails_on_an_expired_one_in_use(
    server_with_flags: tuple[ServerProcess, Services, str], tmp_path: Path
) -> None:
    server, _services, token = server_with_flags
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(
        "if flags.is_enabled('express-checkout-v2'):\n"
        "    pass\n"
        "if flags.is_enabled('retired-banner'):\n"
        "    pass\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELGATE_")}
    env.update(RELGATE_URL=server.url, RELGATE_TOKEN=token)
    proc = subprocess.run(
        [sys.executable, "-m", "relgate", "flags", "lint", ".", "--json"],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["expired_in_use"] == ["express-checkout-v2"]
    assert report["expired"][0]["references"] == [{"path": "app.py", "line": 1, "column": 21}]
    assert report["undefined"] == [
        {
            "key": "retired-banner",
            "archived": True,
            "references": [{"path": "app.py", "line": 3, "column": 21}],
        }
    ]
    assert report["unreferenced"] == [
        {"key": "new-nav", "type": "kill-switch", "owner": "web-team"}
    ]
    assert report["flags_defined"] == 2
