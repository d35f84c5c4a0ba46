"""The registry's stable tag moved by a real relgate Worker (SQLite and PostgreSQL) in a real
docker-registry on 127.0.0.1: forward after a verified production deployment, back on a rollback."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from relgate.audit import store as audit
from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.deploy.registered import RegisteredDeployer
from relgate.manifest.pipeline import parse_pipeline
from tests.support.registry import RegistryServer, running_registry, write_registries_file

ADMIN = Principal("admin", Role.ADMIN)
CI = Principal("ci-bot", Role.CI)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with running_registry(tmp_path / "registry") as server:
        yield server


@pytest.fixture
def services(database_url: str, tmp_path: Path, registry: RegistryServer) -> Iterator[Services]:
    registries = write_registries_file(
        tmp_path / "registries.json", {"host": registry.host, "url": registry.url}
    )
    built = build(
        Settings(database_url=database_url, registries_file=registries), base_dir=tmp_path
    )
    deploy = tmp_path / "deploy.sh"
    deploy.write_text('#!/bin/sh\necho "deploying $RELGATE_ARTIFACT"\n')
    deploy.chmod(0o755)
    built.deployers.add(
        ADMIN, RegisteredDeployer(name="app-production", command=str(deploy), timeout_seconds=30)
    )
    source = textwrap.dedent(
        f"""\
        service: app
        environments:
          - name: dev
            auto_promote: true
            stable_tag: dev-stable
            deployer: {{type: command, command: "{deploy}", timeout_seconds: 30}}
          - name: staging
            deployer: {{type: command, command: "{deploy}", timeout_seconds: 30}}
          - name: production
            deployer: {{ref: app-production}}
        """
    )
    built.pipelines.apply(ADMIN, parse_pipeline(source, "relgate.yaml"))
    yield built
    built.uow.engine.dispose()


def drain(services: Services) -> None:
    while services.worker.run_once():
        pass


def release(services: Services, registry: RegistryServer, version: str) -> str:
    """Push an image tagged ``version``, release it by tag; return its digest."""
    digest = registry.push_image("team/app", version, layer=f"app {version}".encode())
    created, _ = services.releases.create(
        CI, service="app", version=version, artifact=f"{registry.host}/team/app:{version}"
    )
    assert created.digest == digest
    drain(services)  # dev takes it on its own
    return digest


def deploy(services: Services, version: str, environment: str) -> int:
    deployment = services.promotion.promote(ADMIN, "app", version, environment)
    drain(services)
    done = services.promotion.deployment(ADMIN, deployment.id)
    assert done.state == "succeeded", done.outcome
    return deployment.id


def stable_events(services: Services) -> list[tuple[str, object]]:
    with services.uow() as uow:
        events = audit.events(uow, subject="deployment/", limit=500)
    return [
        (event.action, (event.after or {}).get("digest"))
        for event in reversed(events)
        if event.action.startswith("registry.")
    ]


def test_production_moves_stable_forward_and_a_rollback_moves_it_back(
    services: Services, registry: RegistryServer
) -> None:
    first = release(services, registry, "1.0.0")
    assert registry.tag_digest("team/app", "dev-stable") == first
    deploy(services, "1.0.0", "staging")
    assert registry.tag_digest("team/app", "stable") is None  # staging names no tag

    first_prod = deploy(services, "1.0.0", "production")
    assert registry.tag_digest("team/app", "stable") == first
    second = release(services, registry, "1.1.0")
    assert registry.tag_digest("team/app", "dev-stable") == second
    deploy(services, "1.1.0", "staging")
    deploy(services, "1.1.0", "production")
    assert registry.tag_digest("team/app", "stable") == second

    rollback = services.promotion.rollback(ADMIN, "app", "production", reason="1.1.0 is slow")
    drain(services)

    assert services.promotion.deployment(ADMIN, rollback.id).state == "succeeded"
    assert registry.tag_digest("team/app", "stable") == first
    log = services.promotion.deployment_log(ADMIN, rollback.id)
    assert f"{registry.host}/team/app:stable moved to {first} (was {second})" in log
    assert "absent" in services.promotion.deployment_log(ADMIN, first_prod)
    assert stable_events(services) == [
        ("registry.stable_moved", first),  # dev-stable
        ("registry.stable_moved", first),  # stable
        ("registry.stable_moved", second),  # dev-stable
        ("registry.stable_moved", second),  # stable
        ("registry.stable_moved", first),  # stable, by the rollback
    ]


def test_a_registry_down_at_the_tag_move_leaves_the_deployment_succeeded_and_says_so(
    services: Services, registry: RegistryServer
) -> None:
    release(services, registry, "2.0.0")
    deploy(services, "2.0.0", "staging")
    registry.stop()

    deployment = deploy(services, "2.0.0", "production")  # asserts it succeeded

    log = services.promotion.deployment_log(ADMIN, deployment)
    assert f"stable tag {registry.host}/team/app:stable not moved" in log
    assert "cannot reach" in log
    assert stable_events(services)[-1][0] == "registry.stable_failed"
    status = {s.environment: s for s in services.promotion.status(CI, "app")}
    assert status["production"].stable == "2.0.0"
