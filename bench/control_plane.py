"""Control-plane benchmark: a real `relgate serve` over a store of production size.

Fills a fresh store (SQLite file, PostgreSQL database, or both) with bulk
inserts: services, their pipeline revisions, environments, releases and a
history of succeeded deployments with their jobs, approvals and a valid audit
chain. Then starts `relgate serve` on it and times, over HTTP with one
keep-alive client and sequential requests:

- GET /api/v1/status (every service and environment), and for one service;
- GET /api/v1/services/<svc>/history?environment=production;
- the promotion overhead: from just before POST /api/v1/deployments to the
  first action of the deployer, a command that writes `date +%s.%N` to a file;
  and the POST's own latency.

Run: .venv/bin/python bench/control_plane.py [--backend sqlite|postgres|both] [--baseline REV]

With ``--baseline REV`` the same measures run first on relgate as it was at the
git revision REV (its ``src/`` exported to bench/.work and put first on
PYTHONPATH, so the server and the in-process calls are that revision's code),
then on the working tree, in the same run, and the promotion overhead is shown
before and after side by side.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# tests.support.server starts `relgate serve` exactly as the integration tests do
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from bench.common import export_baseline, positive, progress  # noqa: E402
from sqlalchemy import Engine, create_engine, insert, text  # noqa: E402
from tests.support.server import ServerProcess, start_server  # noqa: E402

from relgate.audit.chain import GENESIS, event_hash  # noqa: E402
from relgate.auth.model import Principal, Role  # noqa: E402
from relgate.bootstrap import build  # noqa: E402
from relgate.config import Settings  # noqa: E402
from relgate.errors import RelgateError  # noqa: E402
from relgate.manifest.pipeline import parse_pipeline  # noqa: E402
from relgate.store import db  # noqa: E402
from relgate.store.tables import Base  # noqa: E402

WORK = ROOT / "bench" / ".work" / "control_plane"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BATCH = 5000
WARMUP = 20
STATUS_P95_TARGET_MS = 50.0
PROMOTION_P95_TARGET_MS = 100.0
BENCH_SERVICE = "svc-0000"
HISTORY_SERVICE_INDEX = 500


class BenchError(Exception):
    """A failure the script reports in one line (exit 2), not as a traceback."""


# ---------------------------------------------------------------------- figures


@dataclass
class Metric:
    name: str
    samples_ms: list[float]
    target_ms: float | None = None  # a p95 target

    def percentile(self, p: int) -> float:
        if len(self.samples_ms) == 1:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=100, method="inclusive")[p - 1]

    def verdict(self) -> str:
        if self.target_ms is None:
            return ""
        return "MET" if self.percentile(95) < self.target_ms else "MISSED"


@dataclass
class BackendResult:
    backend: str
    fill_seconds: float
    rows: dict[str, int]
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- the data


def env_names(count: int) -> list[str]:
    """Return ``count`` environment names in pipeline order, ending with production."""
    middle = ["dev", "staging", "canary"] + [f"stage-{n}" for n in range(4, count + 1)]
    return [*middle[: count - 1], "production"]


def bench_env(names: Sequence[str]) -> str:
    """The environment the promotion overhead is measured in: the one before production."""
    return names[-2] if len(names) > 1 else names[0]


def pipeline_yaml(service: str, names: Sequence[str], deploy_command: str | None) -> str:
    """A relgate.yaml; with ``deploy_command``, the bench environment has it and no gates."""
    lines = [f"service: {service}", "environments:"]
    for position, name in enumerate(names):
        lines.append(f"  - name: {name}")
        if deploy_command is not None and name == bench_env(names):
            if position == len(names) - 1:
                # a lone environment is the last one: protected unless it says not
                lines.append("    protected: false")
            lines += [
                "    deployer:",
                "      type: command",
                f"      command: {_yaml_quote(deploy_command)}",
            ]
            continue
        if _RECORD_TYPE:
            lines.append("    deployer: {type: record}")
        gates = []
        if position > 0:
            gates.append("verified_in")
        if name == "production":
            gates.append("approval")
        if gates:
            lines.append("    gates:")
            lines += [f"      - type: {gate}" for gate in gates]
    return "\n".join(lines) + "\n"


def _has_record_type() -> bool:
    # a --baseline revision from before `deployer: {type: record}` knows no such type
    import relgate.deploy.config as config

    return hasattr(config, "RecordDeployerSpec")


_RECORD_TYPE = _has_record_type()


def _yaml_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def release_version(index: int) -> str:
    return f"1.{index // 10}.{index % 10}"


def promotion_version(index: int) -> str:
    return f"2.0.{index}"


@dataclass
class Fill:
    """The rows to insert, built in memory first so the database time is the inserts only."""

    tables: dict[str, list[dict[str, Any]]]

    def count(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


def build_fill(
    *, services: int, envs: int, releases: int, promotions: int, stamp_file: Path, seed: int = 7
) -> Fill:
    """Build every row of the store in memory, with explicit ids for the references."""
    rng = random.Random(seed)
    names = env_names(envs)
    deploy_command = (
        f'echo "$RELGATE_DEPLOYMENT_ID $(date +%s.%N)" >> {shlex.quote(str(stamp_file))}'
    )
    start = datetime.now(UTC) - timedelta(days=365)
    # parse each pipeline once: the spec of every regular service is the same
    regular_spec = parse_pipeline(
        pipeline_yaml("svc-x", names, None), "relgate.yaml"
    ).pipeline.model_dump(mode="json")
    bench_source = pipeline_yaml(BENCH_SERVICE, names, deploy_command)
    bench_spec = parse_pipeline(bench_source, "relgate.yaml").pipeline.model_dump(mode="json")

    tables: dict[str, list[dict[str, Any]]] = {
        name: []
        for name in (
            "services",
            "pipelines",
            "releases",
            "environments",
            "deployments",
            "approvals",
            "jobs",
            "audit_events",
        )
    }
    audit: list[dict[str, Any]] = tables["audit_events"]

    def add_audit(
        actor: str, action: str, subject: str, at: datetime, after: dict[str, Any]
    ) -> None:
        seq = len(audit) + 1
        prev = audit[-1]["hash"] if audit else GENESIS
        audit.append(
            {
                "id": seq,
                "seq": seq,
                "actor": actor,
                "action": action,
                "subject": subject,
                "before": None,
                "after": after,
                "at": at,
                "prev_hash": prev,
                "hash": event_hash(prev, seq, actor, action, subject, None, after, at),
            }
        )

    per_service = [
        releases // services + (1 if n < releases % services else 0) for n in range(services)
    ]
    release_id = 0
    env_id = 0
    deployment_id = 0
    for index in range(services):
        service_id = index + 1
        name = f"svc-{index:04d}"
        created = start + timedelta(minutes=index)
        is_bench = name == BENCH_SERVICE
        source = bench_source if is_bench else pipeline_yaml(name, names, None)
        spec = bench_spec if is_bench else regular_spec
        tables["services"].append({"id": service_id, "name": name, "created_at": created})
        tables["pipelines"].append(
            {
                "id": service_id,
                "service_id": service_id,
                "revision": 1,
                "spec": spec,
                "source": source,
                "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
                "applied_by": "ci",
                "applied_at": created,
            }
        )
        add_audit("ci", "pipeline.applied", f"service/{name}", created, {"revision": 1})
        ids: list[int] = []
        versions = [release_version(n) for n in range(per_service[index])]
        if is_bench:
            versions += [promotion_version(n) for n in range(promotions)]
        for number, version in enumerate(versions):
            release_id += 1
            ids.append(release_id)
            digest = "sha256:" + hashlib.sha256(f"{name}@{version}".encode()).hexdigest()
            tables["releases"].append(
                {
                    "id": release_id,
                    "service_id": service_id,
                    "version": version,
                    "artifact": f"registry.example.com/{name}@{digest}",
                    "digest": digest,
                    "commit_sha": hashlib.sha1(f"{name}{version}".encode()).hexdigest(),
                    "changelog": f"## {version}\n\n- fix: a change\n",
                    "author": f"dev-{rng.randrange(50)}",
                    "created_by": "ci",
                    "created_at": created + timedelta(hours=2 * number + 1),
                }
            )
        history_len = per_service[index]
        for position, env in enumerate(names):
            env_id += 1
            count = rng.randint(3, 5)
            # later environments lag behind: production runs older releases than dev
            top = max(0, history_len - 1 - 3 * position)
            chosen = [max(0, top - 2 * (count - 1 - n)) for n in range(count)]
            previous: int | None = None
            previous_version: str | None = None
            last: int | None = None
            for release_index in chosen:
                deployment_id += 1
                at = created + timedelta(hours=2 * release_index + 2 + position)
                gates = []
                if position > 0:
                    gates.append(
                        {"gate": "verified_in", "status": "pass", "reason": "verified before"}
                    )
                if env == "production":
                    gates.append({"gate": "approval", "status": "pass", "reason": "1 of 1"})
                    tables["approvals"].append(
                        {
                            "release_id": ids[release_index],
                            "environment": env,
                            "deployment_id": deployment_id,
                            "approver": f"lead-{rng.randrange(10)}",
                            "decision": "approved",
                            "comment": "ok",
                            "created_at": at,
                        }
                    )
                tables["deployments"].append(
                    {
                        "id": deployment_id,
                        "service_id": service_id,
                        "environment": env,
                        "release_id": ids[release_index],
                        "version": versions[release_index],
                        "previous_release_id": previous,
                        "pipeline_revision": 1,
                        "kind": "promote",
                        "state": "succeeded",
                        "replaces_deployment_id": None,
                        "requested_by": "ci",
                        "reason": "",
                        "outcome": "verified: recorded only (deployer: record)",
                        "gate_results": gates,
                        "log": "recorded only: the deployment deployed nothing\n",
                        "created_at": at,
                        "updated_at": at + timedelta(seconds=3),
                        "started_at": at + timedelta(seconds=1),
                        "finished_at": at + timedelta(seconds=3),
                        "verified_at": at + timedelta(seconds=3),
                    }
                )
                tables["jobs"].append(
                    {
                        "kind": "deploy",
                        "deployment_id": deployment_id,
                        "state": "done",
                        "claimed_by": "worker-bench",
                        "heartbeat_at": at + timedelta(seconds=2),
                        "created_at": at,
                        "finished_at": at + timedelta(seconds=3),
                    }
                )
                add_audit(
                    "relgate",
                    "deployment.succeeded",
                    f"deployment/{deployment_id}",
                    at + timedelta(seconds=3),
                    {"service": name, "environment": env, "state": "succeeded"},
                )
                previous = ids[release_index]
                previous_version = versions[release_index]
                last = deployment_id
            tables["environments"].append(
                {
                    "id": env_id,
                    "service_id": service_id,
                    "name": env,
                    "position": position,
                    "active": True,
                    "holder_deployment_id": None,
                    "last_deployment_id": last,
                    "current_release_id": previous,
                    "current_version": previous_version,
                    "stable_release_id": previous,
                    "stable_version": previous_version,
                    "stable_deployment_id": last,
                    "pinned_release_id": None,
                    "pinned_version": None,
                    "pinned_reason": None,
                }
            )
    return Fill(tables)


def load_and_count(engine: Engine, fill: Fill, label: str) -> tuple[float, dict[str, int]]:
    """Load ``fill``, check the store holds exactly its rows; return the seconds and the counts.

    Disposes of ``engine``; raises BenchError when the counts differ from those built.
    """
    progress(f"{label}: inserting {sum(fill.count().values()):,} rows")
    began = time.perf_counter()
    load_fill(engine, fill)
    seconds = time.perf_counter() - began
    with engine.connect() as conn:
        counted = {
            name: int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in fill.tables
        }
    engine.dispose()
    if counted != fill.count():
        raise BenchError(f"{label}: rows in the store {counted} differ from those built")
    progress(f"{label}: filled in {seconds:.1f} s: {counted}")
    return seconds, counted


def load_fill(engine: Engine, fill: Fill) -> None:
    """Insert every row with executemany in batches, in one transaction, in FK order."""
    with engine.begin() as conn:
        # build_fill's tables come in foreign-key order
        for name, rows in fill.tables.items():
            table = Base.metadata.tables[name]
            for offset in range(0, len(rows), BATCH):
                conn.execute(insert(table), rows[offset : offset + BATCH])
        if engine.dialect.name == "postgresql":
            # explicit ids were inserted: move each serial sequence past them
            for name in fill.tables:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {name}))"
                    )
                )
    if engine.dialect.name == "postgresql":
        # autovacuum analyses a bulk-loaded table within a minute; do it now so the
        # plans are those a running server would get (relgate never ANALYZEs SQLite)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


# ---------------------------------------------------------------------- stores


@contextmanager
def sqlite_store(keep: bool) -> Iterator[str]:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"relgate-{uuid.uuid4().hex[:8]}.db"
    try:
        yield f"sqlite:///{path}"
    finally:
        if not keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            progress(f"kept {path}")


@contextmanager
def postgres_store(keep: bool, admin_url: str) -> Iterator[str]:
    name = f"relgate_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(db.normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        raise BenchError(
            f"PostgreSQL at {admin_url} is not usable: {getattr(exc, 'orig', exc)}"
        ) from None
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            progress(f"kept PostgreSQL database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


# ---------------------------------------------------------------------- measuring


def time_requests(
    client: httpx.Client,
    method: str,
    path: str,
    samples: int,
    check: Callable[[httpx.Response], None],
) -> list[float]:
    """Send ``WARMUP`` then ``samples`` sequential requests; return the timed ones in ms."""
    times: list[float] = []
    for n in range(WARMUP + samples):
        began = time.perf_counter()
        response = client.request(method, path)
        elapsed = (time.perf_counter() - began) * 1000
        if n == 0:
            check(response)
        elif response.status_code != 200:
            raise BenchError(f"{method} {path} answered {response.status_code}: {response.text}")
        if n >= WARMUP:
            times.append(elapsed)
    return times


def time_after_changes(client: httpx.Client, path: str, samples: int, change: str) -> list[float]:
    """Time ``GET path`` right after a change of state (``POST change``), so no cache helps."""
    times: list[float] = []
    for n in range(WARMUP + samples):
        changed = client.post(change)
        if changed.status_code != 200:
            raise BenchError(f"POST {change} answered {changed.status_code}: {changed.text}")
        began = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise BenchError(f"GET {path} answered {response.status_code}: {response.text}")
        if n >= WARMUP:
            times.append(elapsed)
    return times


def expect(status: int, length: int | None = None) -> Callable[[httpx.Response], None]:
    def check(response: httpx.Response) -> None:
        if response.status_code != status:
            raise BenchError(
                f"{response.request.url} answered {response.status_code}: {response.text[:500]}"
            )
        if length is not None and len(response.json()) != length:
            raise BenchError(
                f"{response.request.url} returned {len(response.json())} rows, expected {length}"
            )

    return check


def stamp_of(stamp_file: Path, deployment_id: int) -> float | None:
    """The deployer's timestamp for ``deployment_id``, once it wrote it."""
    try:
        content = stamp_file.read_text()
    except FileNotFoundError:
        return None
    for line in content.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == str(deployment_id):
            return float(parts[1])
    return None


@dataclass
class PromotionTimes:
    overhead_ms: list[float] = field(default_factory=list)  # POST sent -> deployer's first action
    claimed_ms: list[float] = field(default_factory=list)  # POST sent -> deployment's started_at
    post_ms: list[float] = field(default_factory=list)  # the POST request alone


def measure_promotions(
    client: httpx.Client, stamp_file: Path, environment: str, samples: int
) -> PromotionTimes:
    """Promote new releases one at a time, each after the previous one succeeded."""
    times = PromotionTimes()
    for n in range(WARMUP + samples):
        body = {
            "service": BENCH_SERVICE,
            "version": promotion_version(n),
            "environment": environment,
        }
        # wall clock, to compare with the deployer's `date` and the server's started_at
        sent = time.time()
        began = time.perf_counter()
        response = client.post("/api/v1/deployments", json=body)
        post_ms = (time.perf_counter() - began) * 1000
        if response.status_code != 201:
            raise BenchError(
                f"POST /api/v1/deployments answered {response.status_code}: {response.text}"
            )
        deployment_id = int(response.json()["id"])
        deadline = time.monotonic() + 30
        stamp = stamp_of(stamp_file, deployment_id)
        while stamp is None:
            if time.monotonic() > deadline:
                raise BenchError(f"the deployer of deployment {deployment_id} never started")
            time.sleep(0.002)
            stamp = stamp_of(stamp_file, deployment_id)
        deployment: dict[str, Any] = {"state": ""}
        while deployment["state"] != "succeeded":
            if time.monotonic() > deadline:
                raise BenchError(
                    f"deployment {deployment_id} did not succeed (state {deployment['state']!r})"
                )
            time.sleep(0.01)
            deployment = client.get(f"/api/v1/deployments/{deployment_id}").json()
            if deployment["state"] in ("failed", "cancelled", "rejected"):
                log = client.get(f"/api/v1/deployments/{deployment_id}/log").text
                raise BenchError(f"deployment {deployment_id} {deployment['state']}:\n{log}")
        if n >= WARMUP:
            started = datetime.fromisoformat(deployment["started_at"]).timestamp()
            times.overhead_ms.append((stamp - sent) * 1000)
            times.claimed_ms.append((started - sent) * 1000)
            times.post_ms.append(post_ms)
    return times


def time_in_process(call: Callable[[], object], samples: int) -> list[float]:
    """Time ``call()`` in this process: the service layer without HTTP or JSON."""
    times = []
    for n in range(5 + samples):
        began = time.perf_counter()
        call()
        if n >= 5:
            times.append((time.perf_counter() - began) * 1000)
    return times


def run_backend(backend: str, url: str, args: argparse.Namespace) -> BackendResult:
    workdir = WORK / f"serve-{backend}-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True, exist_ok=True)
    stamp_file = workdir / "deployer-started.txt"
    names = env_names(args.envs)

    progress(f"{backend}: creating the schema")
    engine = db.make_engine(url)
    db.upgrade(engine)
    progress(f"{backend}: building {args.services} services, {args.releases} releases in memory")
    fill = build_fill(
        services=args.services,
        envs=args.envs,
        releases=args.releases,
        promotions=WARMUP + args.promotions,
        stamp_file=stamp_file,
    )
    fill_seconds, counted = load_and_count(engine, fill, backend)
    result = BackendResult(backend, fill_seconds, counted)
    import relgate

    result.notes.append(f"relgate code from {Path(relgate.__file__).resolve().parent}")
    # 160k row dicts would make every garbage collection of this process slow,
    # and the in-process timings below run here
    del fill
    gc.collect()

    services = build(Settings(database_url=url))
    _, token = services.tokens.create("bench-ci", "ci", actor="bench")
    principal = Principal("bench-ci", Role.CI)
    history_service = f"svc-{min(HISTORY_SERVICE_INDEX, args.services - 1):04d}"

    progress(f"{backend}: starting relgate serve")
    server: ServerProcess | None = None
    try:
        # the server's own default poll interval: a promotion must not rely on polling
        env = {"RELGATE_DATABASE_URL": url, "RELGATE_POLL_INTERVAL_SECONDS": "0.5"}
        server = start_server(workdir, env, timeout=60)
        headers = {"Authorization": f"Bearer {token}"}
        # other work on the machine skews every figure: record how busy it was
        load_before = os.getloadavg()[0]
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            rows = args.services * args.envs
            progress(f"{backend}: GET /api/v1/status ({rows} rows) x {WARMUP}+{args.samples}")
            result.metrics.append(
                Metric(
                    f"GET /status (all, {rows} rows)",
                    time_requests(client, "GET", "/api/v1/status", args.samples, expect(200, rows)),
                    STATUS_P95_TARGET_MS,
                )
            )
            # an unpin is a real, audited change of state: the next status is computed anew
            change = f"/api/v1/services/{history_service}/environments/{names[0]}/unpin"
            progress(f"{backend}: GET /api/v1/status after each change x {args.samples // 2}")
            result.metrics.append(
                Metric(
                    f"GET /status (all, {rows} rows) after a change",
                    time_after_changes(client, "/api/v1/status", args.samples // 2, change),
                    STATUS_P95_TARGET_MS,
                )
            )
            one = f"/api/v1/status?service={history_service}"
            progress(f"{backend}: GET {one}")
            result.metrics.append(
                Metric(
                    "GET /status?service=one",
                    time_requests(client, "GET", one, args.samples, expect(200, args.envs)),
                    STATUS_P95_TARGET_MS,
                )
            )
            path = f"/api/v1/services/{history_service}/history?environment={names[-1]}"
            progress(f"{backend}: GET {path}")
            result.metrics.append(
                Metric(
                    "GET /history?environment=production",
                    time_requests(client, "GET", path, args.samples, expect(200)),
                )
            )
            environment = bench_env(names)
            progress(
                f"{backend}: {WARMUP}+{args.promotions} promotions of {BENCH_SERVICE} "
                f"into {environment}"
            )
            promotions = measure_promotions(client, stamp_file, environment, args.promotions)
            result.metrics.append(
                Metric(
                    "promotion overhead (POST -> deployer)",
                    promotions.overhead_ms,
                    PROMOTION_P95_TARGET_MS,
                )
            )
            result.metrics.append(Metric("  of which POST -> started_at", promotions.claimed_ms))
            result.metrics.append(Metric("POST /deployments latency", promotions.post_ms))
        result.notes.append(
            f"1-minute load average {load_before:.2f} before the HTTP measures, "
            f"{os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores"
        )
        progress(f"{backend}: timing the service calls in-process (no HTTP, no JSON)")
        in_process = max(20, args.samples // 5)
        result.metrics.append(
            Metric(
                "status() in-process (all)",
                time_in_process(lambda: services.promotion.status(principal), in_process),
            )
        )
        result.metrics.append(
            Metric(
                "history() in-process",
                time_in_process(
                    lambda: services.promotion.history(principal, history_service, names[-1]),
                    in_process,
                ),
            )
        )
        from relgate.audit import store as audit_store

        with services.uow() as uow:
            report = audit_store.verify(uow)
        if report.problems:
            raise BenchError(f"{backend}: the audit chain is broken: {report.problems[:3]}")
        result.notes.append(f"audit chain valid after the run ({report.events:,} events)")
    finally:
        if server is not None:
            server.stop()
        services.uow.engine.dispose()
    if not args.keep:
        # the server's log and the deployer's stamps; kept when something failed
        shutil.rmtree(workdir, ignore_errors=True)
    return result


# ---------------------------------------------------------------------- output


def print_table(result: BackendResult) -> None:
    print()
    print(f"== {result.backend}: fill {result.fill_seconds:.1f} s ==")
    header = f"{'metric':<40} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  target       "
    print(header)
    print("-" * len(header))
    for metric in result.metrics:
        target = f"p95 < {metric.target_ms:.0f} ms" if metric.target_ms is not None else ""
        print(
            f"{metric.name:<40} {len(metric.samples_ms):>4} {metric.percentile(50):>8.1f} "
            f"{metric.percentile(95):>8.1f} {metric.percentile(99):>8.1f}  "
            f"{target:<13}{metric.verdict()}"
        )
    for note in result.notes:
        print(f"note: {note}")


def print_markdown(results: Sequence[BackendResult]) -> None:
    print()
    print("Markdown rows for bench/RESULTS.md:")
    print("| backend | metric | p50 ms | p95 ms | p99 ms | target | verdict |")
    print("| --- | --- | ---: | ---: | ---: | --- | --- |")
    for result in results:
        for metric in result.metrics:
            target = f"p95 < {metric.target_ms:.0f} ms" if metric.target_ms is not None else ""
            print(
                f"| {result.backend} | {metric.name} | {metric.percentile(50):.1f} | "
                f"{metric.percentile(95):.1f} | {metric.percentile(99):.1f} | {target} | "
                f"{metric.verdict()} |"
            )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time relgate's control plane (status, history, promotion overhead) "
        "over a store of production size, on SQLite and/or PostgreSQL.",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--services", type=positive, default=1000, help="services (1000)")
    parser.add_argument(
        "--envs",
        type=positive,
        default=4,
        help="environments per service, ending with production (4)",
    )
    parser.add_argument(
        "--releases",
        type=positive,
        default=100_000,
        help="releases spread over the services (100000)",
    )
    parser.add_argument(
        "--samples", type=positive, default=300, help="timed GET requests per endpoint (300)"
    )
    parser.add_argument("--promotions", type=positive, default=100, help="timed promotions (100)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the SQLite file / PostgreSQL database"
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also measure relgate at this git revision, in the same run, before the working tree",
    )
    parser.add_argument("--json-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--pg-url",
        default=PG_ADMIN_URL,
        help="PostgreSQL database to connect to for CREATE/DROP DATABASE (%(default)s)",
    )
    args = parser.parse_args(argv)
    if args.envs > 20:
        parser.error("--envs must be at most 20")
    if args.releases < args.services:
        parser.error("--releases must be at least --services (each service has a release)")
    return args


def baseline_tree(revision: str) -> Path:
    """Export ``src/`` of ``revision`` under bench/.work; return the folder to put on PYTHONPATH."""
    try:
        return export_baseline(revision, WORK)
    except ValueError as exc:
        raise BenchError(str(exc)) from None


def run_baseline(revision: str, backend: str, args: argparse.Namespace) -> BackendResult:
    """Run this script on ``backend`` with relgate's code of ``revision``; return its figures."""
    src = baseline_tree(revision)
    out = WORK / f"baseline-{backend}-{uuid.uuid4().hex[:6]}.json"
    passed = [
        f"--services={args.services}",
        f"--envs={args.envs}",
        f"--releases={args.releases}",
        f"--samples={args.samples}",
        f"--promotions={args.promotions}",
        f"--pg-url={args.pg_url}",
        *(["--keep"] if args.keep else []),
    ]
    command = [sys.executable, __file__, *passed, "--backend", backend, "--json-out", str(out)]
    progress(f"{backend}: the baseline {revision} in a process of its own")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    done = subprocess.run(command, check=False, env=env)
    if done.returncode != 0 or not out.exists():
        raise BenchError(f"the baseline run ({revision}, {backend}) failed: exit {done.returncode}")
    data = json.loads(out.read_text())
    out.unlink()
    result = BackendResult(
        f"{backend} @ {revision}", data["fill_seconds"], data["rows"], notes=data["notes"]
    )
    result.metrics = [Metric(m["name"], m["samples_ms"], m["target_ms"]) for m in data["metrics"]]
    return result


def write_json(path: Path, result: BackendResult) -> None:
    path.write_text(
        json.dumps(
            {
                "fill_seconds": result.fill_seconds,
                "rows": result.rows,
                "notes": result.notes,
                "metrics": [
                    {"name": m.name, "samples_ms": m.samples_ms, "target_ms": m.target_ms}
                    for m in result.metrics
                ],
            }
        )
    )


def print_before_after(pairs: Sequence[tuple[BackendResult, BackendResult]]) -> None:
    print()
    print("Promotion overhead before and after, measured in this run:")
    print("| backend | code | p50 ms | p95 ms | target | verdict |")
    print("| --- | --- | ---: | ---: | --- | --- |")
    for before, after in pairs:
        for result, label in ((before, before.backend), (after, f"{after.backend} @ working tree")):
            metric = next(m for m in result.metrics if m.name.startswith("promotion overhead"))
            print(
                f"| {after.backend} | {label.split(' @ ')[-1]} | {metric.percentile(50):.1f} | "
                f"{metric.percentile(95):.1f} | p95 < {PROMOTION_P95_TARGET_MS:.0f} ms | "
                f"{metric.verdict()} |"
            )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: list[BackendResult] = []
    pairs: list[tuple[BackendResult, BackendResult]] = []
    try:
        for backend in backends:
            before = run_baseline(args.baseline, backend, args) if args.baseline else None
            if before is not None:
                results.append(before)
                print_table(before)
            store = (
                sqlite_store(args.keep)
                if backend == "sqlite"
                else postgres_store(args.keep, args.pg_url)
            )
            with store as url:
                result = run_backend(backend, url, args)
            if args.json_out is not None:
                write_json(args.json_out, result)
                return 0
            results.append(result)
            print_table(result)
            if before is not None:
                pairs.append((before, result))
    except (BenchError, RelgateError) as exc:
        print(f"control_plane: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, httpx.HTTPError) as exc:
        # RuntimeError: `relgate serve` did not start (start_server says why)
        print(f"control_plane: {exc}", file=sys.stderr)
        print(f"control_plane: the server's log is under {WORK}", file=sys.stderr)
        return 2
    print_markdown(results)
    if pairs:
        print_before_after(pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
