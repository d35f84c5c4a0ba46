"""Filtering the audit trail by service, environment, actor and action, on SQLite and PostgreSQL.

The events are the ones relgate's use cases write (a flag's changes and its
kill switch through ``FlagService``), plus events of the shapes the promotion
side writes (subjects ``service/S``, ``release/S@V``, ``environment/S/E``,
``deployment/ID`` with or without the service in before/after), appended with
``audit.store.append`` over real service, release and deployment rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relgate.audit import store as audit
from relgate.audit.checkpointer import Checkpointer
from relgate.audit.keys import load_or_create
from relgate.audit.reading import FULL_EVERY, AuditFilter, AuditTrail
from relgate.auth.model import Principal, Role
from relgate.clock import FixedClock
from relgate.errors import BadInput, Forbidden
from relgate.flags.service import FlagService
from relgate.store import db
from relgate.store.tables import DeploymentRow, ReleaseRow, ServiceRow
from relgate.store.uow import UnitOfWorkFactory

ADMIN = Principal("alice", Role.ADMIN)
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# an environment name no pipeline allows but a flag environment may have
ODD = 'qa "eu", west.1'


@pytest.fixture
def uow(database_url: str) -> Iterator[UnitOfWorkFactory]:
    engine = db.make_engine(database_url)
    try:
        yield UnitOfWorkFactory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def trail(uow: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path) -> AuditTrail:
    key = load_or_create(tmp_path / "audit.key")
    return AuditTrail(uow, Checkpointer(uow, clock, key, []), clock)


def _deployment(uow: UnitOfWorkFactory, service: str, environment: str) -> int:
    """A deployment row of ``service`` in ``environment`` (its service and release made)."""
    with uow() as unit:
        session = unit.session
        svc = session.query(ServiceRow).filter_by(name=service).one_or_none()
        if svc is None:
            svc = ServiceRow(name=service, created_at=START)
            session.add(svc)
            session.flush()
        release = ReleaseRow(
            service_id=svc.id,
            version=f"1.0.{session.query(ReleaseRow).count()}",
            artifact="registry.example/app@sha256:" + "a" * 64,
            digest="sha256:" + "a" * 64,
            created_by="ci",
            created_at=START,
        )
        session.add(release)
        session.flush()
        row = DeploymentRow(
            service_id=svc.id,
            environment=environment,
            release_id=release.id,
            version=release.version,
            pipeline_revision=1,
            kind="promotion",
            state="deploying",
            requested_by="ci",
            gate_results=[],
            created_at=START,
            updated_at=START,
        )
        session.add(row)
        session.flush()
        unit.commit()
        return row.id


def _append(uow: UnitOfWorkFactory, actor: str, action: str, subject: str, **states: object) -> int:
    with uow() as unit:
        row = audit.append(
            unit,
            actor=actor,
            action=action,
            subject=subject,
            at=START,
            before=states.get("before"),  # type: ignore[arg-type]
            after=states.get("after"),  # type: ignore[arg-type]
        )
        unit.commit()
        return row.seq


@pytest.fixture
def history(uow: UnitOfWorkFactory, clock: FixedClock) -> dict[str, int]:
    """A trail with events of two services, three environments and a flag; name → seq."""
    seqs: dict[str, int] = {}
    pay_prod = _deployment(uow, "payments", "production")
    pay_dev = _deployment(uow, "payments", "dev")
    web_prod = _deployment(uow, "web", "production")
    seqs["pipeline"] = _append(uow, "ci", "pipeline.applied", "service/payments")
    seqs["release"] = _append(uow, "ci", "release.created", "release/payments@1.0.0")
    seqs["evidence-prod"] = _append(
        uow, "ci", "evidence.added", "release/payments@1.0.0", after={"environment": "production"}
    )
    seqs["pay-prod-deploying"] = _append(
        uow, "relgate", "deployment.deploying", f"deployment/{pay_prod}", after={"version": "1"}
    )
    seqs["pay-dev-verifying"] = _append(
        uow, "relgate", "deployment.verifying", f"deployment/{pay_dev}", after={"state": "v"}
    )
    seqs["web-prod-succeeded"] = _append(
        uow,
        "relgate",
        "deployment.succeeded",
        f"deployment/{web_prod}",
        after={"service": "web", "environment": "production"},
    )
    seqs["rollback"] = _append(
        uow, "bob", "rollback.requested", "environment/payments/production", after={"version": "1"}
    )
    # a service whose name is a LIKE pattern of the other's must not match it
    seqs["lookalike"] = _append(uow, "ci", "release.created", "release/pay_ents@1.0.0")
    flags = FlagService(uow, clock)
    flags.create(ADMIN, "new-checkout")
    seqs["flag-created"] = _head(uow)
    flags.enable(ADMIN, "new-checkout", "dev")
    seqs["flag-dev-enabled"] = _head(uow)
    flags.enable(ADMIN, "new-checkout", "production")
    seqs["flag-prod-enabled"] = _head(uow)
    flags.enable(ADMIN, "new-checkout", ODD)
    seqs["flag-odd-enabled"] = _head(uow)
    flags.kill(Principal("carol", Role.ADMIN), "new-checkout", reason="errors at 2 AM")
    seqs["flag-killed"] = _head(uow)
    return seqs


def _head(uow: UnitOfWorkFactory) -> int:
    with uow() as unit:
        head = audit.head(unit)
        assert head is not None
        return head[0]


def _found(trail: AuditTrail, history: dict[str, int], **wanted: str) -> list[str]:
    names = {seq: name for name, seq in history.items()}
    page = trail.events(ADMIN, AuditFilter(**wanted), limit=100)
    return [names.get(event.seq, f"#{event.seq}") for event in page.events]


def test_the_service_filter_finds_its_subjects_and_its_deployments(
    trail: AuditTrail, history: dict[str, int]
) -> None:
    assert _found(trail, history, service="payments") == [
        "rollback",
        "pay-dev-verifying",
        "pay-prod-deploying",
        "evidence-prod",
        "release",
        "pipeline",
    ]
    assert _found(trail, history, service="web") == ["web-prod-succeeded"]
    assert _found(trail, history, service="pay_ents") == ["lookalike"]
    assert _found(trail, history, service="nothing") == []


def test_the_environment_filter_finds_deployments_flags_and_the_kill(
    trail: AuditTrail, history: dict[str, int]
) -> None:
    assert _found(trail, history, environment="production") == [
        "flag-killed",
        "flag-prod-enabled",
        "rollback",
        "web-prod-succeeded",
        "pay-prod-deploying",
        "evidence-prod",
    ]
    assert _found(trail, history, environment="dev") == [
        "flag-killed",
        "flag-dev-enabled",
        "pay-dev-verifying",
    ]
    # a name with quotes, commas and dots is a bound value, not part of a JSON path
    assert _found(trail, history, environment=ODD) == ["flag-killed", "flag-odd-enabled"]
    assert _found(trail, history, environment="staging") == []


def test_actor_action_and_the_other_filters_combine(
    trail: AuditTrail, history: dict[str, int]
) -> None:
    assert _found(trail, history, actor="carol") == ["flag-killed"]
    assert _found(trail, history, action="flag.killed") == ["flag-killed"]
    assert _found(trail, history, action="flag.") == [
        "flag-killed",
        "flag-odd-enabled",
        "flag-prod-enabled",
        "flag-dev-enabled",
        "flag-created",
    ]
    assert _found(trail, history, action="flag") == []  # exact unless it ends with "."
    assert _found(trail, history, actor="relgate", service="payments") == [
        "pay-dev-verifying",
        "pay-prod-deploying",
    ]
    assert _found(trail, history, action="deployment.", environment="production") == [
        "web-prod-succeeded",
        "pay-prod-deploying",
    ]


def test_pages_go_from_the_newest_down_without_gaps_or_repeats(
    trail: AuditTrail, history: dict[str, int]
) -> None:
    seen: list[int] = []
    before: int | None = None
    while True:
        page = trail.events(ADMIN, before=before, limit=4)
        seen.extend(event.seq for event in page.events)
        if page.older is None:
            break
        before = page.older
    assert seen == sorted(history.values(), reverse=True)
    filtered = trail.events(ADMIN, AuditFilter(action="flag."), limit=2)
    assert [e.seq for e in filtered.events] == [history["flag-killed"], history["flag-odd-enabled"]]
    older = trail.events(ADMIN, AuditFilter(action="flag."), before=filtered.older, limit=2)
    assert [e.seq for e in older.events] == [
        history["flag-prod-enabled"],
        history["flag-dev-enabled"],
    ]


def test_the_kill_shows_its_reason_and_what_it_turned_off(
    trail: AuditTrail, history: dict[str, int]
) -> None:
    kill = trail.events(ADMIN, AuditFilter(action="flag.killed")).events[0]
    changed = {change.path: change for change in kill.changes}
    assert changed["reason"].kind == "added"
    assert changed["reason"].after == '"errors at 2 AM"'
    assert (changed["enabled.production"].before, changed["enabled.production"].after) == (
        "true",
        "false",
    )


def test_reading_the_trail_needs_an_unrestricted_token(
    trail: AuditTrail, history: dict[str, int]
) -> None:
    scoped = Principal("ci-dev", Role.CI, environments=frozenset({"dev"}))
    with pytest.raises(Forbidden, match="every service and environment"):
        trail.events(scoped, AuditFilter(environment="dev"))
    with pytest.raises(Forbidden):
        trail.status(scoped)
    with pytest.raises(Forbidden):
        trail.events(Principal("sdk", Role.CLIENT, environment="dev"))
    with pytest.raises(BadInput, match="actor"):
        trail.events(ADMIN, AuditFilter(actor="x" * 201))


def test_the_status_verifies_the_chain_and_names_its_head(
    trail: AuditTrail, history: dict[str, int], uow: UnitOfWorkFactory
) -> None:
    status = trail.status(ADMIN)
    with uow() as unit:
        head = audit.head(unit)
    assert head is not None
    assert status.intact
    assert (status.head_seq, status.head_hash) == head
    assert status.events == len(history)

    from sqlalchemy import update

    from relgate.store.tables import AuditRow

    with uow() as unit:
        unit.session.execute(
            update(AuditRow).where(AuditRow.seq == history["release"]).values(actor="mallory")
        )
        unit.commit()
    broken = trail.status(ADMIN, full=True)
    assert not broken.intact
    assert any("changed after it was written" in p for p in broken.problems)
    assert broken.head_seq == head[0]


def test_later_views_verify_only_what_was_appended_until_the_next_whole_check(
    trail: AuditTrail, history: dict[str, int], uow: UnitOfWorkFactory, clock: FixedClock
) -> None:
    from sqlalchemy import update

    from relgate.store.tables import AuditRow

    first = trail.status(ADMIN)
    assert first.intact and first.full_at == START
    clock.advance(minutes=1)
    seq = _append(uow, "dave", "flag.enabled", "flag/x", after={"environment": "dev"})
    later = trail.status(ADMIN)
    assert later.intact
    assert (later.head_seq, later.events) == (seq, first.events + 1)
    assert later.full_at == START and later.checked_at == START + timedelta(minutes=1)

    # an old event edited: a view within FULL_EVERY checks only the new tail...
    with uow() as unit:
        unit.session.execute(
            update(AuditRow).where(AuditRow.seq == history["release"]).values(actor="mallory")
        )
        unit.commit()
    assert trail.status(ADMIN).intact
    # ...a whole check (asked for, or due) finds it
    assert not trail.status(ADMIN, full=True).intact
    fixed_clock_trail = trail
    with uow() as unit:
        unit.session.execute(
            update(AuditRow).where(AuditRow.seq == history["release"]).values(actor="ci")
        )
        unit.commit()
    assert fixed_clock_trail.status(ADMIN).intact  # a problem is followed by a whole check
    clock.advance(seconds=FULL_EVERY.total_seconds() + 1)
    with uow() as unit:
        unit.session.execute(
            update(AuditRow).where(AuditRow.seq == history["pipeline"]).values(action="x")
        )
        unit.commit()
    due = trail.status(ADMIN)
    assert not due.intact and due.full_at == clock.now()


def test_a_changed_head_or_a_broken_tail_is_found_at_once(
    trail: AuditTrail, history: dict[str, int], uow: UnitOfWorkFactory
) -> None:
    from sqlalchemy import update

    from relgate.store.tables import AuditRow

    assert trail.status(ADMIN).intact
    with uow() as unit:  # the verified head rewritten
        unit.session.execute(
            update(AuditRow).where(AuditRow.seq == history["flag-killed"]).values(actor="m")
        )
        unit.commit()
    assert not trail.status(ADMIN).intact
    with uow() as unit:
        unit.session.execute(
            update(AuditRow).where(AuditRow.seq == history["flag-killed"]).values(actor="carol")
        )
        unit.commit()
    assert trail.status(ADMIN).intact
    seq = _append(uow, "dave", "flag.enabled", "flag/x")
    with uow() as unit:  # an event appended since, then edited
        unit.session.execute(update(AuditRow).where(AuditRow.seq == seq).values(actor="m"))
        unit.commit()
    broken = trail.status(ADMIN)
    assert not broken.intact
    assert any(f"event {seq}" in problem for problem in broken.problems)
