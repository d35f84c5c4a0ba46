"""A running deployment's cancel event, and the fence that refuses a reconciled attempt's writes.

Real worker, real deploy commands, real SQLite and PostgreSQL (``database_url``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.manifest.pipeline import parse_pipeline
from relgate.store.tables import DeploymentRow, JobRow
from tests.integration.deploy.processes import is_running, kill_if_running
from tests.support.server import wait_for

ADMIN = Principal("admin", Role.ADMIN)
CI = Principal("ci", Role.CI)


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(database_url=database_url), base_dir=tmp_path)
    script = tmp_path / "deploy.sh"
    # 1.0.0 records its pid and folder, then hangs until stopped
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$RELGATE_VERSION" = 1.0.0 ]; then pwd > {tmp_path}/folder\n'
        f"  sleep 600 & echo $! > {tmp_path}/pid; wait; fi\n"
        'echo "fence $RELGATE_FENCE"\n'
    )
    script.chmod(0o755)
    built.pipelines.apply(
        ADMIN,
        parse_pipeline(
            "service: pay\nenvironments:\n  - name: dev\n    protected: false\n"
            f"    deployer: {{type: command, command: {script}, kill_grace_seconds: 1}}\n",
            "relgate.yaml",
        ),
    )
    for version, char in (("1.0.0", "a"), ("1.1.0", "b")):
        built.releases.create(
            CI, service="pay", version=version, artifact=f"reg/pay@sha256:{char * 64}"
        )
    yield built
    pid = tmp_path / "pid"
    if pid.exists():
        kill_if_running(int(pid.read_text()))
    built.uow.engine.dispose()


def _run_in_thread(services: Services) -> threading.Thread:
    thread = threading.Thread(target=services.worker.run_once, daemon=True)
    thread.start()
    return thread


def _deployment(services: Services, ident: int) -> DeploymentRow:
    with services.uow() as uow:
        row = uow.session.get(DeploymentRow, ident)
        assert row is not None
        uow.session.expunge(row)
        return row


def test_cancelling_a_running_deployment_stops_its_command_and_frees_the_env(
    services: Services, tmp_path: Path
) -> None:
    ident = services.promotion.promote(CI, "pay", "1.0.0", "dev").id
    worker = _run_in_thread(services)
    wait_for((tmp_path / "pid").exists)
    pid = int((tmp_path / "pid").read_text())
    folder = Path((tmp_path / "folder").read_text().strip())
    assert folder.is_dir() and folder != tmp_path  # a folder of its own

    view = services.promotion.cancel(ADMIN, ident, reason="wrong build")
    assert view.state == "deploying"  # the worker records the end
    worker.join(30)
    assert not worker.is_alive()

    row = _deployment(services, ident)
    assert (row.state, row.outcome) == ("failed", "cancelled by admin: wrong build")
    assert not is_running(pid)
    assert not folder.exists()  # removed after the attempt
    # the environment is free: the next promotion deploys, with its own fencing token
    again = services.promotion.promote(CI, "pay", "1.1.0", "dev").id
    assert services.worker.run_once()
    row = _deployment(services, again)
    assert row.state == "succeeded", row.outcome
    assert f"fence {again}.1" in (row.log or "")


def test_a_reconciled_attempt_stops_its_command_and_its_late_writes_are_refused(
    services: Services, tmp_path: Path
) -> None:
    ident = services.promotion.promote(CI, "pay", "1.0.0", "dev").id
    worker = _run_in_thread(services)
    wait_for((tmp_path / "pid").exists)
    pid = int((tmp_path / "pid").read_text())
    # another process reconciled the job and claimed it again: a new attempt
    with services.uow() as uow:
        uow.session.execute(
            update(JobRow)
            .where(JobRow.deployment_id == ident)
            .values(attempt=JobRow.attempt + 1, claimed_by="worker-elsewhere")
        )
        uow.commit()
    worker.join(30)
    assert not worker.is_alive()
    assert not is_running(pid)  # the heartbeat found the job lost and stopped the command

    row = _deployment(services, ident)
    # nothing of the old attempt was written: the new attempt owns the outcome
    assert row.state == "deploying"
    assert not row.outcome
    assert "cancelled" not in (row.log or "")
    with services.uow() as uow:
        job = uow.session.scalar(select(JobRow).where(JobRow.deployment_id == ident))
        assert job is not None
        assert (job.state, job.claimed_by, job.attempt) == ("running", "worker-elsewhere", 2)


def test_a_started_deployment_holds_its_environment_for_the_orphan_grace_past_its_lease(
    database_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from relgate.clock import FixedClock
    from relgate.promotion.worker import Worker

    # the server running the deployment: its heartbeats stand still at 10:00
    clock = FixedClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    services = build(Settings(database_url=database_url), clock=clock, base_dir=tmp_path)
    script = tmp_path / "deploy.sh"
    script.write_text(f"#!/bin/sh\nsleep 600 & echo $! > {tmp_path}/pid; wait\n")
    script.chmod(0o755)
    services.pipelines.apply(
        ADMIN,
        parse_pipeline(
            "service: pay\nenvironments:\n  - name: dev\n    protected: false\n"
            f"    deployer: {{type: command, command: {script}, kill_grace_seconds: 1}}\n",
            "relgate.yaml",
        ),
    )
    services.releases.create(CI, service="pay", version="1.0.0", artifact="r/p@sha256:" + "a" * 64)
    ident = services.promotion.promote(CI, "pay", "1.0.0", "dev").id
    running = _run_in_thread(services)
    try:
        wait_for((tmp_path / "pid").exists)
        # another server, whose clock runs on
        later = FixedClock(clock.now())
        other = Worker(
            services.uow,
            later,
            services.promotion,
            base_dir=tmp_path,
            lease_seconds=30,
            orphan_grace_seconds=60,
        )
        later.advance(seconds=30 + 59)  # past the lease, within the orphan grace
        assert other.reconcile() == 0
        assert _deployment(services, ident).state == "deploying"
        later.advance(seconds=2)  # past lease + grace
        assert other.reconcile() == 1
        row = _deployment(services, ident)
        assert row.state == "failed"
        assert (row.outcome or "").startswith("interrupted")
        # the first server, still alive, finds its job gone and stops its command
        running.join(30)
        assert not running.is_alive()
        assert not is_running(int((tmp_path / "pid").read_text()))
        assert _deployment(services, ident).outcome == row.outcome  # its late write refused
    finally:
        pid = tmp_path / "pid"
        if pid.exists():
            kill_if_running(int(pid.read_text()))
        services.uow.engine.dispose()
