"""Identities, scopes and admins through the real server and the real CLI."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.control.conftest import (
    RelgateServer,
    api,
    cli_env,
    run_cli,
    start_server,
    stop_server,
)
from tests.support.gitrepo import GitRepo

DIGEST = "sha256:" + "d" * 64

PIPELINE = """\
service: {service}
environments:
  - name: dev
    deployer: {{type: command, command: "true"}}
  - name: production
    deployer: {{type: record}}
    gates:
      - type: approval
"""


def _token(server: RelgateServer, *args: str) -> str:
    """Create a token through the CLI (as admin) and return its secret."""
    url, admin, _ = server
    created = run_cli("token", "create", *args, "--json", url=url, token=admin)
    assert created.returncode == 0, created.stderr
    secret: str = json.loads(created.stdout)["token"]
    return secret


def _pipeline(server: RelgateServer, service: str) -> None:
    api(server, "POST", "/api/v1/pipelines", json={"source": PIPELINE.format(service=service)})


def test_a_ci_token_scoped_to_dev_is_refused_production_naming_its_scope(
    relgate_server: RelgateServer,
) -> None:
    url, _, _ = relgate_server
    _pipeline(relgate_server, "scoped-shop")
    ci_dev = _token(relgate_server, "--name", "ci-dev", "--role", "ci", "--env", "dev")
    created = run_cli(
        "release", "create", "scoped-shop", "--version", "1.0.0",
        "--artifact", f"reg/scoped-shop@{DIGEST}", url=url, token=ci_dev,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr

    promoted = run_cli("promote", "scoped-shop@1.0.0", "--to", "production", url=url, token=ci_dev)
    answer = httpx.post(
        f"{url}/api/v1/deployments",
        headers={"Authorization": f"Bearer {ci_dev}"},
        json={"service": "scoped-shop", "version": "1.0.0", "environment": "production"},
    )

    scope = "token 'ci-dev' is scoped to the environments dev, not 'production'"
    assert promoted.returncode == 2
    assert scope in promoted.stderr
    assert answer.status_code == 403
    assert scope in answer.text
    to_dev = run_cli("promote", "scoped-shop@1.0.0", "--to", "dev", url=url, token=ci_dev)
    assert to_dev.returncode == 0, to_dev.stderr


def test_a_ci_token_scoped_to_dev_cannot_enable_a_flag_in_production(
    relgate_server: RelgateServer,
) -> None:
    url, _, _ = relgate_server
    ci_dev = _token(relgate_server, "--name", "flags-dev", "--role", "ci", "--env", "dev")
    api(relgate_server, "POST", "/api/v1/flags", json={"key": "scoped-banner"})

    in_dev = run_cli("flags", "enable", "scoped-banner", "--env", "dev", url=url, token=ci_dev)
    in_production = run_cli(
        "flags", "enable", "scoped-banner", "--env", "production", url=url, token=ci_dev
    )
    answer = httpx.post(
        f"{url}/api/v1/flags/scoped-banner/environments/production/enable",
        headers={"Authorization": f"Bearer {ci_dev}"},
    )

    assert in_dev.returncode == 0, in_dev.stderr
    assert in_production.returncode == 2
    assert "scoped to the environments dev, not 'production'" in in_production.stderr
    assert answer.status_code == 403
    flag = api(relgate_server, "GET", "/api/v1/flags/scoped-banner")
    assert flag["environments"]["dev"]["enabled"] is True
    assert (
        "production" not in flag["environments"]
        or not flag["environments"]["production"]["enabled"]
    )


def test_the_author_cannot_approve_in_any_spelling_of_her_name_or_email(
    relgate_server: RelgateServer,
) -> None:
    url, _, _ = relgate_server
    ci = _token(relgate_server, "--name", "sod-ci", "--role", "ci")
    approver = _token(
        relgate_server, "--name", "Alice Sod", "--role", "approver",
        "--email", "alice.sod@example.com",
    )  # fmt: skip
    spellings = {
        "sod-a": ["--author", "ALICE SOD"],
        "sod-b": ["--author", "alice sod "],
        "sod-c": ["--author", "A. S.", "--author-email", "Alice.Sod@Example.com"],
    }
    for service, authorship in spellings.items():
        _pipeline(relgate_server, service)
        created = run_cli(
            "release", "create", service, "--version", "1.0.0",
            "--artifact", f"reg/{service}@{DIGEST}", *authorship, url=url, token=ci,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        waiting = run_cli("promote", f"{service}@1.0.0", "--to", "production", url=url, token=ci)
        assert waiting.returncode == 0, waiting.stderr

        refused = run_cli(
            "approve", f"{service}@1.0.0", "--env", "production", url=url, token=approver
        )

        assert refused.returncode == 2, (service, refused.stdout)
        assert f"Alice Sod is the author of {service}@1.0.0" in refused.stderr


def test_release_create_takes_the_authors_from_the_commit_and_a_co_author_cannot_approve(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, _, _ = relgate_server
    repo = GitRepo.init(tmp_path / "repo")
    sha = repo.commit(
        "feat: pay by card\n\nCo-authored-by: Heidi H <heidi@example.com>\n",
        author=("Grace G", "grace@example.com"),
    )
    _pipeline(relgate_server, "git-shop")
    ci = _token(relgate_server, "--name", "git-ci", "--role", "ci")
    heidi = _token(
        relgate_server, "--name", "heidi", "--role", "approver", "--email", "HEIDI@example.com"
    )

    created = run_cli(
        "release", "create", "git-shop", "--version", "1.0.0", "--artifact",
        f"reg/git-shop@{DIGEST}", "--commit", sha, "--repo", str(repo.path), "--json",
        url=url, token=ci,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    release = json.loads(created.stdout)
    assert (release["author"], release["author_email"]) == ("Grace G", "grace@example.com")
    assert release["co_authors"] == ["Heidi H <heidi@example.com>"]
    shown = run_cli("release", "show", "git-shop@1.0.0", url=url, token=ci)
    assert "author:      Grace G <grace@example.com>" in shown.stdout
    assert "co-authors:  Heidi H <heidi@example.com>" in shown.stdout

    assert (
        run_cli("promote", "git-shop@1.0.0", "--to", "production", url=url, token=ci).returncode
        == 0
    )
    refused = run_cli("approve", "git-shop@1.0.0", "--env", "production", url=url, token=heidi)
    assert refused.returncode == 2
    assert "heidi is a co-author of git-shop@1.0.0" in refused.stderr


def test_identities_are_added_listed_and_shown_by_any_of_their_names(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server

    added = run_cli(
        "identity", "add", "Ivan Petrov", "--email", "Ivan@Example.com", "--alias", "ivanp",
        url=url, token=admin,
    )  # fmt: skip
    _token(relgate_server, "--name", "ivan-laptop", "--role", "approver", "--identity", "ivanp")
    shown = run_cli("identity", "show", "IVAN@example.com", "--json", url=url, token=admin)
    listed = run_cli("identity", "list", url=url, token=admin)

    assert added.returncode == 0, added.stderr
    assert "identity ivan petrov: emails ivan@example.com; aliases ivanp" in added.stdout
    assert shown.returncode == 0, shown.stderr
    identity = json.loads(shown.stdout)
    assert (identity["key"], identity["tokens"]) == ("ivan petrov", ["ivan-laptop"])
    assert "ivan petrov" in listed.stdout


@pytest.fixture(params=["sqlite", "postgres"])
def own_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RelgateServer, str | None]]:
    """A server of this test alone (it revokes admins): (server, its database URL or None)."""
    from tests.support.databases import fresh_postgres_database

    workdir = tmp_path_factory.mktemp(f"own-server-{request.param}")
    with contextlib.ExitStack() as stack:
        database_url = None
        if request.param == "postgres":
            database_url = stack.enter_context(fresh_postgres_database("relgate_admins"))
        proc, url, token = start_server(workdir, database_url)
        try:
            yield (url, token, workdir), database_url
        finally:
            stop_server(proc)


def test_the_last_admin_cannot_be_revoked_and_an_admin_can_be_recovered_on_the_server(
    own_server: tuple[RelgateServer, str | None],
) -> None:
    fresh_relgate_server, database_url = own_server
    url, admin, workdir = fresh_relgate_server

    refused = run_cli("token", "revoke", "admin", url=url, token=admin)
    answer = httpx.delete(
        f"{url}/api/v1/tokens/admin", headers={"Authorization": f"Bearer {admin}"}
    )
    assert refused.returncode == 1
    assert "'admin' is the last admin token" in refused.stderr
    assert answer.status_code == 409
    assert "relgate admin recover" in answer.text

    recovered = subprocess.run(
        [sys.executable, "-m", "relgate", "admin", "recover", "--name", "rescue"],
        cwd=workdir,  # the server's machine: its relgate.db or its database URL, no token
        env={**cli_env(), **({"RELGATE_DATABASE_URL": database_url} if database_url else {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert recovered.returncode == 0, recovered.stderr
    secret = recovered.stdout.strip()
    assert secret.startswith("rg_")
    me = api(fresh_relgate_server, "GET", "/api/v1/whoami", token=secret)
    assert (me["name"], me["role"]) == ("rescue", "admin")
    events = api(fresh_relgate_server, "GET", "/api/v1/audit", params={"subject": "token/rescue"})
    assert [(e["action"], e["actor"]) for e in events] == [
        ("admin.recovered", "relgate admin recover")
    ]
    # two admins now: the old one may go, the new one is then the last
    assert run_cli("token", "revoke", "admin", url=url, token=secret).returncode == 0
    last = run_cli("token", "revoke", "rescue", url=url, token=secret)
    assert last.returncode == 1
    assert "'rescue' is the last admin token" in last.stderr


def test_a_client_token_reads_only_the_flags_of_its_environment(
    relgate_server: RelgateServer,
) -> None:
    url, _, _ = relgate_server
    api(relgate_server, "POST", "/api/v1/flags", json={"key": "client-scope-banner"})
    api(relgate_server, "POST", "/api/v1/flags/client-scope-banner/environments/production/enable")
    dev_sdk = _token(relgate_server, "--name", "dev-sdk", "--role", "client", "--env", "dev")
    ci = _token(relgate_server, "--name", "client-scope-ci", "--role", "ci")

    def enabled(document: dict[str, object]) -> bool:
        features = document["features"]
        assert isinstance(features, list)
        return next(f["enabled"] for f in features if f["name"] == "client-scope-banner")

    headers = {"Authorization": dev_sdk}
    first = httpx.get(f"{url}/api/client/features", headers=headers)
    cached = httpx.get(f"{url}/api/client/features", headers=headers)  # the in-memory fast path
    ofrep = httpx.post(
        f"{url}/ofrep/v1/evaluate/flags/client-scope-banner",
        headers=headers,
        json={"context": {"targetingKey": "u1", "environment": "production"}},
    )
    by_ci = httpx.get(f"{url}/api/client/features", headers={"Authorization": ci})

    assert first.status_code == cached.status_code == 200
    assert enabled(first.json()) is False  # on in production only
    assert enabled(cached.json()) is False
    assert ofrep.status_code == 200
    assert ofrep.json()["value"] is False  # the context cannot pick another environment
    assert by_ci.status_code == 403
    assert "needs a token with the role client" in by_ci.text
    too_many = run_cli(
        "token", "create", "--name", "two-env-sdk", "--role", "client",
        "--env", "dev", "--env", "production", url=url, token=relgate_server[1],
    )  # fmt: skip
    assert too_many.returncode == 2
    assert "exactly one environment" in too_many.stderr
