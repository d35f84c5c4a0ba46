"""Notification benchmark: 10,000 events through the outbox to a local webhook receiver.

For each store (a SQLite file, a fresh PostgreSQL database, or both) two runs,
each with a fresh schema, one signed webhook subscriber, and the delivery
worker relgate serve runs (``NotifyWorker``, 2 threads) with the server's
default retry settings (back-off base 2 s, cap 600 s, 10 attempts, 5 s connect
and 10 s read timeouts):

1. **burst**: every event committed at once (transactions of 100), measuring
   how fast the worker drains them: events/s from the first commit to the last
   delivery.
2. **outage**: events committed at a steady rate (``--rate``, transactions of
   10) while the receiver is down (its port closed) for ``--down`` seconds in
   the middle, then back.

Each run prints events/s, the delay from commit to delivery (p50, p95, max),
lost (committed events never accepted by the receiver: must be 0), duplicates
(accepted more than once) and overlaps (one event in flight twice at once).

Run: .venv/bin/python bench/notify.py [--backend sqlite|postgres|both] [--events N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import positive, progress  # noqa: E402
from tests.support.notify_receiver import NotifyReceiver  # noqa: E402

from relgate.auth.model import Principal, Role  # noqa: E402
from relgate.clock import SystemClock  # noqa: E402
from relgate.config import Settings  # noqa: E402
from relgate.notify import outbox  # noqa: E402
from relgate.notify.backoff import Backoff  # noqa: E402
from relgate.notify.delivery import HttpSender  # noqa: E402
from relgate.notify.events import DomainEvent, EventType  # noqa: E402
from relgate.notify.service import NotifyService  # noqa: E402
from relgate.notify.subscribers import SubscriberKind, SubscriberSpec  # noqa: E402
from relgate.notify.worker import NotifyWorker  # noqa: E402
from relgate.store import db  # noqa: E402
from relgate.store.uow import UnitOfWorkFactory  # noqa: E402

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN = Principal("bench", Role.ADMIN)
DRAIN_LIMIT_SECONDS = 1800


@dataclass
class RunResult:
    backend: str
    run: str
    events: int
    seconds: float
    p50: float
    p95: float
    worst: float
    lost: int
    duplicates: int
    overlaps: int
    attempts: int
    # the outage run: p95 delay of the events committed before the receiver went down,
    # and seconds from its return to the last delivery
    p95_before: float | None = None
    catch_up: float | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@contextmanager
def sqlite_store() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="relgate-bench-notify-") as folder:
        url = f"sqlite:///{folder}/relgate.db"
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield url


@contextmanager
def postgres_store(admin_url: str) -> Iterator[str]:
    import uuid

    from sqlalchemy import create_engine, text

    name = f"relgate_bench_notify_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_worker(uow: UnitOfWorkFactory, settings: Settings) -> NotifyWorker:
    """The worker as bootstrap.build wires it, with the server's default settings."""
    return NotifyWorker(
        uow,
        SystemClock(),
        sender=HttpSender(
            connect_timeout=settings.notify_connect_timeout_seconds,
            read_timeout=settings.notify_read_timeout_seconds,
        ),
        backoff=Backoff(settings.notify_backoff_base_seconds, settings.notify_backoff_cap_seconds),
        max_attempts=settings.notify_max_attempts,
        lease_seconds=settings.notify_lease_seconds,
        threads=settings.notify_threads,
        poll_seconds=settings.poll_interval_seconds,
    )


def produce(
    uow: UnitOfWorkFactory, total: int, batch: int, rate: float | None, committed: dict[str, float]
) -> None:
    """Commit ``total`` events in transactions of ``batch`` at ``rate`` events/s (None: at once)."""
    started = time.monotonic()
    made = 0
    while made < total:
        size = min(batch, total - made)
        events = [
            DomainEvent(
                type=EventType.DEPLOYMENT_SUCCEEDED,
                subject=f"deployment/{made + n}",
                time=datetime.now(UTC),
                service="payments",
                environment="production",
                actor="bench",
                data={"deployment_id": made + n, "version": f"1.0.{made + n}", "kind": "promote"},
            )
            for n in range(size)
        ]
        with uow() as unit:
            outbox.append(unit.session, events)
            unit.commit()
        now = time.time()
        for event in events:
            committed[event.id] = now
        made += size
        if rate:
            due = started + made / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)


def one_run(
    backend: str, url: str, name: str, args: argparse.Namespace, *, outage: bool
) -> RunResult:
    settings = Settings(notify_threads=2, poll_interval_seconds=0.5)
    engine = db.make_engine(url)
    uow = UnitOfWorkFactory(engine)
    receiver = NotifyReceiver()
    try:
        NotifyService(uow, SystemClock()).add(
            ADMIN,
            SubscriberSpec(
                name=f"bench-{name}",
                kind=SubscriberKind.WEBHOOK,
                url=receiver.url,
                secret="bench-secret",
            ),
        )
        worker = make_worker(uow, settings)
        committed: dict[str, float] = {}
        worker.start()
        started = time.time()
        down_at = up_at = None
        if outage:
            producer = threading.Thread(
                target=produce, args=(uow, args.events, 10, args.rate, committed)
            )
            producer.start()
            middle = args.events / args.rate / 2
            time.sleep(max(0.0, middle - args.down / 2))
            progress(f"{backend} {name}: receiver down for {args.down} s")
            down_at = time.time()
            receiver.stop()
            time.sleep(args.down)
            receiver.start()
            up_at = time.time()
            progress(f"{backend} {name}: receiver back")
            producer.join()
        else:
            produce(uow, args.events, 100, None, committed)
        progress(f"{backend} {name}: {len(committed)} events committed, draining")
        deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
        while len(receiver.accepted_ids()) < len(committed) and time.monotonic() < deadline:
            time.sleep(0.2)
        worker.stop()
        accepted = receiver.accepted()
        first: dict[str, float] = {}
        for item in accepted:
            first.setdefault(item.event_id, item.at)
        delays = sorted(first[event_id] - committed[event_id] for event_id in first)
        last = max(first.values()) if first else started
        counts = receiver.accepted_ids()
        before = sorted(
            first[event_id] - committed[event_id]
            for event_id in first
            if down_at is not None and committed[event_id] < down_at
        )
        return RunResult(
            p95_before=before[int(0.95 * (len(before) - 1))] if before else None,
            catch_up=last - up_at if up_at is not None else None,
            backend=backend,
            run=name,
            events=len(committed),
            seconds=last - started,
            p50=statistics.median(delays) if delays else 0.0,
            p95=delays[int(0.95 * (len(delays) - 1))] if delays else 0.0,
            worst=delays[-1] if delays else 0.0,
            lost=len(set(committed) - set(first)),
            duplicates=sum(count - 1 for count in counts.values()),
            overlaps=receiver.overlaps,
            attempts=len(receiver.received),
        )
    finally:
        receiver.stop()
        engine.dispose()


def print_markdown(results: Sequence[RunResult], args: argparse.Namespace) -> None:
    print()
    print(
        f"{args.events} events a run; outage run at {args.rate:g} events/s with the receiver "
        f"down {args.down:g} s in the middle"
    )
    print()
    print(
        "| store | run | events | events/s | p50 delay s | p95 delay s | max delay s "
        "| p95 before the outage s | catch-up s | lost | duplicates | overlaps | POSTs |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        before = f"{r.p95_before:.3f}" if r.p95_before is not None else "-"
        catch_up = f"{r.catch_up:.1f}" if r.catch_up is not None else "-"
        print(
            f"| {r.backend} | {r.run} | {r.events} | {r.rate:.0f} | {r.p50:.3f} | {r.p95:.3f} "
            f"| {r.worst:.3f} | {before} | {catch_up} | {r.lost} | {r.duplicates} "
            f"| {r.overlaps} | {r.attempts} |"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=positive, default=10_000)
    parser.add_argument("--rate", type=float, default=150.0, help="events/s of the outage run")
    parser.add_argument("--down", type=float, default=30.0, help="seconds the receiver is down")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: list[RunResult] = []
    for backend in backends:
        for name, outage in (("burst", False), ("outage", True)):
            store = sqlite_store() if backend == "sqlite" else postgres_store(args.pg_url)
            with store as url:
                progress(f"{backend} {name}: start")
                result = one_run(backend, url, name, args, outage=outage)
            results.append(result)
            progress(
                f"{backend} {name}: {result.rate:.0f} events/s, p95 {result.p95:.3f} s, "
                f"lost {result.lost}, duplicates {result.duplicates}"
            )
    print_markdown(results, args)
    return 1 if any(r.lost for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
