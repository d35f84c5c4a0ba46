"""`relgate admin recover` against the server's database (SQLite and PostgreSQL), with no token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from relgate.audit import store as audit
from relgate.bootstrap import Services


def _recover(*args: str, cwd: Path, database_url: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELGATE_")}
    if database_url is not None:
        env["RELGATE_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "relgate", "admin", "recover", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_admin_recover_mints_an_admin_token_the_server_accepts(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    proc = _recover("--name", "break-glass", cwd=tmp_path, database_url=database_url)

    assert proc.returncode == 0, proc.stderr
    assert "minted the admin token 'break-glass' (audited as admin.recovered)" in proc.stderr
    principal = services.tokens.authenticate(proc.stdout.strip())
    assert (principal.name, principal.role, principal.unrestricted) == (
        "break-glass",
        "admin",
        True,
    )
    with services.uow() as uow:
        (event,) = audit.events(uow, subject="token/break-glass")
    assert event.action == "admin.recovered"


def test_admin_recover_refuses_a_folder_without_the_servers_database(tmp_path: Path) -> None:
    proc = _recover(cwd=tmp_path, database_url=None)

    assert proc.returncode == 2
    assert "no relgate database at relgate.db" in proc.stderr
    assert not (tmp_path / "relgate.db").exists()
