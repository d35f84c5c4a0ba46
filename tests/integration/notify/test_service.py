"""The notify use cases on SQLite and PostgreSQL: who may do what, audit, secrets never shown."""

from __future__ import annotations

import json

import pytest

from relgate.audit import store as audit
from relgate.auth.model import Principal, Role
from relgate.errors import BadInput, Conflict, Forbidden, NotFound
from relgate.notify.service import NotifyService
from relgate.notify.subscribers import Filters, SubscriberKind, SubscriberSpec
from relgate.store.uow import UnitOfWorkFactory
from tests.integration.notify.conftest import ADMIN, append_events, make_worker

CI = Principal("ci-bot", Role.CI)
PAYMENTS_ADMIN = Principal("pay-admin", Role.ADMIN, services=frozenset({"payments"}))


def webhook(name: str = "ops", **filters: object) -> SubscriberSpec:
    return SubscriberSpec(
        name=name,
        kind=SubscriberKind.WEBHOOK,
        url="http://127.0.0.1:9/hook?token=abc",
        secret="very-secret-key",
        filters=Filters(**filters),  # type: ignore[arg-type]
    )


def test_an_admin_adds_a_subscriber_whose_secret_is_never_shown(
    service: NotifyService, uow: UnitOfWorkFactory
) -> None:
    view = service.add(ADMIN, webhook())
    listed = service.list_subscribers(CI)
    assert view["secret"] == "set"
    assert view["url"] == "http://127.0.0.1:9/hook?…"
    assert [item["name"] for item in listed] == ["ops"]
    assert "very-secret-key" not in json.dumps(listed)
    assert "abc" not in json.dumps(listed)
    with uow() as unit:
        [event] = audit.events(unit, subject="subscriber/ops")
    assert (event.action, event.actor) == ("notify.subscriber.added", "admin")
    assert "very-secret-key" not in json.dumps(event.after)


def test_only_admins_manage_subscribers_and_only_within_their_scope(
    service: NotifyService,
) -> None:
    with pytest.raises(Forbidden, match="manage notification subscribers needs the role admin"):
        service.add(CI, webhook())
    with pytest.raises(Forbidden, match="scoped to services payments"):
        service.add(PAYMENTS_ADMIN, webhook())  # would hear every service
    service.add(PAYMENTS_ADMIN, webhook("pay", services=("payments",)))
    service.add(ADMIN, webhook("all"))
    assert [s["name"] for s in service.list_subscribers(PAYMENTS_ADMIN)] == ["pay"]
    with pytest.raises(Forbidden):
        service.remove(PAYMENTS_ADMIN, "all")
    with pytest.raises(Forbidden):
        service.retry(CI, all_dead=True)


def test_bad_subscribers_are_refused_naming_the_field(service: NotifyService) -> None:
    with pytest.raises(BadInput, match=r"^url 'ftp://x/'"):
        service.add(ADMIN, SubscriberSpec("ops", SubscriberKind.WEBHOOK, "ftp://x/", secret="k"))
    with pytest.raises(BadInput, match="a webhook subscriber is signed"):
        service.add(ADMIN, SubscriberSpec("ops", SubscriberKind.WEBHOOK, "https://x.example/"))
    service.add(ADMIN, webhook())
    with pytest.raises(Conflict, match="subscriber 'ops' exists"):
        service.add(ADMIN, webhook())
    with pytest.raises(NotFound, match=r"no subscriber 'nope' \(there are: ops\)"):
        service.remove(ADMIN, "nope")
    with pytest.raises(BadInput, match="not both"):
        service.retry(ADMIN)
    with pytest.raises(NotFound, match="no delivery 999"):
        service.retry(ADMIN, delivery_id=999)


def test_removing_a_subscriber_drops_its_deliveries_and_is_audited(
    service: NotifyService, uow: UnitOfWorkFactory
) -> None:
    service.add(ADMIN, webhook())
    append_events(uow, 4)
    make_worker(uow).fan_out()
    assert service.status(ADMIN)["backlog"] == {
        "events_to_fan_out": 0,
        "pending": 4,
        "delivering": 0,
    }
    service.remove(ADMIN, "ops")
    assert service.status(ADMIN)["backlog"]["pending"] == 0
    assert service.list_subscribers(ADMIN) == []
    with uow() as unit:
        actions = [e.action for e in audit.events(unit, subject="subscriber/ops")]
    assert actions == ["notify.subscriber.removed", "notify.subscriber.added"]
