"""Hostile-client benchmark: does normal traffic stay fast while someone attacks the server?

Starts a real `relgate serve` on a fresh SQLite file with a pipeline, a client
token and a flag whose production strategy has the REGEX constraint
``^(a+)+$``. Then, twice for the same duration:

1. **quiet**: normal traffic alone, at a steady rate: ``GET /api/client/features``
   (an Unleash SDK polling, with its client token) and ``GET /api/v1/status``
   (a dashboard, with a read token), each on its own keep-alive connection;
2. **hostile**: the same normal traffic while a second process sends, in a loop,
   a JSON body nested 100,000 levels deep to OFREP, an OFREP evaluation whose
   context value makes ``^(a+)+$`` backtrack exponentially in a backtracking
   engine, a metrics post with 200,000 toggles, one with 10,000 (the most a bucket
   may hold: accepted), and a 64 MiB body without a token.

It prints p50 / p99 / max latency of the normal traffic in both phases side by
side and the p99 ratio against the target (less than 2x). Every loop is bounded
in time and in count, and talks to 127.0.0.1 only.

Run: .venv/bin/python bench/hostile.py [--seconds 20] [--rate 25]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from bench.common import positive, progress  # noqa: E402
from tests.support.server import ServerProcess, start_server  # noqa: E402

WORK = ROOT / "bench" / ".work" / "hostile"
P99_RATIO_TARGET = 2.0
HOSTILE_MAX_REQUESTS = 5_000
WARMUP_SECONDS = 5
DEPTH = 100_000
METRICS_TOGGLES = 200_000
BOUNDED_TOGGLES = 10_000
UNAUTHENTICATED_BYTES = 64 * 1024 * 1024

PIPELINE = """\
service: bench-service
environments:
  - name: dev
    auto_promote: true
    deployer: {type: record}
  - name: staging
    deployer: {type: record}
"""


@dataclass
class Samples:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def quantile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index]


class BenchError(Exception):
    """A failure reported in one line (exit 2), not as a traceback."""


def _check(response: httpx.Response, what: str) -> httpx.Response:
    if response.status_code >= 400:
        raise BenchError(f"{what}: HTTP {response.status_code}: {response.text[:300]}")
    return response


def prepare(server: ServerProcess) -> dict[str, str]:
    """Apply a pipeline, create the tokens and the ReDoS flag; return the tokens."""
    admin = server.admin_token()
    if admin is None:
        raise BenchError("the server printed no admin token")
    headers = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        _check(client.post("/api/v1/pipelines", json={"source": PIPELINE}), "apply")
        tokens = {"admin": admin}
        for name, role, env in (
            ("bench-client", "client", "staging"),
            ("bench-reader", "approver", None),
        ):
            body = {"name": name, "role": role, "environment": env}
            tokens[name] = _check(client.post("/api/v1/tokens", json=body), name).json()["token"]
        _check(client.post("/api/v1/flags", json={"key": "redos", "type": "release"}), "flag")
        strategy = {
            "name": "default",
            "constraints": [{"contextName": "email", "operator": "REGEX", "value": "^(a+)+$"}],
        }
        _check(
            client.put("/api/v1/flags/redos/environments/staging/strategies", json=[strategy]),
            "strategies",
        )
        _check(client.post("/api/v1/flags/redos/environments/staging/enable"), "enable")
        for index in range(20):
            _check(client.post("/api/v1/flags", json={"key": f"plain-{index}"}), "flag")
            _check(
                client.post(f"/api/v1/flags/plain-{index}/environments/staging/enable"), "enable"
            )
    return tokens


def steady(url: str, path: str, token: str, rate: int, seconds: float, samples: Samples) -> None:
    """Send GET ``path`` ``rate`` times a second for ``seconds``; record each latency."""
    interval = 1.0 / rate
    headers = {"Authorization": token if path.startswith("/api/client") else f"Bearer {token}"}
    deadline = time.perf_counter() + seconds
    next_at = time.perf_counter()
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        while (now := time.perf_counter()) < deadline:
            if now < next_at:
                time.sleep(next_at - now)
            started = time.perf_counter()
            try:
                response = client.get(path)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            samples.latencies_ms.append((time.perf_counter() - started) * 1000)
            if not ok:
                samples.errors += 1
            next_at += interval


def hostile(
    url: str, client_token: str, seconds: float, counts: dict[str, int], *, accepted: bool
) -> None:
    """Send the five hostile requests in a loop for ``seconds`` (at most a bounded count)."""
    deep = '{"context": {"targetingKey": "u", "x": ' + "[" * DEPTH + "]" * DEPTH + "}}"
    redos = json.dumps({"context": {"targetingKey": "u", "email": "a" * 40 + "!"}})
    now_iso = "2026-12-01T00:00:00Z"
    metrics = json.dumps(
        {
            "appName": "hostile",
            "instanceId": "hostile-1",
            "bucket": {
                "start": now_iso,
                "stop": now_iso,
                "toggles": {f"f{i}": {"yes": 1, "no": 0} for i in range(METRICS_TOGGLES)},
            },
        }
    )
    # the most one bucket may hold: accepted, and stored off the request path
    bounded = json.dumps(
        {
            "appName": "hostile",
            "instanceId": "hostile-2",
            "bucket": {
                "start": now_iso,
                "stop": now_iso,
                "toggles": {f"f{i}": {"yes": 1, "no": 0} for i in range(BOUNDED_TOGGLES)},
            },
        }
    )
    big = b"{" + b" " * (UNAUTHENTICATED_BYTES - 2) + b"}"
    json_headers = {"Authorization": client_token, "Content-Type": "application/json"}
    requests = [
        ("deep JSON", "/ofrep/v1/evaluate/flags/redos", deep.encode(), json_headers),
        ("ReDoS context", "/ofrep/v1/evaluate/flags/redos", redos.encode(), json_headers),
        ("200k-toggle metrics", "/api/client/metrics", metrics.encode(), json_headers),
        *(
            [("10k-toggle metrics", "/api/client/metrics", bounded.encode(), json_headers)]
            if accepted
            else []
        ),
        ("64 MiB without token", "/api/v1/pipelines", big, {"Content-Type": "application/json"}),
    ]
    deadline = time.monotonic() + seconds
    sent = 0
    with httpx.Client(base_url=url, timeout=httpx.Timeout(30, connect=5)) as client:
        while time.monotonic() < deadline and sent < HOSTILE_MAX_REQUESTS:
            name, path, body, headers = requests[sent % len(requests)]
            try:
                status = client.post(path, content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = 0  # the server may close the connection on an oversized body
            key = f"{name} -> {status or 'connection closed'}"
            counts[key] = counts.get(key, 0) + 1
            sent += 1


def _hostile_child(
    url: str,
    token: str,
    seconds: float,
    accepted: bool,
    queue: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    counts: dict[str, int] = {}
    hostile(url, token, seconds, counts, accepted=accepted)
    queue.put(counts)


def phase(
    server: ServerProcess,
    tokens: dict[str, str],
    rate: int,
    seconds: float,
    *,
    attacked: bool,
    accepted: bool = True,
) -> tuple[list[Samples], dict[str, int]]:
    """Run the normal traffic for ``seconds``, with the hostile process when ``attacked``."""
    features = Samples("GET /api/client/features")
    status = Samples("GET /api/v1/status")
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    child = None
    if attacked:
        child = multiprocessing.Process(
            target=_hostile_child,
            args=(server.url, tokens["bench-client"], seconds, accepted, queue),
        )
        child.start()
        time.sleep(0.5)  # the hostile loop is under way before the measurement starts
    threads = [
        threading.Thread(
            target=steady,
            args=(
                server.url,
                "/api/client/features",
                tokens["bench-client"],
                rate,
                seconds,
                features,
            ),
        ),
        threading.Thread(
            target=steady,
            args=(server.url, "/api/v1/status", tokens["bench-reader"], rate, seconds, status),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts: dict[str, int] = {}
    if child is not None:
        child.join(seconds + 120)
        if child.is_alive():
            child.terminate()
            raise BenchError("the hostile client did not stop in time")
        counts = queue.get(timeout=10)
    return [features, status], counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=positive, default=20, help="length of each phase")
    parser.add_argument("--rate", type=positive, default=25, help="requests/s per endpoint")
    parser.add_argument(
        "--no-accepted-metrics",
        action="store_true",
        help="leave out the 10,000-flag bucket (the hostile set the issue names)",
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    for old in WORK.glob("relgate.db*"):
        old.unlink()
    progress("starting relgate serve on a fresh SQLite file")
    server = start_server(WORK, env={"RELGATE_DATABASE_URL": f"sqlite:///{WORK / 'relgate.db'}"})
    try:
        tokens = prepare(server)
        progress(f"warm-up: {WARMUP_SECONDS} s of the normal traffic, not counted")
        phase(server, tokens, args.rate, WARMUP_SECONDS, attacked=False)
        progress(f"quiet phase: {args.rate} req/s per endpoint for {args.seconds} s")
        quiet, _ = phase(server, tokens, args.rate, args.seconds, attacked=False)
        progress("hostile phase: the same traffic with the hostile client")
        loud, counts = phase(
            server,
            tokens,
            args.rate,
            args.seconds,
            attacked=True,
            accepted=not args.no_accepted_metrics,
        )
        if server.process.poll() is not None:
            raise BenchError(
                "the server died during the hostile phase:\n" + server.stderr()[-2000:]
            )
    finally:
        server.stop()
    print()
    print(
        f"{'endpoint':28} {'phase':8} {'n':>6} {'err':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    verdicts = []
    for q, h in zip(quiet, loud, strict=True):
        for label, s in (("quiet", q), ("hostile", h)):
            print(
                f"{s.name:28} {label:8} {len(s.latencies_ms):6d} {s.errors:4d} "
                f"{s.quantile(0.5):8.2f} {s.quantile(0.99):8.2f} {max(s.latencies_ms):8.2f}"
            )
        ratio = h.quantile(0.99) / q.quantile(0.99)
        met = ratio < P99_RATIO_TARGET and h.errors == 0
        verdicts.append(met)
        print(
            f"{'':28} p99 ratio {ratio:.2f}x (target < {P99_RATIO_TARGET:.0f}x, no errors): "
            f"{'MET' if met else 'MISSED'}"
        )
    print("\nhostile requests sent (answer):")
    for key, count in sorted(counts.items()):
        print(f"  {count:6d}  {key}")
    for q, h in zip(quiet, loud, strict=True):
        print(
            f"mean of {q.name}: quiet {statistics.mean(q.latencies_ms):.2f} ms, "
            f"hostile {statistics.mean(h.latencies_ms):.2f} ms"
        )
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/hostile.py: {exc}", file=sys.stderr)
        sys.exit(2)
