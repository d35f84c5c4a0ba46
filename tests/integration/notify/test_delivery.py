"""Delivery to a real HTTP receiver on 127.0.0.1 that fails, hangs, goes down and recovers.

Every test runs on SQLite and PostgreSQL. Nothing may be lost: each event the
outbox holds for a subscriber reaches the receiver (2xx) at least once.
"""

from __future__ import annotations

import json
import time

import pytest

from relgate.notify import webhook
from relgate.notify.events import EventType
from relgate.notify.service import NotifyService
from relgate.notify.subscribers import Filters, SubscriberKind, SubscriberSpec
from relgate.store.tables import DeliveryRow
from relgate.store.uow import UnitOfWorkFactory
from tests.integration.notify.conftest import ADMIN, SECRET, append_events, make_worker
from tests.support.notify_receiver import notify_receiver
from tests.support.server import wait_for


def add_webhook(service: NotifyService, url: str, name: str = "ops", **filters: object) -> None:
    service.add(
        ADMIN,
        SubscriberSpec(
            name=name,
            kind=SubscriberKind.WEBHOOK,
            url=url,
            secret=SECRET,
            filters=Filters(**filters),  # type: ignore[arg-type]
        ),
    )


def states(uow: UnitOfWorkFactory) -> dict[str, int]:
    from sqlalchemy import func, select

    with uow() as unit:
        return {
            state: count
            for state, count in unit.session.execute(
                select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)
            )
        }


def test_every_event_reaches_the_webhook_signed_with_its_id(
    uow: UnitOfWorkFactory, service: NotifyService
) -> None:
    with notify_receiver() as receiver:
        add_webhook(service, receiver.url)
        events = append_events(uow, 25)
        worker = make_worker(uow)
        worker.start()
        try:
            wait_for(lambda: len(receiver.accepted_ids()) == 25, timeout=30)
        finally:
            worker.stop()
        assert set(receiver.accepted_ids()) == {event.id for event in events}
        for item in receiver.accepted():
            assert webhook.verify(
                SECRET, item.headers["relgate-signature"], item.body, now=int(time.time())
            )
            document = json.loads(item.body)
            assert document["id"] == item.event_id
            assert item.headers["content-type"] == "application/cloudevents+json"
        assert states(uow) == {"delivered": 25}


def test_filters_choose_the_events_and_a_later_subscriber_gets_only_later_events(
    uow: UnitOfWorkFactory, service: NotifyService
) -> None:
    with notify_receiver() as receiver:
        add_webhook(
            service,
            receiver.url,
            name="prod-failures",
            environments=("production",),
            event_types=("deployment.failed",),
        )
        old = append_events(uow, 3, type=EventType.DEPLOYMENT_FAILED)
        add_webhook(service, receiver.url, name="everything")
        failed = append_events(uow, 2, type=EventType.DEPLOYMENT_FAILED)
        append_events(uow, 2, type=EventType.DEPLOYMENT_FAILED, environment="staging")
        append_events(uow, 2, type=EventType.DEPLOYMENT_SUCCEEDED)
        worker = make_worker(uow)
        worker.start()
        try:
            # prod-failures: 3 old + 2 new; everything: the 6 after it was added
            wait_for(lambda: sum(receiver.accepted_ids().values()) == 11, timeout=30)
        finally:
            worker.stop()
        status = service.status(ADMIN)
        counts = {s["name"]: s["delivered"] for s in status["subscribers"]}
        assert counts == {"everything": 6, "prod-failures": 5}
        ids = receiver.accepted_ids()
        assert all(ids[event.id] == 1 for event in old)  # only prod-failures had them
        assert all(ids[event.id] == 2 for event in failed)


def test_a_failing_then_hanging_receiver_gets_everything_once_it_recovers(
    uow: UnitOfWorkFactory, service: NotifyService
) -> None:
    with notify_receiver() as receiver:
        add_webhook(service, receiver.url)
        receiver.mode = "fail"
        events = append_events(uow, 10)
        worker = make_worker(uow, read_timeout=0.3)
        worker.start()
        try:
            wait_for(lambda: len(receiver.received) >= 20, timeout=30)  # retried while failing
            receiver.hang_seconds = 1.0
            receiver.mode = "hang"  # beyond the read timeout: each attempt times out
            seen = len(receiver.received)
            wait_for(lambda: len(receiver.received) >= seen + 3, timeout=30)
            errors = {row["last_error"] for row in _pending_errors(uow)}
            assert any(error and error.startswith("timed out") for error in errors), errors
            receiver.mode = "ok"
            wait_for(lambda: len(receiver.accepted_ids()) == 10, timeout=60)
        finally:
            worker.stop()
        assert set(receiver.accepted_ids()) == {event.id for event in events}
        assert states(uow) == {"delivered": 10}
        failed = [item for item in receiver.received if not item.accepted]
        assert {item.attempt for item in failed} >= {"1", "2"}


def _pending_errors(uow: UnitOfWorkFactory) -> list[dict[str, object]]:
    from sqlalchemy import select

    with uow() as unit:
        return [
            {"last_error": row.last_error}
            for row in unit.session.scalars(
                select(DeliveryRow).where(DeliveryRow.last_error.isnot(None))
            )
        ]


def test_a_delivery_is_dead_after_n_attempts_and_retry_sends_it_again(
    uow: UnitOfWorkFactory, service: NotifyService
) -> None:
    with notify_receiver() as receiver:
        add_webhook(service, receiver.url)
        receiver.mode = "fail"
        events = append_events(uow, 3)
        worker = make_worker(uow, max_attempts=3)
        worker.start()
        try:
            wait_for(lambda: states(uow) == {"dead": 3}, timeout=30)
            assert len(receiver.received) == 9  # 3 events x 3 attempts, then no more
            dead = service.status(ADMIN, dead_only=True)["dead"]
            assert {d["event_id"] for d in dead} == {event.id for event in events}
            assert all(d["attempts"] == 3 and d["last_status"] == 500 for d in dead)
            assert all(d["last_error"] == "HTTP 500: receiver failing" for d in dead)
            receiver.mode = "ok"
            assert service.retry(ADMIN, all_dead=True) == 3
            wait_for(lambda: states(uow) == {"delivered": 3}, timeout=30)
        finally:
            worker.stop()
        assert set(receiver.accepted_ids()) == {event.id for event in events}


def test_a_worker_stopped_mid_delivery_loses_nothing_and_the_next_one_delivers(
    uow: UnitOfWorkFactory, service: NotifyService
) -> None:
    with notify_receiver() as receiver:
        add_webhook(service, receiver.url)
        events = append_events(uow, 6)
        # a worker that claimed and then died: its claims are never finished
        crashed = make_worker(uow)
        crashed.fan_out()
        claimed = crashed.claim(limit=6)
        assert len(claimed) == 6
        assert states(uow) == {"delivering": 6}
        # a worker stopped while its send hangs at the receiver
        receiver.hang_seconds = 0.4
        receiver.mode = "hang"
        successor = make_worker(uow, threads=1)
        successor.start()
        try:
            # the crashed claims come back only after their lease ran out
            wait_for(lambda: len(receiver.received) >= 1, timeout=30)
            successor.stop()
            receiver.mode = "ok"
            replacement = make_worker(uow)
            replacement.start()
            try:
                wait_for(lambda: len(receiver.accepted_ids()) == 6, timeout=60)
                wait_for(lambda: states(uow) == {"delivered": 6}, timeout=30)
            finally:
                replacement.stop()
        finally:
            successor.stop()
        assert set(receiver.accepted_ids()) == {event.id for event in events}


def test_a_worker_whose_lease_ran_out_cannot_overwrite_the_next_attempt(
    uow: UnitOfWorkFactory, service: NotifyService
) -> None:
    from relgate.notify.delivery import SendResult

    with notify_receiver() as receiver:
        add_webhook(service, receiver.url)
        append_events(uow, 1)
        late = make_worker(uow)
        late.fan_out()
        [stale] = late.claim()
        wait_for(lambda: bool(make_worker(uow).claim()), timeout=30)  # lease expired: reclaimed
        assert late.record([(stale, SendResult(False, 500, "late failure"))]) == 0
        with uow() as unit:
            from sqlalchemy import select

            row = unit.session.scalars(select(DeliveryRow)).one()
            assert (row.state, row.attempts, row.last_error) == ("delivering", 2, None)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_workers_on_postgresql_never_deliver_one_attempt_at_once(
    uow: UnitOfWorkFactory, service: NotifyService
) -> None:
    with notify_receiver() as receiver:
        add_webhook(service, receiver.url)
        receiver.delay_seconds = 0.01  # slow enough that the six threads overlap in time
        events = append_events(uow, 300)
        first = make_worker(uow, lease_seconds=30, threads=3)
        second = make_worker(uow, lease_seconds=30, threads=3)
        first.start()
        second.start()
        try:
            wait_for(lambda: len(receiver.accepted_ids()) == 300, timeout=120)
            wait_for(lambda: states(uow) == {"delivered": 300}, timeout=30)
        finally:
            first.stop()
            second.stop()
        assert first.sent > 0 and second.sent > 0  # both replicas took part
        assert receiver.overlaps == 0
        # no lease expired (30 s), so every event was sent exactly once
        sent = [item.event_id for item in receiver.received]
        assert len(sent) == len(set(sent)) == 300
        assert set(sent) == {event.id for event in events}


def test_a_slack_subscriber_gets_the_rollback_message_unsigned(
    uow: UnitOfWorkFactory, service: NotifyService
) -> None:
    with notify_receiver() as receiver:
        service.add(ADMIN, SubscriberSpec(name="chat", kind=SubscriberKind.SLACK, url=receiver.url))
        [event] = append_events(uow, 1)
        with uow() as unit:
            from sqlalchemy import update

            from relgate.store.tables import OutboxRow

            unit.session.execute(
                update(OutboxRow).values(
                    data={
                        "kind": "rollback",
                        "deployment_id": 0,
                        "version": "1.0.0",
                        "previous_version": "1.1.0",
                    }
                )
            )
            unit.commit()
        worker = make_worker(uow)
        worker.start()
        try:
            wait_for(lambda: len(receiver.accepted()) == 1, timeout=30)
        finally:
            worker.stop()
        [item] = receiver.accepted()
        message = json.loads(item.body)
        assert message["blocks"][0]["text"]["text"] == "Rollback: payments in production"
        assert message["blocks"][-1]["elements"][0]["url"] == (
            "http://relgate.test/api/v1/deployments/0"
        )
        assert item.headers["relgate-event-id"] == event.id
        assert "relgate-signature" not in item.headers


def test_a_receiver_that_is_down_gets_everything_when_it_comes_back(
    uow: UnitOfWorkFactory, service: NotifyService
) -> None:
    with notify_receiver() as receiver:
        add_webhook(service, receiver.url)
        receiver.stop()  # the port is closed: connections are refused
        events = append_events(uow, 8)
        worker = make_worker(uow)
        worker.start()
        try:
            wait_for(
                lambda: any(
                    "ConnectError" in str(row["last_error"]) for row in _pending_errors(uow)
                ),
                timeout=30,
            )
            assert receiver.accepted() == []
            receiver.start()  # the same port again
            wait_for(lambda: states(uow) == {"delivered": 8}, timeout=60)
        finally:
            worker.stop()
        assert set(receiver.accepted_ids()) == {event.id for event in events}
