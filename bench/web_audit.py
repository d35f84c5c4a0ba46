"""The audit page's queries on a long trail: a filtered page, and verifying the chain.

Builds a trail of ``--events`` events (default 100,000) on SQLite and on
PostgreSQL (127.0.0.1:5432, a fresh database), shaped like relgate's: flag
changes in four environments, deployments of 200 services (``deployment/ID``
subjects, the service only in the deployments table), releases, pipelines.
Then it times ``AuditTrail.events`` (one page of 50, newest first) with no
filter, by actor, by action, by service, by environment, by a filter nothing
matches (the whole trail is read), and ``AuditTrail.status`` (the whole chain
verified, as the page does on every load). Prints p50/max of ``--runs`` runs.

    .venv/bin/python bench/web_audit.py [--events 100000] [--runs 5] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from relgate.audit import store as audit_store
from relgate.audit.chain import GENESIS, event_hash
from relgate.audit.checkpointer import Checkpointer
from relgate.audit.keys import load_or_create
from relgate.audit.reading import AuditFilter, AuditTrail
from relgate.auth.model import Principal, Role
from relgate.clock import SystemClock
from relgate.store import db
from relgate.store.tables import AuditRow, DeploymentRow, ReleaseRow, ServiceRow
from relgate.store.uow import UnitOfWorkFactory

ADMIN = Principal("bench", Role.ADMIN)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ENVIRONMENTS = ("dev", "staging", "production", "edge")
SERVICES = 200


def build(url: str, events: int) -> None:
    engine = db.make_engine(url)
    db.upgrade(engine)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(ServiceRow),
            [{"id": i + 1, "name": f"svc-{i}", "created_at": start} for i in range(SERVICES)],
        )
        conn.execute(
            insert(ReleaseRow),
            [
                {
                    "id": i + 1,
                    "service_id": i + 1,
                    "version": "1.0.0",
                    "artifact": "r/a@sha256:" + "a" * 64,
                    "digest": "sha256:" + "a" * 64,
                    "created_by": "ci",
                    "created_at": start,
                }
                for i in range(SERVICES)
            ],
        )
        deployments = events // 4
        conn.execute(
            insert(DeploymentRow),
            [
                {
                    "id": i + 1,
                    "service_id": i % SERVICES + 1,
                    "environment": ENVIRONMENTS[i % 3],
                    "release_id": i % SERVICES + 1,
                    "pipeline_revision": 1,
                    "kind": "promotion",
                    "state": "succeeded",
                    "requested_by": "ci",
                    "gate_results": [],
                    "created_at": start,
                    "updated_at": start,
                }
                for i in range(deployments)
            ],
        )
        prev = GENESIS
        batch: list[dict[str, Any]] = []
        for seq in range(1, events + 1):
            at = start + timedelta(seconds=seq)
            kind = seq % 4
            env = ENVIRONMENTS[seq % 4]
            if kind == 0:
                actor, action, subject = "ci", "flag.enabled", f"flag/f-{seq % 500}"
                before: Any = {"environment": env, "enabled": False, "strategies": []}
                after: Any = {"environment": env, "enabled": True, "strategies": []}
            elif kind == 1:
                actor, action = "relgate", "deployment.verifying"
                subject = f"deployment/{seq % deployments + 1}"
                before, after = {"state": "deploying"}, {"state": "verifying"}
            elif kind == 2:
                actor, action = "ci", "release.created"
                subject = f"release/svc-{seq % SERVICES}@1.{seq}.0"
                before, after = None, {"artifact": "r/a@sha256:" + "b" * 64}
            else:
                actor, action, subject = "ops", "flag.killed", f"flag/f-{seq % 500}"
                before = {"enabled": {e: True for e in ENVIRONMENTS}}
                after = {"enabled": {e: False for e in ENVIRONMENTS}, "reason": "bench"}
            digest = event_hash(prev, seq, actor, action, subject, before, after, at)
            batch.append(
                {
                    "seq": seq,
                    "actor": actor,
                    "action": action,
                    "subject": subject,
                    "before": before,
                    "after": after,
                    "at": at,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
            if len(batch) == 5000:
                conn.execute(insert(AuditRow), batch)
                batch = []
        if batch:
            conn.execute(insert(AuditRow), batch)
    engine.dispose()


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), max(samples)


def measure(name: str, url: str, events: int, runs: int, key_dir: Path) -> None:
    build(url, events)
    engine = db.make_engine(url)
    uow = UnitOfWorkFactory(engine)
    clock = SystemClock()
    trail = AuditTrail(uow, Checkpointer(uow, clock, load_or_create(key_dir / "k"), []), clock)
    cases: list[tuple[str, AuditFilter]] = [
        ("no filter", AuditFilter()),
        ("actor=ops", AuditFilter(actor="ops")),
        ("action=release.created", AuditFilter(action="release.created")),
        ("service=svc-5 (its deployments)", AuditFilter(service="svc-5")),
        ("service=svc-6 (its releases)", AuditFilter(service="svc-6")),
        ("environment=production", AuditFilter(environment="production")),
        ("environment=edge (kills, flag changes)", AuditFilter(environment="edge")),
        ("service=none (reads the whole trail)", AuditFilter(service="none")),
        ("environment=none (reads the whole trail)", AuditFilter(environment="none")),
    ]
    print(f"\n{name}: {events:,} events; one page of 50, ms (p50 / max of {runs})")
    for label, wanted in cases:
        p50, worst = timed(lambda w=wanted: trail.events(ADMIN, w), runs)  # type: ignore[misc]
        shown = len(trail.events(ADMIN, wanted).events)
        print(f"  {label:45s} {p50:9.1f} / {worst:9.1f}   ({shown} shown)")
    p50, worst = timed(lambda: trail.status(ADMIN, full=True), max(1, runs // 2))
    print(f"  {'status: the whole chain verified':45s} {p50:9.1f} / {worst:9.1f}")

    def one_more() -> None:
        with uow() as unit:
            audit_store.append(
                unit, actor="ci", action="flag.enabled", subject="flag/x", at=clock.now()
            )
            unit.commit()
        trail.status(ADMIN)

    p50, worst = timed(one_more, runs)
    print(f"  {'status: one event appended since (+ append)':45s} {p50:9.1f} / {worst:9.1f}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        measure("SQLite", f"sqlite:///{base / 'bench.db'}", args.events, args.runs, base)
        if args.sqlite_only:
            return
        name = f"relgate_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            measure(
                "PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + "/" + name, args.events, args.runs, base
            )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
