"""The flags page's read model (FlagService.board) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from relgate.auth.model import Principal, Role
from relgate.clock import FixedClock
from relgate.errors import Forbidden, NotFound
from relgate.flags.service import FlagService
from relgate.store import db
from relgate.store.tables import EnvironmentRow, ServiceRow
from relgate.store.uow import UnitOfWorkFactory

ADMIN = Principal("alice", Role.ADMIN)
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def uow(database_url: str) -> Iterator[UnitOfWorkFactory]:
    engine = db.make_engine(database_url)
    try:
        yield UnitOfWorkFactory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def flags(uow: UnitOfWorkFactory) -> FlagService:
    return FlagService(uow, FixedClock(START))


def _pipeline(uow: UnitOfWorkFactory, service: str, *names: str, gone: str = "") -> None:
    with uow() as unit:
        svc = ServiceRow(name=service, created_at=START)
        unit.session.add(svc)
        unit.session.flush()
        for position, name in enumerate(names):
            unit.session.add(EnvironmentRow(service_id=svc.id, name=name, position=position))
        if gone:
            unit.session.add(
                EnvironmentRow(service_id=svc.id, name=gone, position=99, active=False)
            )
        unit.commit()


def test_the_columns_are_the_pipelines_environments_in_order_then_the_flags_own(
    flags: FlagService, uow: UnitOfWorkFactory
) -> None:
    _pipeline(uow, "payments", "dev", "staging", "production", gone="old-qa")
    _pipeline(uow, "web", "dev", "preview", "production")
    flags.create(ADMIN, "new-checkout")
    flags.enable(ADMIN, "new-checkout", "dev")
    flags.enable(ADMIN, "new-checkout", "edge-eu")  # an environment no pipeline has

    board = flags.board(ADMIN)

    # by the lowest position any pipeline gives the name, then by name
    assert board.environments == ["dev", "preview", "staging", "production", "edge-eu"]
    (row,) = board.rows
    assert row.flag.key == "new-checkout"
    assert sorted(row.flag.environments) == ["dev", "edge-eu"]
    assert row.kill_refused is None


def test_a_scoped_token_sees_its_environments_only_and_cannot_kill_beyond_them(
    flags: FlagService, uow: UnitOfWorkFactory
) -> None:
    _pipeline(uow, "payments", "dev", "production")
    flags.create(ADMIN, "dev-only")
    flags.enable(ADMIN, "dev-only", "dev")
    flags.create(ADMIN, "everywhere")
    flags.enable(ADMIN, "everywhere", "dev")
    flags.enable(ADMIN, "everywhere", "production")
    ci_dev = Principal("ci-dev", Role.CI, environments=frozenset({"dev"}))

    board = flags.board(ci_dev)

    assert board.environments == ["dev"]
    rows = {row.flag.key: row for row in board.rows}
    assert list(rows["everywhere"].flag.environments) == ["dev"]
    assert rows["dev-only"].kill_refused is None
    refusal = rows["everywhere"].kill_refused
    assert refusal is not None and "scoped to the environments dev" in refusal
    # the row says what the kill itself says
    with pytest.raises(Forbidden) as refused:
        flags.kill(ci_dev, "everywhere", reason="x")
    assert refused.value.message == refusal

    approver = Principal("bob", Role.APPROVER)
    assert all(
        row.kill_refused and "manage feature flags" in row.kill_refused
        for row in flags.board(approver).rows
    )


def test_archived_flags_are_left_out_unless_asked_and_one_flag_can_be_read(
    flags: FlagService,
) -> None:
    flags.create(ADMIN, "live")
    flags.create(ADMIN, "gone")
    flags.archive(ADMIN, "gone")

    assert [r.flag.key for r in flags.board(ADMIN).rows] == ["live"]
    shown = flags.board(ADMIN, include_archived=True).rows
    assert [r.flag.key for r in shown] == ["gone", "live"]
    assert shown[0].kill_refused == "flag 'gone' is archived: revive it first"
    assert [r.flag.key for r in flags.board(ADMIN, key="gone").rows] == ["gone"]
    with pytest.raises(NotFound):
        flags.board(ADMIN, key="nope")
    with pytest.raises(Forbidden):
        flags.board(Principal("sdk", Role.CLIENT, environment="dev"))


def test_segment_names_come_with_the_board(flags: FlagService) -> None:
    segment = flags.create_segment(
        ADMIN, "beta", constraints=[{"contextName": "plan", "operator": "IN", "values": ["b"]}]
    )
    assert flags.board(ADMIN).segments == {segment.id: "beta"}
