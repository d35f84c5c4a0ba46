"""relgate login and relgate token: talking to a real server through the real CLI."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.e2e.control.conftest import RelgateServer, free_port, run_cli


def _login_file() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "relgate" / "login.json"


def test_login_checks_the_token_and_stores_it_readable_by_the_owner_only(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server

    proc = run_cli("login", url, "--token", admin)

    assert proc.returncode == 0, proc.stderr
    path = _login_file()
    assert str(path) in proc.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": url, "token": admin}
    # later commands find server and token in the file, without RELGATE_URL/RELGATE_TOKEN
    status = run_cli("token", "list", "--json")
    assert status.returncode == 0, status.stderr
    assert [t["name"] for t in json.loads(status.stdout)][:1] == ["admin"]


def test_login_with_an_unknown_token_exits_2_and_stores_nothing(
    relgate_server: RelgateServer,
) -> None:
    url, _, _ = relgate_server

    proc = run_cli("login", url, "--token", "rg_not-a-token")

    assert proc.returncode == 2
    assert "unknown or revoked" in proc.stderr
    assert not _login_file().exists()


def test_an_approver_token_cannot_manage_tokens_and_is_told_which_role_can(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server
    created = run_cli(
        "token", "create", "--name", "carol", "--role", "approver", "--json", url=url, token=admin
    )
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["token"]
    assert secret.startswith("rg_")

    refused = run_cli("token", "list", url=url, token=secret)

    assert refused.returncode == 2
    assert "manage tokens needs the role admin" in refused.stderr
    assert "'carol'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_token_create_shows_the_secret_once_and_list_shows_no_secret(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server

    created = run_cli("token", "create", "--name", "ci-bot", "--role", "ci", url=url, token=admin)
    listed = run_cli("token", "list", url=url, token=admin)

    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("rg_")
    assert listed.returncode == 0, listed.stderr
    assert "ci-bot" in listed.stdout
    assert secret not in listed.stdout


def test_a_revoked_token_is_refused(relgate_server: RelgateServer) -> None:
    url, admin, _ = relgate_server
    created = run_cli(
        "token", "create", "--name", "temp", "--role", "ci", "--json", url=url, token=admin
    )
    secret = json.loads(created.stdout)["token"]

    revoked = run_cli("token", "revoke", "temp", url=url, token=admin)
    refused = run_cli("status", url=url, token=secret)

    assert revoked.returncode == 0, revoked.stderr
    assert refused.returncode == 2
    assert "unknown or revoked" in refused.stderr


def test_an_unknown_role_is_a_usage_error() -> None:
    proc = run_cli("token", "create", "--name", "x", "--role", "root", url="http://127.0.0.1:1")

    assert proc.returncode == 2
    assert "root" in proc.stderr


def test_no_token_at_all_says_how_to_give_one(relgate_server: RelgateServer) -> None:
    url, _, _ = relgate_server

    proc = run_cli("status", url=url)

    assert proc.returncode == 2
    assert "RELGATE_TOKEN" in proc.stderr
    assert "relgate login" in proc.stderr


def test_an_unreachable_server_is_named_with_what_to_do() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    proc = run_cli("status", url=url, token="rg_x")

    assert proc.returncode == 1
    assert f"cannot reach relgate at {url}" in proc.stderr
    assert "relgate serve" in proc.stderr
    assert "Traceback" not in proc.stderr
