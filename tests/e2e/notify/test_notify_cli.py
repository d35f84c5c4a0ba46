"""relgate notify add/status/retry and GET /metrics against a real `relgate serve`.

Until the services emit domain events themselves, the test writes events into
the server's outbox (its SQLite file) with relgate.notify.outbox.append, as a
service's transaction would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relgate.notify import webhook
from relgate.store.db import make_engine
from relgate.store.uow import UnitOfWorkFactory
from tests.integration.notify.conftest import append_events
from tests.support.cli import run_relgate
from tests.support.notify_receiver import NotifyReceiver, notify_receiver
from tests.support.server import ServerProcess, start_server, wait_for


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    running = start_server(
        tmp_path / "server",
        env={
            "RELGATE_NOTIFY_MAX_ATTEMPTS": "2",
            "RELGATE_NOTIFY_BACKOFF_BASE_SECONDS": "0.05",
            "RELGATE_NOTIFY_BACKOFF_CAP_SECONDS": "0.1",
            "RELGATE_NOTIFY_READ_TIMEOUT_SECONDS": "1",
            "RELGATE_PUBLIC_URL": "https://relgate.example.com",
            "RELGATE_METRICS_TOKEN": "prometheus-scrape",
        },
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def receiver() -> Iterator[NotifyReceiver]:
    with notify_receiver() as running:
        yield running


def cli(server: ServerProcess, *args: str, token: str | None = None) -> tuple[int, str, str]:
    token = token or server.admin_token()
    assert token
    done = run_relgate(
        *args,
        cwd=server.workdir,
        env={"RELGATE_URL": server.url, "RELGATE_TOKEN": token},
    )
    return done.returncode, done.stdout, done.stderr


def outbox(server: ServerProcess) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(make_engine(f"sqlite:///{server.workdir / 'relgate.db'}"))


def status(server: ServerProcess, token: str | None = None) -> dict[str, object]:
    code, out, err = cli(server, "notify", "status", "--json", token=token)
    assert code == 0, err
    answer: dict[str, object] = json.loads(out)
    return answer


def test_notify_add_status_retry_and_metrics_end_to_end(
    server: ServerProcess, receiver: NotifyReceiver
) -> None:
    code, out, err = cli(
        server,
        "notify",
        "add",
        "webhook",
        "ops",
        "--url",
        receiver.url,
        "--secret",
        "e2e-key",
        "--env",
        "production",
    )
    assert code == 0, err
    assert "added webhook subscriber ops: environments production" in out
    code, out, _ = cli(server, "notify", "list", "--json")
    assert json.loads(out)[0]["secret"] == "set"
    assert "e2e-key" not in out

    uow = outbox(server)
    try:
        events = append_events(uow, 3)
        append_events(uow, 2, environment="staging")  # filtered out
        wait_for(lambda: len(receiver.accepted_ids()) == 3, timeout=30)
        assert set(receiver.accepted_ids()) == {event.id for event in events}
        item = receiver.accepted()[0]
        assert webhook.verify(
            "e2e-key", item.headers["relgate-signature"], item.body, now=int(time.time())
        )
        assert json.loads(item.body)["source"] == "https://relgate.example.com"

        receiver.mode = "fail"
        failing = append_events(uow, 2)
        wait_for(lambda: len(status(server)["dead"]) == 2, timeout=30)  # type: ignore[arg-type]
        code, out, _ = cli(server, "notify", "status", "--dead")
        assert code == 0
        assert "HTTP 500: receiver failing" in out
        receiver.mode = "ok"
        code, out, err = cli(server, "notify", "retry", "--all-dead")
        assert (code, out.strip()) == (0, "queued 2 deliveries again"), err
        wait_for(lambda: len(receiver.accepted_ids()) == 5, timeout=30)
        assert {event.id for event in failing} <= set(receiver.accepted_ids())
    finally:
        uow.engine.dispose()

    scrape = httpx.get(
        server.url + "/metrics", headers={"Authorization": "Bearer prometheus-scrape"}
    )
    assert scrape.status_code == 200
    assert 'relgate_outbox_backlog{stage="fan_out"} 0.0' in scrape.text
    assert "relgate_notify_dead_deliveries 0.0" in scrape.text
    assert httpx.get(server.url + "/metrics").status_code == 401


def test_bad_notify_input_exits_2_with_a_message(server: ServerProcess) -> None:
    code, _, err = cli(
        server, "notify", "add", "webhook", "ops", "--url", "ftp://x/", "--secret", "k"
    )
    assert code == 2
    assert "url 'ftp://x/': give an http:// or https:// URL with a host" in err
    code, _, err = cli(server, "notify", "add", "pager", "ops", "--url", "https://x.example/")
    assert (code, err.strip()) == (2, "error: kind 'pager': give slack or webhook")
    code, _, err = cli(server, "notify", "retry")
    assert (code, err.strip()) == (2, "error: give a delivery ID or --all-dead (not both)")
    code, _, err = cli(server, "notify", "remove", "nope")
    assert code == 2
    assert "no subscriber 'nope' (there are none yet)" in err


def test_a_server_killed_mid_delivery_loses_nothing(
    tmp_path: Path, receiver: NotifyReceiver
) -> None:
    settings = {
        "RELGATE_NOTIFY_CONNECT_TIMEOUT_SECONDS": "0.5",
        "RELGATE_NOTIFY_READ_TIMEOUT_SECONDS": "5",
        "RELGATE_NOTIFY_LEASE_SECONDS": "1",  # raised to the longest send: 11.5 s
        "RELGATE_NOTIFY_BACKOFF_BASE_SECONDS": "0.05",
        "RELGATE_NOTIFY_BACKOFF_CAP_SECONDS": "0.1",
    }
    first = start_server(tmp_path / "server", env=settings)
    try:
        code, _, err = cli(
            first, "notify", "add", "webhook", "ops", "--url", receiver.url, "--secret", "k"
        )
        assert code == 0, err
        receiver.hang_seconds = 3
        receiver.mode = "hang"  # the server is killed while its sends wait here
        token = first.admin_token()
        uow = outbox(first)
        try:
            events = append_events(uow, 5)
            wait_for(lambda: len(receiver.received) >= 1, timeout=30)
            first.kill()  # SIGKILL: its claims stay `delivering` until their lease ends
            receiver.mode = "ok"
            second = start_server(tmp_path / "server", env=settings)
            try:
                wait_for(lambda: len(receiver.accepted_ids()) == 5, timeout=90)
                wait_for(
                    lambda: status(second, token)["subscribers"][0]["delivered"] == 5,  # type: ignore[index]
                    timeout=30,
                )
            finally:
                second.stop()
        finally:
            uow.engine.dispose()
    finally:
        first.stop()
    assert set(receiver.accepted_ids()) == {event.id for event in events}
    # the attempts the killed server had in flight were sent again by the next one
    assert any(int(item.attempt) >= 2 for item in receiver.accepted())
