"""The migrations gate over SQLite and PostgreSQL: the stable release comes from the store,
in check_gates, promote and the overview's gate badges alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.clock import FixedClock
from relgate.config import Settings
from relgate.errors import Conflict, GateFailed
from relgate.manifest.pipeline import parse_pipeline
from relgate.migrations.checks import check_text
from relgate.migrations.report import MigrationReport

DIGEST = "sha256:" + "d" * 64
ADMIN = Principal("admin", Role.ADMIN)
CI = Principal("ci-bot", Role.CI)

PIPELINE = """\
service: ledger
environments:
  - name: dev
    deployer: {type: record}
  - name: production
    protected: false
    gates:
      - type: migrations
    deployer: {type: record}
"""
EXPAND = "SET lock_timeout = '5s';\nALTER TABLE entries ADD COLUMN memo_text text;\n"
CONTRACT = (
    "SET lock_timeout = '5s';\n"
    "-- relgate:contract after=2.1.0\n"
    "ALTER TABLE entries DROP COLUMN memo;\n"
)


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    clock = FixedClock(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    built = build(Settings(database_url=database_url), clock=clock, base_dir=tmp_path)
    built.pipelines.apply(ADMIN, parse_pipeline(PIPELINE, "relgate.yaml"))
    yield built
    built.uow.engine.dispose()


def drain(services: Services) -> None:
    while services.worker.run_once():
        pass


def release(services: Services, version: str, sql: str) -> None:
    services.releases.create(
        CI, service="ledger", version=version, artifact=f"reg/ledger@{DIGEST}", author="dana"
    )
    checked = check_text(sql, "migrations/0012.sql")
    report = MigrationReport(files=[checked.file], findings=checked.findings)
    services.releases.add_evidence(
        CI,
        service="ledger",
        version=version,
        kind="migrations",
        filename="migrations.json",
        data=json.dumps(report.model_dump(mode="json")).encode(),
    )


def migrations_gate(services: Services, version: str) -> tuple[str, str]:
    checked = services.promotion.check_gates(CI, "ledger", version, "production")
    (gate,) = [g for g in checked.gates if g.gate == "migrations"]
    return gate.status, gate.reason


def overview_badge(services: Services) -> str:
    row = next(s for s in services.promotion.overview(CI).services if s.service == "ledger")
    production = row.cell("production")
    assert production is not None and production.candidate is not None
    (gate,) = [g for g in production.candidate.gates.gates if g.gate == "migrations"]
    return f"{production.candidate.version} {gate.status}: {gate.reason}"


def test_a_contract_release_waits_for_the_expand_release_to_be_stable_in_production(
    services: Services,
) -> None:
    release(services, "2.0.0", EXPAND)
    services.promotion.promote(CI, "ledger", "2.0.0", "production")
    drain(services)
    release(services, "2.1.0", EXPAND)
    release(services, "2.2.0", CONTRACT)

    status, reason = migrations_gate(services, "2.2.0")
    assert status == "fail"
    assert "production runs 2.0.0, which may still use them" in reason
    with pytest.raises(GateFailed):
        services.promotion.promote(CI, "ledger", "2.2.0", "production")
    assert overview_badge(services).startswith("2.2.0 fail: drops or renames entries.memo")

    services.promotion.promote(CI, "ledger", "2.1.0", "production")
    drain(services)

    status, reason = migrations_gate(services, "2.2.0")
    assert (status, reason) == (
        "pass",
        "contract changes safe: entries.memo (after 2.1.0); production runs 2.1.0, "
        "deployed and verified",
    )
    assert overview_badge(services) == f"2.2.0 pass: {reason}"
    services.promotion.promote(CI, "ledger", "2.2.0", "production")
    drain(services)
    assert services.promotion.check_gates(CI, "ledger", "2.2.0", "production").passed


def test_with_nothing_stable_in_production_a_contract_release_is_refused(
    services: Services,
) -> None:
    release(services, "2.2.0", CONTRACT)

    status, reason = migrations_gate(services, "2.2.0")

    assert status == "fail"
    assert "no release is stable in production" in reason


def test_no_rollback_goes_below_a_contract_that_ran_in_the_environment(
    services: Services,
) -> None:
    # 2.0.0 and 2.1.0 (the expand release) verified in production, then 2.2.0 drops
    # entries.memo "after 2.1.0": 2.0.0 may still read it, 2.1.0 does not
    for version, sql in (("2.0.0", EXPAND), ("2.1.0", EXPAND), ("2.2.0", CONTRACT)):
        release(services, version, sql)
        services.promotion.promote(CI, "ledger", version, "production")
        drain(services)
    admin_rollback = services.promotion.rollback

    with pytest.raises(Conflict) as refused:
        admin_rollback(ADMIN, "ledger", "production", reason="bad", to_version="2.0.0")
    assert "ledger@2.0.0 is older than 2.1.0: 2.2.0 has deployed in production" in str(
        refused.value
    )
    assert "drop or rename entries.memo" in str(refused.value)
    assert "--to 2.1.0" in str(refused.value)
    # the stable anchor before 2.2.0 is 2.1.0: the plain rollback goes there
    target = services.promotion.rollback_target(ADMIN, "ledger", "production")
    assert target.version == "2.1.0" and target.reason in (None, "")
    rolled = admin_rollback(ADMIN, "ledger", "production", reason="bad", to_version="2.1.0")
    drain(services)
    assert services.promotion.deployment(ADMIN, rolled.id).state == "succeeded"
