"""Rollback rehearsals read from the deployment history of real SQLite and PostgreSQL stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relgate.audit.reading import AuditFilter
from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.clock import FixedClock
from relgate.config import Settings
from relgate.errors import Conflict
from relgate.manifest.pipeline import parse_pipeline
from relgate.promotion.rehearsal_store import ran_history
from relgate.store import queries

CI = Principal("ci-bot", Role.CI)
PIPELINE = """\
service: ledger
environments:
  - name: staging
    deployer: {type: command, command: "true"}
  - name: production
    protected: false
    deployer: {type: record}
    gates:
      - {type: rollback_rehearsed, in: staging}
"""


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    clock = FixedClock(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    built = build(Settings(database_url=database_url), clock=clock, base_dir=tmp_path)
    built.pipelines.apply(CI, parse_pipeline(PIPELINE, "relgate.yaml"))
    for number, version in enumerate(("1.3.0", "1.4.0", "2.0.0"), start=1):
        artifact = f"reg/ledger@sha256:{str(number) * 64}"
        built.releases.create(CI, service="ledger", version=version, artifact=artifact)
    yield built
    built.uow.engine.dispose()


def promote(services: Services, version: str, environment: str = "staging") -> int:
    deployment = services.promotion.promote(CI, "ledger", version, environment)
    while services.worker.run_once():
        pass
    assert services.promotion.deployment(CI, deployment.id).state == "succeeded"
    return deployment.id


def roll_back(services: Services, to: str) -> int:
    deployment = services.promotion.rollback(
        CI, "ledger", "staging", reason="rehearsal", to_version=to
    )
    while services.worker.run_once():
        pass
    assert services.promotion.deployment(CI, deployment.id).state == "succeeded"
    return deployment.id


def history(services: Services) -> list[tuple[int, str]]:
    with services.uow() as uow:
        svc = queries.service_by_name(uow.session, "ledger")
        release = queries.release_by_version(uow.session, svc, "2.0.0")
        return [(d.id, d.deployer) for d in ran_history(uow.session, svc.id, "staging", release.id)]


def production_gate(services: Services) -> tuple[str, str]:
    check = services.promotion.check_gates(CI, "ledger", "2.0.0", "production")
    (gate,) = check.gates
    return gate.status, gate.reason


def test_the_history_starts_at_the_stable_release_before_and_leaves_out_what_never_ran(
    services: Services,
) -> None:
    promote(services, "1.3.0")
    anchor = promote(services, "1.4.0")
    cancelled = services.promotion.promote(CI, "ledger", "2.0.0", "staging")
    services.promotion.cancel(CI, cancelled.id, "not now")
    deployed = promote(services, "2.0.0")

    assert history(services) == [(anchor, "command"), (deployed, "command")]


def test_the_gate_check_and_the_overview_follow_the_rehearsal_and_the_record_audits_it(
    services: Services,
) -> None:
    promote(services, "1.4.0")
    promote(services, "1.4.0", "production")
    deployed = promote(services, "2.0.0")
    before = production_gate(services)
    with pytest.raises(Conflict, match=f"deployed #{deployed} in staging, not rolled back since"):
        services.rehearsals.record(CI, "ledger", "2.0.0", "staging")
    overview_before = services.promotion.overview(CI)

    rolled_back = roll_back(services, "1.4.0")
    services.promotion.unpin(CI, "ledger", "staging")
    redeployed = promote(services, "2.0.0")
    recorded = services.rehearsals.record(CI, "ledger", "2.0.0", "staging")
    after = production_gate(services)
    overview_after = services.promotion.overview(CI)

    assert before[0] == "missing"
    assert "2.0.0 is a major bump over 1.4.0 (production's stable release)" in before[1]
    assert after[0] == "pass"
    assert f"deployed #{deployed} (ci-bot, " in after[1]
    assert f"rolled back to 1.4.0 #{rolled_back} (ci-bot, " in after[1]
    assert f"redeployed #{redeployed} (ci-bot, " in after[1]
    assert recorded.rehearsed and recorded.summary == after[1]
    for overview, status in ((overview_before, "missing"), (overview_after, "pass")):
        row = next(s for s in overview.services if s.service == "ledger")
        production = row.cell("production")
        assert production is not None and production.candidate is not None
        assert [g.status for g in production.candidate.gates.gates] == [status]
    wanted = AuditFilter(action="rehearsal.recorded")
    audited = services.audit.events(CI, wanted).events
    assert len(audited) == 1
    assert audited[0].actor == "ci-bot"
