"""Incidents and the delivery measures over the real store (SQLite and PostgreSQL).

A constructed history: releases carrying their commits, promoted into a
production whose verification fails for a version containing "bad" (and rolls
back on its own), a hotfix promotion, incidents opened, re-linked and resolved.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relgate.audit import store as audit
from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.clock import FixedClock
from relgate.config import Settings
from relgate.errors import BadInput, Conflict, Forbidden, NotFound
from relgate.manifest.pipeline import parse_pipeline
from relgate.promotion.model import DeploymentKind

START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
ADMIN = Principal("admin", Role.ADMIN)
CI = Principal("ci-bot", Role.CI)
ONCALL = Principal("oncall", Role.APPROVER)
ELSEWHERE = Principal("other-team", Role.APPROVER, services=frozenset({"search"}))
HOUR = 3600.0


def _pipeline(service: str, workdir: Path) -> str:
    verify = workdir / "verify.sh"
    verify.write_text('#!/bin/sh\ncase "$RELGATE_VERSION" in *bad*) exit 1;; esac\nexit 0\n')
    verify.chmod(0o755)
    return textwrap.dedent(
        f"""\
        service: {service}
        environments:
          - name: staging
            deployer: {{type: record}}
          - name: production
            protected: false
            auto_rollback: true
            deployer: {{type: command, command: "true", timeout_seconds: 30}}
            verify: {{type: command, command: "{verify}", timeout_seconds: 30}}
        """
    )


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(database_url=database_url), clock=FixedClock(START), base_dir=tmp_path)
    for service in ("payments", "search"):
        built.pipelines.apply(ADMIN, parse_pipeline(_pipeline(service, tmp_path), "relgate.yaml"))
    yield built
    built.uow.engine.dispose()


def _clock(services: Services) -> FixedClock:
    clock = services.clock
    assert isinstance(clock, FixedClock)
    return clock


def _drain(services: Services) -> None:
    while services.worker.run_once():
        pass


def _release(services: Services, version: str, *commits: tuple[str, datetime]) -> None:
    digest = "sha256:" + format(abs(hash(version)) % 16**12, "012x").rjust(64, "0")
    services.releases.create(
        CI,
        service="payments",
        version=version,
        artifact=f"reg/pay@{digest}",
        commit=commits[0][0] if commits else None,
        commits=list(commits),
        committed_at=commits[0][1] if commits else None,
    )


def _deploy(
    services: Services, version: str, *, hotfix: bool = False, service: str = "payments"
) -> int:
    kind = DeploymentKind.HOTFIX if hotfix else DeploymentKind.PROMOTE
    view = services.promotion.promote(CI, service, version, "production", kind=kind)
    _drain(services)
    return view.id


def _history(services: Services) -> dict[str, int]:
    """1.0.0 (baseline), 1.1.0, 1.2.0-bad (fails, rolled back), 1.2.1 (hotfix): their ids."""
    clock = _clock(services)
    ids = {}
    _release(services, "1.0.0", ("a" * 40, START - timedelta(days=300)))
    ids["1.0.0"] = _deploy(services, "1.0.0")
    clock.advance(hours=2)
    _release(services, "1.1.0", ("b" * 40, clock.now() - timedelta(hours=3)))
    clock.advance(hours=1)
    ids["1.1.0"] = _deploy(services, "1.1.0")  # lead time 4 h
    clock.advance(hours=1)
    _release(services, "1.2.0-bad.1", ("c" * 40, clock.now() - timedelta(hours=1)))
    ids["1.2.0-bad.1"] = _deploy(services, "1.2.0-bad.1")  # fails; auto-rollback to 1.1.0
    clock.advance(hours=2)
    _release(services, "1.2.1", ("d" * 40, clock.now() - timedelta(hours=1)))
    services.promotion.unpin(CI, "payments", "production")  # the rollback pinned it
    ids["1.2.1"] = _deploy(services, "1.2.1", hotfix=True)  # lead time 1 h
    return ids


def test_the_measures_over_the_store_count_what_the_history_says(services: Services) -> None:
    ids = _history(services)
    incident = services.delivery.open_incident(
        ONCALL,
        ids["1.1.0"],
        summary="checkout 500s",
        opened_at=START + timedelta(hours=3, minutes=30),
    )
    _clock(services).advance(hours=1)

    report = services.delivery.report(
        ONCALL, "payments", "production", START - timedelta(days=1), START + timedelta(days=6)
    )

    f = report.frequency
    # 1.0.0, 1.1.0, 1.2.0-bad.1 (failed), its auto-rollback, 1.2.1 (hotfix)
    assert f.deployments == 5 and f.successful == 4
    kinds = [r.kind for r in f.rows]
    assert kinds == ["promote", "promote", "promote", "auto-rollback", "hotfix"]
    assert report.lead_time.baseline_deployment == ids["1.0.0"]
    # 1.2.0-bad.1 never verified: its commit is first shipped by the hotfix 1.2.1
    assert [(r.sha[0], r.version, r.seconds / HOUR) for r in report.lead_time.rows] == [
        ("b", "1.1.0", 4.0),
        ("c", "1.2.1", 3.0),
        ("d", "1.2.1", 1.0),
    ]
    failed = {r.id: r.failure_reasons for r in report.change_fail_rate.rows}
    assert set(failed) == {ids["1.1.0"], ids["1.2.0-bad.1"]}
    assert failed[ids["1.1.0"]] == [f"incident {incident.id}"]
    assert failed[ids["1.2.0-bad.1"]][0].startswith("failed")
    assert report.change_fail_rate.rate == pytest.approx(2 / 5)
    assert (report.rework.rollbacks, report.rework.hotfixes) == (1, 1)
    recovery = {r.deployment_id: r for r in report.recovery.rows}
    # the rolled-back deployment recovered when its auto-rollback verified (same clock)
    assert recovery[ids["1.2.0-bad.1"]].seconds == 0.0
    # the incident opened at 12:30; the auto-rollback (to 1.1.0!) verified at 13:00
    assert recovery[ids["1.1.0"]].seconds == 0.5 * HOUR


def test_an_incident_relinked_to_the_right_deployment_counts_only_there(
    services: Services,
) -> None:
    ids = _history(services)
    incident = services.delivery.open_incident(CI, ids["1.2.1"], summary="slow search")

    moved = services.delivery.link_incident(
        ONCALL, incident.id, ids["1.1.0"], reason="the slow query came with 1.1.0"
    )

    assert moved.deployment_id == ids["1.1.0"] and moved.version == "1.1.0"
    report = services.delivery.report(
        ONCALL, "payments", "production", START, START + timedelta(days=2)
    )
    failed = {r.id: r.failure_reasons for r in report.change_fail_rate.rows}
    assert ids["1.2.1"] not in failed
    assert f"incident {incident.id}" in failed[ids["1.1.0"]]
    with services.uow() as uow:
        (event,) = audit.events(uow, subject=f"incident/{incident.id}", limit=1)
    assert event.action == "incident.relinked"
    assert event.before == {"deployment": ids["1.2.1"], "environment": "production"}


def test_resolving_an_incident_and_listing_them(services: Services) -> None:
    ids = _history(services)
    opened = services.delivery.open_incident(ONCALL, ids["1.2.1"], summary="x")
    _clock(services).advance(minutes=20)

    resolved = services.delivery.resolve_incident(ONCALL, opened.id)

    assert resolved.resolved_by == "oncall"
    assert resolved.resolved_at == _clock(services).now()
    with pytest.raises(Conflict, match="was resolved by oncall"):
        services.delivery.resolve_incident(CI, opened.id)
    assert [i.id for i in services.delivery.incidents(ONCALL, service="payments")] == [opened.id]
    assert services.delivery.incidents(ONCALL, open_only=True) == []
    with services.uow() as uow:
        actions = [e.action for e in audit.events(uow, subject=f"incident/{opened.id}")]
    assert actions == ["incident.resolved", "incident.opened"]


def test_who_may_open_incidents_and_where(services: Services) -> None:
    ids = _history(services)
    search = _deploy_search(services)

    with pytest.raises(Forbidden, match="scoped to the services search"):
        services.delivery.open_incident(ELSEWHERE, ids["1.1.0"])
    with pytest.raises(Forbidden, match="needs the role"):
        services.delivery.open_incident(Principal("sdk", Role.CLIENT, environment="production"), 1)
    with pytest.raises(NotFound):
        services.delivery.open_incident(ONCALL, 2**40)
    with pytest.raises(NotFound):
        services.delivery.resolve_incident(ONCALL, 999)
    with pytest.raises(BadInput, match="before deployment"):
        services.delivery.open_incident(ONCALL, ids["1.2.1"], opened_at=START)
    with pytest.raises(BadInput, match="future"):
        services.delivery.open_incident(
            ONCALL, ids["1.2.1"], opened_at=_clock(services).now() + timedelta(hours=1)
        )
    incident = services.delivery.open_incident(ELSEWHERE, search)
    # another team's token neither moves it into payments nor sees payments' incidents
    with pytest.raises(BadInput, match="only within its service"):
        services.delivery.link_incident(ONCALL, incident.id, ids["1.1.0"], reason="wrong")
    with pytest.raises(Forbidden):
        services.delivery.link_incident(ELSEWHERE, incident.id, ids["1.1.0"], reason="wrong")
    services.delivery.open_incident(ONCALL, ids["1.1.0"])
    assert [i.service for i in services.delivery.incidents(ELSEWHERE)] == ["search"]
    with pytest.raises(Forbidden):
        services.delivery.report(ELSEWHERE, "payments", "production", START, START + timedelta(1))


def _deploy_search(services: Services) -> int:
    services.releases.create(
        CI, service="search", version="2.0.0", artifact="reg/search@sha256:" + "e" * 64
    )
    return _deploy(services, "2.0.0", service="search")


def test_a_release_keeps_its_commits_and_a_report_of_an_empty_period(services: Services) -> None:
    when = START - timedelta(days=2)
    _release(services, "0.9.0", ("f" * 40, when), ("e" * 40, when - timedelta(hours=1)))

    release = services.releases.get(CI, "payments", "0.9.0")

    assert release.commit_count == 2 and release.committed_at == when
    with pytest.raises(BadInput, match="lowercase hex"):
        services.releases.create(
            CI,
            service="payments",
            version="0.9.1",
            artifact="reg/pay@sha256:" + "9" * 64,
            commits=[("not a sha", when)],
        )
    with pytest.raises(BadInput, match="offset"):
        services.releases.create(
            CI,
            service="payments",
            version="0.9.1",
            artifact="reg/pay@sha256:" + "9" * 64,
            committed_at=datetime(2026, 10, 1, 12, 0),
        )
    report = services.delivery.report(
        CI, "payments", "production", START, START + timedelta(days=7)
    )
    assert report.frequency.deployments == 0 and report.change_fail_rate.rate is None
    assert [c.service for c in services.delivery.choices(CI)] == ["payments", "search"]
    assert services.delivery.choices(ELSEWHERE)[0].environments == ["staging", "production"]
