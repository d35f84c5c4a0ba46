"""The overview read model over SQLite and PostgreSQL: cells, candidates, gates, queue, scope."""

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
from relgate.manifest.pipeline import parse_pipeline
from relgate.promotion.overview import Cell, Overview

DIGEST = "sha256:" + "a" * 64
DIGEST_2 = "sha256:" + "b" * 64

ADMIN = Principal("admin", Role.ADMIN)
CI = Principal("ci-bot", Role.CI)
ALICE = Principal("alice", Role.APPROVER)

PIPELINE = """\
service: {service}
environments:
  - name: dev
    auto_promote: true
    deployer: {{type: record}}
  - name: staging
    gates:
      - type: verified_in
      - type: coverage
        min: 80
    deployer: {{type: record}}
  - name: production
    protected: false
    gates:
      - type: verified_in
      - type: approval
    deployer: {{type: record}}
"""


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    clock = FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    built = build(Settings(database_url=database_url), clock=clock, base_dir=tmp_path)
    for name in ("payments", "search"):
        built.pipelines.apply(ADMIN, parse_pipeline(PIPELINE.format(service=name), "relgate.yaml"))
    yield built
    built.uow.engine.dispose()


def drain(services: Services) -> None:
    while services.worker.run_once():
        pass


def release(services: Services, service: str, version: str, digest: str = DIGEST) -> None:
    services.releases.create(
        CI, service=service, version=version, artifact=f"reg/{service}@{digest}", author="dana"
    )
    drain(services)


def coverage(services: Services, service: str, version: str, percent: float) -> None:
    body = {"meta": {"version": "7.5.0"}, "totals": {"percent_covered": percent}, "files": {}}
    services.releases.add_evidence(
        CI,
        service=service,
        version=version,
        kind="coverage",
        filename="coverage.json",
        data=json.dumps(body).encode(),
    )


def cell(overview: Overview, service: str, environment: str) -> Cell:
    row = next(s for s in overview.services if s.service == service)
    found = row.cell(environment)
    assert found is not None, f"{service} has no {environment} cell"
    return found


def test_a_cell_tells_what_runs_since_when_and_whether_it_is_the_stable_anchor(
    services: Services,
) -> None:
    release(services, "payments", "1.0.0")

    overview = services.promotion.overview(CI)

    assert overview.environments == ("dev", "staging", "production")
    assert [s.service for s in overview.services] == ["payments", "search"]
    dev = cell(overview, "payments", "dev")
    assert dev.current == "1.0.0"
    assert dev.current_digest == DIGEST
    assert dev.is_stable
    assert dev.deployed_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert dev.last_state == "succeeded"
    assert dev.last_deployment is not None
    assert dev.candidate is None  # 1.0.0 runs there already
    staging = cell(overview, "payments", "staging")
    assert staging.current is None
    assert not staging.is_stable
    assert cell(overview, "search", "dev").current is None
    assert overview.head == services.promotion.change_marker()


def test_the_gate_badges_of_the_next_candidate_are_what_check_gates_says(
    services: Services,
) -> None:
    release(services, "payments", "1.0.0")
    coverage(services, "payments", "1.0.0", 70.0)

    staging = cell(services.promotion.overview(CI), "payments", "staging")

    assert staging.candidate is not None
    assert staging.candidate.version == "1.0.0"
    badges = staging.candidate.gates
    assert (badges.passed, badges.failed, badges.missing) == (1, 1, 0)
    checked = services.promotion.check_gates(CI, "payments", "1.0.0", "staging")
    assert list(badges.gates) == checked.gates
    assert "coverage 70.0% < 80%" in badges.gates[1].reason

    coverage(services, "payments", "1.0.0", 91.0)
    staging = cell(services.promotion.overview(CI), "payments", "staging")
    assert staging.candidate is not None
    assert (staging.candidate.gates.passed, staging.candidate.gates.failed) == (2, 0)
    production = cell(services.promotion.overview(CI), "payments", "production")
    assert production.candidate is not None
    assert production.candidate.gates.missing == 2  # not verified in staging, no approval yet


def test_the_candidate_is_the_newest_release_newer_than_what_runs_and_not_deployed_there(
    services: Services,
) -> None:
    release(services, "payments", "1.0.0")
    release(services, "payments", "1.2.0", DIGEST_2)
    # a patch of an older line registered later is not newer than 1.2.0
    release(services, "payments", "1.1.5")

    overview = services.promotion.overview(CI)

    staging = cell(overview, "payments", "staging")
    assert staging.candidate is not None
    assert staging.candidate.version == "1.2.0"
    assert staging.candidate.digest == DIGEST_2
    dev = cell(overview, "payments", "dev")
    # dev took 1.2.0 on its own (auto_promote); 1.1.5 is older: no candidate
    assert dev.current == "1.2.0"
    assert dev.candidate is None


def test_a_deployment_waiting_for_approval_is_queued_and_its_approvals_counted(
    services: Services,
) -> None:
    release(services, "payments", "1.0.0")
    coverage(services, "payments", "1.0.0", 91.0)
    services.promotion.promote(CI, "payments", "1.0.0", "staging")
    drain(services)
    waiting = services.promotion.promote(CI, "payments", "1.0.0", "production")

    overview = services.promotion.overview(ALICE)

    assert [(w.service, w.environment, w.version, w.requested_by) for w in overview.waiting] == [
        ("payments", "production", "1.0.0", "ci-bot")
    ]
    assert overview.waiting[0].deployment == waiting.id
    assert services.promotion.approval_queue(ALICE) == list(overview.waiting)
    elsewhere = Principal("dev-only", Role.APPROVER, environments=frozenset({"dev"}))
    assert services.promotion.approval_queue(elsewhere) == []
    production = cell(overview, "payments", "production")
    assert production.last_state == "waiting_for_approval"
    assert production.in_progress
    assert production.candidate is not None
    assert production.candidate.deployment == waiting.id
    assert (production.candidate.gates.passed, production.candidate.gates.missing) == (1, 1)
    checked = services.promotion.check_gates(CI, "payments", "1.0.0", "production")
    assert list(production.candidate.gates.gates) == checked.gates

    services.promotion.decide(ALICE, "payments", "1.0.0", "production", approve=True)
    drain(services)
    overview = services.promotion.overview(ALICE)
    assert overview.waiting == ()
    production = cell(overview, "payments", "production")
    assert (production.current, production.last_state, production.is_stable) == (
        "1.0.0",
        "succeeded",
        True,
    )
    assert production.candidate is None


def test_flags_on_are_counted_per_environment(services: Services) -> None:
    services.flags.create(ADMIN, "new-checkout")
    services.flags.create(ADMIN, "dark-mode")
    services.flags.enable(ADMIN, "new-checkout", "dev")
    services.flags.enable(ADMIN, "dark-mode", "dev")
    services.flags.enable(ADMIN, "dark-mode", "staging")

    overview = services.promotion.overview(CI)

    assert cell(overview, "search", "dev").flags_on == 2
    assert cell(overview, "payments", "staging").flags_on == 1
    assert cell(overview, "payments", "production").flags_on == 0


def test_a_scoped_token_sees_only_its_services_and_environments(services: Services) -> None:
    release(services, "payments", "1.0.0")
    release(services, "search", "3.0.0")
    only_search = Principal("search-ci", Role.CI, services=frozenset({"search"}))
    only_dev = Principal("dev-ci", Role.CI, environments=frozenset({"dev"}))

    seen = services.promotion.overview(only_search)
    assert [s.service for s in seen.services] == ["search"]
    # asking for a service outside the scope leaves it out
    assert services.promotion.overview(only_search, ["payments"]).services == ()

    by_env = services.promotion.overview(only_dev)
    assert by_env.environments == ("dev",)
    assert services.promotion.overview_columns(only_dev) == ("dev",)
    assert services.promotion.overview_columns(CI) == ("dev", "staging", "production")
    assert all(c.environment == "dev" for s in by_env.services for c in s.cells)


def test_changes_name_the_services_that_changed_within_the_scope(services: Services) -> None:
    start = services.promotion.change_marker()
    release(services, "payments", "1.0.0")

    changes = services.promotion.overview_changes(CI, start)
    assert changes.services == frozenset({"payments"})
    assert changes.head == services.promotion.change_marker()
    only_search = Principal("search-ci", Role.CI, services=frozenset({"search"}))
    assert services.promotion.overview_changes(only_search, start).services == frozenset()
    assert services.promotion.overview_changes(CI, changes.head).services == frozenset()

    services.flags.create(ADMIN, "kill-me")
    # a flag changes the counts of every service: the page reads everything again
    assert services.promotion.overview_changes(CI, changes.head).services is None
    # so do more changes than the limit
    assert services.promotion.overview_changes(CI, start, limit=1).services is None


def test_the_overview_of_named_services_is_the_same_as_their_rows_in_the_whole(
    services: Services,
) -> None:
    release(services, "payments", "1.0.0")
    release(services, "search", "2.0.0")

    whole = services.promotion.overview(CI)
    part = services.promotion.overview(CI, ["search"])

    assert [s.service for s in part.services] == ["search"]
    assert part.services[0] == next(s for s in whole.services if s.service == "search")


def test_a_pipeline_applied_may_change_every_row(services: Services) -> None:
    start = services.promotion.change_marker()
    services.pipelines.apply(ADMIN, parse_pipeline(PIPELINE.format(service="billing"), "x.yaml"))

    assert services.promotion.overview_changes(CI, start).services is None


def test_the_kept_overview_reads_again_only_the_rows_that_changed(services: Services) -> None:
    release(services, "payments", "1.0.0")
    first = services.promotion.overview(CI)
    again = services.promotion.overview(CI)
    assert [r.stamp for r in again.services] == [r.stamp for r in first.services]

    release(services, "search", "2.0.0")
    after = services.promotion.overview(CI)

    stamps = {r.service: r.stamp for r in first.services}
    assert next(r for r in after.services if r.service == "payments").stamp == stamps["payments"]
    assert next(r for r in after.services if r.service == "search").stamp != stamps["search"]
    # what is kept is what a read from scratch says
    assert after.services == services.promotion.overview(CI, ["payments", "search"]).services
    assert cell(after, "search", "dev").current == "2.0.0"
    assert after.head == services.promotion.change_marker()


FROZEN = """\
service: frozen
environments:
  - name: dev
    deployer: {type: record}
  - name: production
    protected: false
    gates:
      - type: freeze
        windows:
          - {start: "Mon 00:00", end: "Sun 23:00", reason: "the big migration"}
    deployer: {type: record}
"""


def test_a_freeze_gate_is_evaluated_and_its_service_is_read_again_with_time(
    services: Services,
) -> None:
    services.pipelines.apply(ADMIN, parse_pipeline(FROZEN, "relgate.yaml"))
    release(services, "frozen", "1.0.0")

    overview = services.promotion.overview(CI)

    assert overview.timed == frozenset({"frozen"})
    production = cell(overview, "frozen", "production")
    assert production.candidate is not None
    assert production.candidate.gates.failed == 1
    assert "frozen until" in production.candidate.gates.gates[0].reason
    checked = services.promotion.check_gates(CI, "frozen", "1.0.0", "production")
    assert list(production.candidate.gates.gates) == checked.gates
