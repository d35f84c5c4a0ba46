"""What the deployment page reads, on SQLite and PostgreSQL: the rollback target, the log in
slices, and the log growing while the deploy command still runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relgate import limits
from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.clock import FixedClock
from relgate.config import Settings
from relgate.errors import Forbidden, NotFound
from relgate.manifest.pipeline import parse_pipeline
from relgate.promotion import transitions
from relgate.promotion.repository import SqlDeployments
from relgate.store.tables import DeploymentRow

DIGEST = "sha256:" + "e" * 64
ADMIN = Principal("admin", Role.ADMIN)
CI = Principal("ci-bot", Role.CI)
APPROVER = Principal("alice", Role.APPROVER)
ELSEWHERE = Principal("other-ci", Role.CI, services=frozenset({"another-service"}))


def pipeline(deployer: str) -> str:
    return (
        "service: shop\n"
        "environments:\n"
        "  - name: dev\n"
        "    protected: false\n"
        f"    deployer: {deployer}\n"
    )


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    clock = FixedClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    built = build(Settings(database_url=database_url), clock=clock, base_dir=tmp_path)
    built.pipelines.apply(ADMIN, parse_pipeline(pipeline("{type: record}"), "relgate.yaml"))
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        built.releases.create(CI, service="shop", version=version, artifact=f"reg/shop@{DIGEST}")
    yield built
    built.uow.engine.dispose()


def drain(services: Services) -> None:
    while services.worker.run_once():
        pass


def deploy(services: Services, version: str) -> int:
    deployment = services.promotion.promote(CI, "shop", version, "dev")
    drain(services)
    return deployment.id


def set_log(services: Services, deployment_id: int, text: str) -> None:
    with services.uow() as uow:
        row = uow.session.get(DeploymentRow, deployment_id)
        assert row is not None
        row.log = text
        uow.commit()


def test_the_rollback_target_is_the_newest_known_good_release_before_the_current_one(
    services: Services,
) -> None:
    deploy(services, "1.0.0")
    deploy(services, "2.0.0")

    target = services.promotion.rollback_target(CI, "shop", "dev")

    assert (target.version, target.stable, target.reason, target.blocked) == (
        "1.0.0",
        False,
        "",
        "",
    )
    # the rollback deploys what the query named
    assert services.promotion.rollback(CI, "shop", "dev", reason="bad").version == "1.0.0"


def test_after_a_failed_release_the_rollback_target_is_the_stable_anchor(
    services: Services,
) -> None:
    deploy(services, "1.0.0")
    deploy(services, "2.0.0")
    services.pipelines.apply(
        ADMIN, parse_pipeline(pipeline('{type: command, command: "exit 3"}'), "relgate.yaml")
    )
    failed = deploy(services, "3.0.0")
    assert services.promotion.deployment(CI, failed).state == "failed"

    target = services.promotion.rollback_target(CI, "shop", "dev")

    assert (target.version, target.stable) == ("2.0.0", True)


def test_with_nothing_known_good_before_it_the_rollback_target_says_why(
    services: Services,
) -> None:
    before = services.promotion.rollback_target(CI, "shop", "dev")
    deploy(services, "1.0.0")
    after_one = services.promotion.rollback_target(CI, "shop", "dev")

    assert before.version is None
    assert after_one.version is None
    assert after_one.reason == (
        "dev of shop has no earlier release that deployed and verified there: "
        "nothing to roll back to"
    )


def test_the_rollback_target_says_when_a_running_deployment_blocks_it(
    services: Services,
) -> None:
    deploy(services, "1.0.0")
    deploy(services, "2.0.0")
    running = services.promotion.promote(CI, "shop", "3.0.0", "dev")
    with services.uow() as uow:  # started by a worker, not finished
        assert transitions.start(SqlDeployments(uow.session), running.id, datetime.now(UTC))
        uow.commit()

    target = services.promotion.rollback_target(CI, "shop", "dev")

    assert target.version == "1.0.0"
    assert target.blocked == (
        f"dev of shop is held by deployment {running.id} (3.0.0, deploying); "
        "wait for it to finish or cancel it"
    )


def test_the_rollback_target_is_read_within_the_token_scope(services: Services) -> None:
    deploy(services, "1.0.0")

    assert services.promotion.rollback_target(APPROVER, "shop", "dev").version is None
    with pytest.raises(Forbidden):
        services.promotion.rollback_target(ELSEWHERE, "shop", "dev")
    with pytest.raises(NotFound):
        services.promotion.rollback_target(CI, "shop", "nowhere")


def test_the_log_is_read_in_slices_from_an_offset(services: Services) -> None:
    deployment = deploy(services, "1.0.0")
    set_log(services, deployment, "line one\nline two\n")
    read = services.promotion.deployment_log_since

    whole = read(CI, deployment, 0)
    rest = read(CI, deployment, 9)
    nothing = read(CI, deployment, whole.end)
    newest = read(CI, deployment, 0, limit=9)

    assert (whole.text, whole.end, whole.skipped) == ("line one\nline two\n", 18, False)
    assert (rest.text, rest.end, rest.skipped) == ("line two\n", 18, False)
    assert (nothing.text, nothing.end, nothing.skipped) == ("", 18, False)
    assert (newest.text, newest.end, newest.skipped) == ("line two\n", 18, True)


def test_a_log_at_its_size_limit_continues_after_what_the_reader_had(
    services: Services,
) -> None:
    deployment = deploy(services, "1.0.0")
    head = "x" * (limits.DEPLOYMENT_LOG - 20)
    set_log(services, deployment, head + "old end\n" + "new line 1\nnew\n")
    read = services.promotion.deployment_log_since

    # the reader had up to "old end\n"; the log's head was dropped since, offsets shifted
    found = read(CI, deployment, limits.DEPLOYMENT_LOG, anchor="xxxxold end\n", limit=100)
    lost = read(CI, deployment, limits.DEPLOYMENT_LOG, anchor="not in it", limit=100)

    assert (found.text, found.skipped) == ("new line 1\nnew\n", False)
    assert lost.skipped is True
    assert lost.text.endswith("new line 1\nnew\n") and len(lost.text) == 100


def test_only_who_may_deploy_there_reads_the_log(services: Services) -> None:
    deployment = deploy(services, "1.0.0")

    with pytest.raises(Forbidden):
        services.promotion.deployment_log_since(APPROVER, deployment, 0)
    with pytest.raises(Forbidden):
        services.promotion.deployment_log_since(ELSEWHERE, deployment, 0)
    with pytest.raises(NotFound):
        services.promotion.deployment_log_since(CI, 2**40, 0)
    with pytest.raises(NotFound):
        services.promotion.deployment_log_since(CI, deployment + 1000, 0)


def test_the_log_grows_while_the_deploy_command_runs(services: Services, tmp_path: Path) -> None:
    gate = tmp_path / "go-on"
    command = (
        f"echo step one; n=0; while [ ! -e {gate} ] && [ $n -lt 300 ]; "
        "do sleep 0.1; n=$((n+1)); done; echo step two"
    )
    services.pipelines.apply(
        ADMIN,
        parse_pipeline(pipeline(f'{{type: command, command: "{command}"}}'), "relgate.yaml"),
    )
    deployment = services.promotion.promote(CI, "shop", "1.0.0", "dev")
    worker = threading.Thread(target=drain, args=(services,))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while "step one" not in services.promotion.deployment_log_since(CI, deployment.id).text:
            assert time.monotonic() < deadline, "the first line never reached the store"
            time.sleep(0.05)
        running = services.promotion.deployment(CI, deployment.id)
        seen = services.promotion.deployment_log_since(CI, deployment.id)
    finally:
        gate.touch()
        worker.join(60)

    after = services.promotion.deployment_log_since(CI, deployment.id, seen.end)
    assert running.state == "deploying"
    assert "step two" not in seen.text
    assert after.text.startswith("step two\n")
    assert services.promotion.deployment(CI, deployment.id).state == "succeeded"
