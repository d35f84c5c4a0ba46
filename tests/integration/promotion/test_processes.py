"""Several `relgate serve` processes on one PostgreSQL, and a server killed mid-deployment."""

from __future__ import annotations

import contextlib
import os
import signal
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import build
from relgate.config import Settings
from relgate.manifest.pipeline import parse_pipeline
from tests.support.server import start_server, wait_for

ADMIN = Principal("admin", Role.ADMIN)


def _setup(database_url: str, yaml_text: str, versions: dict[str, str]) -> str:
    """Apply a pipeline, create releases and a CI token in-process; return the token."""
    services = build(Settings(database_url=database_url))
    try:
        for text in yaml_text.split("\n---\n"):
            services.pipelines.apply(ADMIN, parse_pipeline(text, "relgate.yaml"))
        _, token = services.tokens.create("ci", "ci", actor="test")
        for ref, digest_char in versions.items():
            service, version = ref.split("@")
            services.releases.create(
                Principal("ci", Role.CI),
                service=service,
                version=version,
                artifact=f"reg/{service}@sha256:{digest_char * 64}",
            )
        return token
    finally:
        services.uow.engine.dispose()


def _deploy_script(workdir: Path, body: str) -> Path:
    script = workdir / "deploy.sh"
    script.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return script


def test_fifty_concurrent_promotions_on_two_servers_deploy_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    from tests.support.databases import truncate_all

    truncate_all(postgres_url)
    ran = tmp_path / "ran.txt"
    script = _deploy_script(
        tmp_path,
        f'echo "$RELGATE_SERVICE $RELGATE_VERSION" >> {ran}\n'
        # svc-0 holds production long enough for all 50 requests to arrive meanwhile
        '[ "$RELGATE_SERVICE" = svc-0 ] && sleep 6\nexit 0\n',
    )
    pipelines = "\n---\n".join(
        f"service: svc-{n}\nenvironments:\n  - name: production\n    protected: false\n"
        f"    deployer: {{type: command, command: {script}}}\n"
        for n in range(10)
    )
    token = _setup(postgres_url, pipelines, {f"svc-{n}@1.0.0": "a" for n in range(10)})
    env = {"RELGATE_DATABASE_URL": postgres_url}
    servers = [start_server(tmp_path / "a", env), start_server(tmp_path / "b", env)]
    try:
        headers = {"Authorization": f"Bearer {token}"}

        def promote(index: int) -> httpx.Response:
            server = servers[index % 2]
            return httpx.post(
                server.url + "/api/v1/deployments",
                json={"service": "svc-0", "version": "1.0.0", "environment": "production"},
                headers=headers,
                timeout=30,
            )

        with ThreadPoolExecutor(max_workers=25) as pool:
            answers = list(pool.map(promote, range(50)))
        created = [a for a in answers if a.status_code == 201]
        refused = [a for a in answers if a.status_code == 409]
        assert len(created) == 1, [a.text for a in answers if a.status_code not in (201, 409)]
        assert len(refused) == 49
        holder = created[0].json()["id"]
        assert all(f"held by deployment {holder}" in a.json()["error"]["message"] for a in refused)

        # nine more services at once: every deployment runs once, on either replica
        for n in range(1, 10):
            answer = httpx.post(
                servers[n % 2].url + "/api/v1/deployments",
                json={"service": f"svc-{n}", "version": "1.0.0", "environment": "production"},
                headers=headers,
                timeout=30,
            )
            assert answer.status_code == 201, answer.text

        def all_done() -> bool:
            status = httpx.get(servers[0].url + "/api/v1/status", headers=headers).json()
            return all(row["last_state"] == "succeeded" for row in status)

        wait_for(all_done, timeout=60)
        lines = ran.read_text().splitlines()
        assert sorted(lines) == sorted(f"svc-{n} 1.0.0" for n in range(10))
    finally:
        for server in servers:
            server.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_deployment_interrupted_by_kill_9_is_failed_and_rolled_back_on_restart(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'relgate.db'}"
    else:
        from tests.support.databases import truncate_all

        url = request.getfixturevalue("postgres_url")
        truncate_all(url)
    started = tmp_path / "started.pid"
    script = _deploy_script(
        tmp_path,
        f"""\
        echo "$RELGATE_VERSION" > {tmp_path}/current
        if [ "$RELGATE_VERSION" = 1.1.0 ]; then echo $$ > {started}; sleep 120; fi
        """,
    )
    pipeline = (
        "service: pay\nenvironments:\n  - name: production\n    protected: false\n"
        "    auto_rollback: true\n"
        f"    deployer: {{type: command, command: {script}}}\n"
    )
    from relgate.store import db

    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    token = _setup(url, pipeline, {"pay@1.0.0": "a", "pay@1.1.0": "b"})
    headers = {"Authorization": f"Bearer {token}"}
    env = {
        "RELGATE_DATABASE_URL": url,
        "RELGATE_JOB_LEASE_SECONDS": "2",
        "RELGATE_ORPHAN_GRACE_SECONDS": "1",
    }
    server = start_server(tmp_path / "srv", env)
    try:
        first = httpx.post(
            server.url + "/api/v1/deployments",
            json={"service": "pay", "version": "1.0.0", "environment": "production"},
            headers=headers,
        ).json()

        def state(deployment: int, srv: object = None) -> str:
            target = srv or server
            return str(
                httpx.get(f"{target.url}/api/v1/deployments/{deployment}", headers=headers).json()[  # type: ignore[attr-defined]
                    "state"
                ]
            )

        wait_for(lambda: state(first["id"]) == "succeeded")
        second = httpx.post(
            server.url + "/api/v1/deployments",
            json={"service": "pay", "version": "1.1.0", "environment": "production"},
            headers=headers,
        ).json()
        wait_for(started.exists)
        assert state(second["id"]) == "deploying"
        server.kill(signal.SIGKILL)
    finally:
        server.stop()
        if started.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(started.read_text()), signal.SIGKILL)

    restarted = start_server(tmp_path / "srv", env)
    try:
        wait_for(lambda: state(second["id"], restarted) == "rolled_back", timeout=30)
        interrupted = httpx.get(
            f"{restarted.url}/api/v1/deployments/{second['id']}", headers=headers
        ).json()
        assert interrupted["outcome"].startswith("interrupted")
        history = httpx.get(f"{restarted.url}/api/v1/services/pay/history", headers=headers).json()
        assert (history[0]["kind"], history[0]["version"], history[0]["state"]) == (
            "auto-rollback",
            "1.0.0",
            "succeeded",
        )
        assert (tmp_path / "current").read_text().strip() == "1.0.0"
    finally:
        restarted.stop()
