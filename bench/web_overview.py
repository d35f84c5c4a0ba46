"""Web overview benchmark: GET / for 1,000 services × 4 environments and 100,000 releases.

Fills a fresh SQLite store with bulk inserts through relgate's own tables (the
rows of bench/control_plane.py: services, pipelines, releases, environments,
a history of deployments, approvals, jobs and a valid audit chain), and adds
what the overview's cells show beyond that: a coverage gate in staging with a
coverage report on each service's newest releases (so the badges evaluate real
evidence), feature flags on in some environments, and deployments waiting for
approval in production (the queue). Then it starts `relgate serve`, signs in
through the sign-in form like a browser, and measures over HTTP on one
keep-alive connection:

- GET / (the whole page, every cell), sequentially: p50/p95/p99 of the time to
  the last byte, with gzip as browsers ask for it and without; the bytes sent
  (on the wire, and before compression);
- GET /fragments/overview for a token scoped to one service;
- the time from a deployment finishing (its ``finished_at``, the server's
  clock, the same machine's) to the first server-sent event on an open
  ``/events/overview`` stream that shows the new version succeeded in its cell.

Run: .venv/bin/python bench/web_overview.py [--services N] [--envs N] [--releases N]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from bench.common import positive, progress  # noqa: E402
from bench.control_plane import (  # noqa: E402
    BENCH_SERVICE,
    WORK,
    BenchError,
    Metric,
    bench_env,
    build_fill,
    env_names,
    load_and_count,
    promotion_version,
    sqlite_store,
)
from tests.support.server import ServerProcess, start_server  # noqa: E402

from relgate.bootstrap import build  # noqa: E402
from relgate.config import Settings  # noqa: E402
from relgate.promotion.overview import CANDIDATE_WINDOW  # noqa: E402
from relgate.promotion.reports import parse_report  # noqa: E402
from relgate.store import db  # noqa: E402

RENDER_P95_TARGET_MS = 300.0
UPDATE_TARGET_MS = 3000.0  # "within a few seconds"
WAITING_SERVICES = 25
FLAGS = 60
PAGE_SAMPLES = 30
PAGE_WARMUP = 3


@dataclass
class Figures:
    rows: dict[str, int]
    fill_seconds: float
    metrics: list[Metric] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- the data


def add_overview_rows(tables: dict[str, list[dict[str, Any]]], names: list[str]) -> None:
    """Coverage gates and reports, flags, and deployments waiting for approval."""
    coverage = json.dumps(
        {"meta": {"version": "7.5.0"}, "totals": {"percent_covered": 87.5}, "files": {}}
    ).encode()
    report = parse_report("coverage", coverage, "coverage.json")
    stored = report.model_dump(mode="json")
    staging = names[1]
    seen: set[int] = set()
    for pipeline in tables["pipelines"]:
        spec = pipeline["spec"]
        if id(spec) in seen:  # the regular services share one spec object
            continue
        seen.add(id(spec))
        for env in spec["environments"]:
            if env["name"] == staging:
                env["gates"] = [*env.get("gates", []), {"type": "coverage", "min": 80.0}]
    releases_of: dict[int, list[dict[str, Any]]] = {}
    for release in tables["releases"]:
        releases_of.setdefault(release["service_id"], []).append(release)
    evidence = tables.setdefault("evidence", [])
    for releases in releases_of.values():
        for release in releases[-CANDIDATE_WINDOW:]:
            evidence.append(
                {
                    "release_id": release["id"],
                    "kind": "coverage",
                    "environment": None,
                    "filename": "coverage.json",
                    "sha256": hashlib.sha256(coverage).hexdigest(),
                    "format": report.format,
                    "summary": report.summary(),
                    "report": stored,
                    "content": coverage,
                    "created_by": "ci",
                    "created_at": release["created_at"] + timedelta(minutes=5),
                }
            )
    now = datetime.now(UTC)
    flags = tables.setdefault("flags", [])
    flag_envs = tables.setdefault("flag_environments", [])
    for n in range(FLAGS):
        flags.append(
            {
                "id": n + 1,
                "key": f"flag-{n:03d}",
                "description": "",
                "type": "release",
                "owner": None,
                "tags": [],
                "impression_data": False,
                "dependencies": [],
                "created_at": now,
                "updated_at": now,
                "expires_at": None,
                "archived_at": None,
            }
        )
        for position, env in enumerate(names):
            flag_envs.append(
                {
                    "flag_id": n + 1,
                    "environment": env,
                    "enabled": n % (position + 2) == 0,
                    "strategies": [],
                    "variants": [],
                    "updated_at": now,
                    "fully_rolled_out_since": None,
                }
            )
    # the newest release of the first services waits for approval in production
    environments = {(e["service_id"], e["name"]): e for e in tables["environments"]}
    deployment_id = max(d["id"] for d in tables["deployments"])
    # (service 1 is the one the live figures promote; a small fill may leave a service without
    # releases, which then has nothing waiting)
    waiting = [service_id for service_id in sorted(releases_of) if service_id >= 2]
    for service_id in waiting[:WAITING_SERVICES]:
        newest = releases_of[service_id][-1]
        env = environments[(service_id, names[-1])]
        deployment_id += 1
        at = now - timedelta(minutes=service_id)
        tables["deployments"].append(
            {
                "id": deployment_id,
                "service_id": service_id,
                "environment": names[-1],
                "release_id": newest["id"],
                "version": newest["version"],
                "previous_release_id": env["current_release_id"],
                "pipeline_revision": 1,
                "kind": "promote",
                "state": "waiting_for_approval",
                "replaces_deployment_id": None,
                "requested_by": "ci",
                "reason": "",
                "outcome": "",
                "gate_results": [],
                "log": "",
                "created_at": at,
                "updated_at": at,
                "started_at": None,
                "finished_at": None,
                "verified_at": None,
            }
        )
        env["holder_deployment_id"] = deployment_id
        env["last_deployment_id"] = deployment_id


def reorder(tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The tables in foreign-key order (evidence after releases, environments before...)."""
    order = [
        "services",
        "pipelines",
        "releases",
        "evidence",
        "environments",
        "deployments",
        "approvals",
        "jobs",
        "audit_events",
        "flags",
        "flag_environments",
    ]
    return {name: tables[name] for name in order if name in tables}


# ---------------------------------------------------------------------- measuring


def sign_in(url: str, token: str) -> httpx.Client:
    """A client holding a web session, signed in through the form as a browser does."""
    client = httpx.Client(base_url=url, timeout=60, follow_redirects=False)
    answer = client.post("/sign-in", data={"token": token, "next": "/"})
    if answer.status_code != 303 or "relgate_session" not in client.cookies:
        raise BenchError(f"sign-in answered {answer.status_code}: {answer.text[:300]}")
    return client


def time_page(
    client: httpx.Client,
    path: str,
    encoding: str,
    samples: int,
    before: Callable[[], None] | None = None,
    warmup: int = PAGE_WARMUP,
) -> tuple[list[float], int, int]:
    """Time GET ``path``; return the times (ms), the bytes on the wire and the page's bytes."""
    times: list[float] = []
    wire = size = 0
    for n in range(warmup + samples):
        if before is not None:
            before()
        began = time.perf_counter()
        with client.stream("GET", path, headers={"Accept-Encoding": encoding}) as answer:
            body = answer.read()
            wire = answer.num_bytes_downloaded
        elapsed = (time.perf_counter() - began) * 1000
        if answer.status_code != 200:
            raise BenchError(f"GET {path} answered {answer.status_code}: {body[:300]!r}")
        size = len(body)
        if n >= warmup:
            times.append(elapsed)
    return times, wire, size


@dataclass
class Stream:
    """An open /events/overview stream, read in a thread: each event with its arrival time."""

    client: httpx.Client
    since: int
    events: list[tuple[float, str, str]] = field(default_factory=list)
    error: str = ""
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        try:
            with self.client.stream(
                "GET", f"/events/overview?since={self.since}", timeout=None
            ) as answer:
                if answer.status_code != 200:
                    self.error = f"the stream answered {answer.status_code}"
                    return
                name, data = "", []
                for line in answer.iter_lines():
                    if self.stop.is_set():
                        return
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        data.append(line[6:])
                    elif not line and name:
                        self.events.append((time.time(), name, "\n".join(data)))
                        name, data = "", []
        except httpx.HTTPError as exc:
            if not self.stop.is_set():
                self.error = str(exc)


def measure_updates(
    api: httpx.Client, page: httpx.Client, environment: str, samples: int
) -> tuple[list[float], list[int]]:
    """Promote releases of the bench service one at a time; time finished_at -> its event."""
    since = int(page.get("/").text.split("/events/overview?since=", 1)[1].split('"', 1)[0])
    stream = Stream(page, since)
    reader = threading.Thread(target=stream.run, daemon=True)
    reader.start()
    latencies: list[float] = []
    sizes: list[int] = []
    try:
        for n in range(samples):
            version = promotion_version(n)
            body = {"service": BENCH_SERVICE, "version": version, "environment": environment}
            answer = api.post("/api/v1/deployments", json=body)
            if answer.status_code != 201:
                raise BenchError(f"POST /deployments answered {answer.status_code}: {answer.text}")
            deployment = answer.json()
            deadline = time.monotonic() + 60
            while deployment["state"] not in ("succeeded", "failed", "cancelled", "rejected"):
                if time.monotonic() > deadline:
                    raise BenchError(f"deployment {deployment['id']} did not end")
                time.sleep(0.02)
                deployment = api.get(f"/api/v1/deployments/{deployment['id']}").json()
            if deployment["state"] != "succeeded":
                raise BenchError(f"deployment {deployment['id']} {deployment['state']}")
            finished = datetime.fromisoformat(deployment["finished_at"]).timestamp()
            wanted = f'href="/deployments/{deployment["id"]}">succeeded'
            while True:
                if stream.error:
                    raise BenchError(stream.error)
                seen = [e for e in stream.events if e[1] == "cells" and wanted in e[2]]
                if seen:
                    latencies.append((seen[0][0] - finished) * 1000)
                    sizes.append(len(seen[0][2].encode()))
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"no event showed deployment {deployment['id']} succeeded")
                time.sleep(0.005)
    finally:
        stream.stop.set()
        page.close()
    return latencies, sizes


# ---------------------------------------------------------------------- the run


def run(args: argparse.Namespace) -> Figures:
    names = env_names(args.envs)
    workdir = WORK.parent / "web_overview" / f"serve-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True, exist_ok=True)
    with sqlite_store(args.keep) as url:
        progress("creating the schema")
        engine = db.make_engine(url)
        db.upgrade(engine)
        progress(f"building {args.services} services × {args.envs}, {args.releases} releases")
        fill = build_fill(
            services=args.services,
            envs=args.envs,
            releases=args.releases,
            promotions=args.updates,
            stamp_file=workdir / "deployer-started.txt",
        )
        add_overview_rows(fill.tables, names)
        fill.tables = reorder(fill.tables)
        fill_seconds, counted = load_and_count(engine, fill, "sqlite")
        figures = Figures(counted, fill_seconds)
        del fill
        gc.collect()

        services = build(Settings(database_url=url))
        _, admin = services.tokens.create("bench-admin", "admin", actor="bench")
        other = f"svc-{min(500, args.services - 1):04d}"
        _, one = services.tokens.create("bench-one", "ci", actor="bench", services=[other])
        services.uow.engine.dispose()
        server: ServerProcess | None = None
        try:
            progress("starting relgate serve")
            server = start_server(
                workdir,
                {"RELGATE_DATABASE_URL": url, "RELGATE_POLL_INTERVAL_SECONDS": "0.5"},
                timeout=60,
            )
            cells = args.services * args.envs
            api = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=60
            )
            # an unpin is a real, audited change of one service's state
            change_path = f"/api/v1/services/{other}/environments/{names[0]}/unpin"

            def change() -> None:
                answer = api.post(change_path)
                if answer.status_code != 200:
                    raise BenchError(f"POST {change_path} answered {answer.status_code}")

            with contextlib.closing(sign_in(server.url, admin)) as client:
                progress("GET / first after the start (nothing kept yet)")
                times, _, _ = time_page(client, "/", "gzip", 1, warmup=0)
                figures.metrics.append(Metric(f"GET / first, nothing kept ({cells} cells)", times))
                progress(f"GET / ({cells} cells, gzip) × {PAGE_WARMUP}+{args.samples}")
                times, wire, size = time_page(client, "/", "gzip", args.samples)
                figures.metrics.append(
                    Metric(f"GET / ({cells} cells, gzip)", times, RENDER_P95_TARGET_MS)
                )
                figures.sizes["GET / bytes on the wire (gzip)"] = wire
                figures.sizes["GET / bytes of HTML"] = size
                progress(f"GET / ({cells} cells, identity) × {PAGE_WARMUP}+{args.samples // 2}")
                times, wire, _ = time_page(client, "/", "identity", args.samples // 2)
                figures.metrics.append(
                    Metric(f"GET / ({cells} cells, no gzip)", times, RENDER_P95_TARGET_MS)
                )
                figures.sizes["GET / bytes on the wire (no gzip)"] = wire
                progress(f"GET / right after a change of one service × {args.samples}")
                times, _, _ = time_page(client, "/", "gzip", args.samples, before=change)
                figures.metrics.append(
                    Metric(f"GET / after a change ({cells} cells)", times, RENDER_P95_TARGET_MS)
                )
            with contextlib.closing(sign_in(server.url, one)) as client:
                progress("GET /fragments/overview for a token scoped to one service")
                times, wire, _ = time_page(client, "/fragments/overview", "gzip", args.samples)
                figures.metrics.append(Metric("GET /fragments/overview (1 service)", times))
                figures.sizes["fragment bytes (1 service, gzip)"] = wire
            environment = bench_env(names)
            progress(f"{args.updates} deployments of {BENCH_SERVICE} into {environment}")
            with contextlib.closing(api):
                latencies, event_sizes = measure_updates(
                    api, sign_in(server.url, admin), environment, args.updates
                )
            figures.metrics.append(
                Metric("deployment finished -> its SSE event", latencies, UPDATE_TARGET_MS)
            )
            figures.sizes["SSE cells event bytes (one row + queue)"] = max(event_sizes)
            progress("the whole overview read and rendered in-process, nothing kept × 5")
            figures.metrics.append(Metric("full read + render in-process, nothing kept", full(url)))
        finally:
            if server is not None:
                server.stop()
        if not args.keep:
            # the audit signing key the store's first use created beside it
            Path(url.removeprefix("sqlite:///").removesuffix(".db") + "-audit-key.pem").unlink(
                missing_ok=True
            )
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


def full(url: str, samples: int = 5) -> list[float]:
    """What a request costs when nothing is kept: every row read and rendered (ms)."""
    from relgate.auth.model import Principal, Role
    from relgate.web.pages.overview import overview_row
    from relgate.web.render import templates

    services = build(Settings(database_url=url))
    principal = Principal("bench-admin", Role.ADMIN)
    template = templates.get_template("overview_live.html")
    times = []
    try:
        for _ in range(samples):
            began = time.perf_counter()
            # _read_overview: the read the cache saves (each read stamps its rows anew,
            # so no row is taken from the kept rows either)
            ov = services.promotion._read_overview(principal, None)
            html = template.render(ov=ov, columns=ov.environments, now=ov.read_at, me=principal)
            assert overview_row is not None and len(html) > 1000
            times.append((time.perf_counter() - began) * 1000)
    finally:
        services.uow.engine.dispose()
    return times


def print_figures(figures: Figures) -> None:
    print()
    print(f"== web overview: SQLite, fill {figures.fill_seconds:.1f} s ==")
    print("rows: " + ", ".join(f"{name} {count:,}" for name, count in figures.rows.items()))
    header = f"{'metric':<42} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  target"
    print(header)
    print("-" * (len(header) + 16))
    for metric in figures.metrics:
        target = f"p95 < {metric.target_ms:.0f} ms" if metric.target_ms is not None else ""
        print(
            f"{metric.name:<42} {len(metric.samples_ms):>4} {metric.percentile(50):>8.1f} "
            f"{metric.percentile(95):>8.1f} {metric.percentile(99):>8.1f}  "
            f"{target:<14}{metric.verdict()}"
        )
    for name, size in figures.sizes.items():
        print(f"{name:<42} {size:>12,} bytes")
    for note in figures.notes:
        print(f"note: {note}")
    print()
    print("Markdown rows for bench/RESULTS.md:")
    print("| metric | p50 ms | p95 ms | p99 ms | target | verdict |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for metric in figures.metrics:
        target = f"p95 < {metric.target_ms:.0f} ms" if metric.target_ms is not None else ""
        print(
            f"| {metric.name} | {metric.percentile(50):.1f} | {metric.percentile(95):.1f} | "
            f"{metric.percentile(99):.1f} | {target} | {metric.verdict()} |"
        )
    for name, size in figures.sizes.items():
        print(f"| {name} | {size:,} bytes | | | | |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=positive, default=1000)
    parser.add_argument("--envs", type=positive, default=4)
    parser.add_argument("--releases", type=positive, default=100_000)
    parser.add_argument("--samples", type=positive, default=PAGE_SAMPLES)
    parser.add_argument("--updates", type=positive, default=10, help="deployments timed")
    parser.add_argument("--keep", action="store_true", help="keep the store and the logs")
    args = parser.parse_args()
    if args.envs < 2:
        parser.error("--envs must be at least 2 (the bench deploys into the one before the last)")
    try:
        figures = run(args)
    except BenchError as exc:
        print(f"bench/web_overview.py: {exc}", file=sys.stderr)
        return 2
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
