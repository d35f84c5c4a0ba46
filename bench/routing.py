"""Traffic routing benchmark: a real HAProxy in front of two demo-service instances on 127.0.0.1.

Two measures, each with a load generator (``--threads`` clients, each on its own
keep-alive connection, sending ``GET /`` back to back) running the whole time:

1. **blue-green switch**: ``--switches`` switches (green, blue, green, ...)
   through relgate's HAProxyRouter, ``--gap`` seconds apart. Lost requests are
   those that failed (a connection error or a status other than 200; a request
   sent again on a fresh connection after a kept-alive one was found closed is
   counted apart, as *retried*). *Late* requests started after a switch had
   returned (and were answered before the next one began) and were still
   answered by the old colour. Target: 0 lost, 0 late.
2. **all to stable**: ``--aborts`` times, the canary at 50 % and then
   ``all_to_stable()``; the time from the call to its return (the change made
   and read back), to the last canary answer (requests the canary was already
   answering), and *late* requests (started after the return and answered
   before the next canary began, by the canary; target 0).

Run: .venv/bin/python bench/routing.py [--threads 4] [--switches 20] [--aborts 20]
Needs Debian's haproxy (`make system-deps`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import positive, progress  # noqa: E402
from tests.support.haproxy import Client, DemoInstance, HAProxy  # noqa: E402

from relgate.routing.config import HAProxyRouterSpec  # noqa: E402
from relgate.routing.haproxy import HAProxyRouter  # noqa: E402
from relgate.routing.ports import Colour  # noqa: E402

OLD, NEW = "1.1.0", "1.2.0"


@dataclass
class Load:
    """Requests of the load generator: (started, ended, version) and failures."""

    port: int
    threads: int
    answers: list[tuple[float, float, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    retried: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)

    def _run(self) -> None:
        client = Client(self.port)
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    version = client.version()
                except Exception as exc:
                    with self._lock:
                        self.failures.append(repr(exc))
                    client.close()
                    continue
                with self._lock:
                    self.answers.append((started, time.monotonic(), version))
        finally:
            with self._lock:
                self.retried += client.retries
            client.close()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()


def router(haproxy: HAProxy, names: tuple[str, str]) -> HAProxyRouter:
    return HAProxyRouter(
        HAProxyRouterSpec.model_validate(
            {
                "type": "haproxy",
                "socket": str(haproxy.socket),
                "backend": "app",
                f"{names[0]}_server": names[0],
                f"{names[1]}_server": names[1],
            }
        )
    )


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    median = statistics.median(ordered)
    return f"p50 {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def blue_green(folder: Path, ports: dict[str, int], args: argparse.Namespace) -> bool:
    haproxy = HAProxy(folder / "bg", {"blue": ports[OLD], "green": ports[NEW]})
    try:
        routed = router(haproxy, ("blue", "green"))
        load = Load(haproxy.port, args.threads)
        load.start()
        time.sleep(args.gap)
        switches: list[tuple[float, float, str]] = []  # (called, returned, new version)
        colour = Colour.BLUE
        for _ in range(args.switches):
            colour = colour.other
            called = time.monotonic()
            state = routed.switch_to(colour)
            returned = time.monotonic()
            assert state.live is colour, state.describe()
            switches.append((called, returned, NEW if colour is Colour.GREEN else OLD))
            time.sleep(args.gap)
        load.stop()
    finally:
        haproxy.stop()
    late = 0
    for index, (_, returned, wanted) in enumerate(switches):
        # requests wholly inside the time this switch was in force: sent after it returned,
        # answered before the next one began (a thread paused between its clock and its send
        # would otherwise be counted against the wrong switch)
        until = switches[index + 1][0] if index + 1 < len(switches) else float("inf")
        late += sum(
            1
            for started, ended, version in load.answers
            if returned < started and ended < until and version != wanted
        )
    total = len(load.answers) + len(load.failures)
    span = max(e for _, e, _ in load.answers) - min(s for s, _, _ in load.answers)
    print(
        f"blue-green: {args.switches} switches under {args.threads} clients, {total} requests "
        f"({total / span:.0f}/s): lost {len(load.failures)}, "
        f"retried {load.retried}, late {late}; a switch (commands + read back) took "
        f"{ms([r - c for c, r, _ in switches])}"
    )
    for failure in load.failures[:5]:
        print(f"  lost: {failure}")
    met = not load.failures and late == 0
    print(f"  target 0 lost, 0 late: {'MET' if met else 'MISSED'}")
    return met


def all_to_stable(folder: Path, ports: dict[str, int], args: argparse.Namespace) -> bool:
    haproxy = HAProxy(folder / "abort", {"stable": ports[OLD], "canary": ports[NEW]})
    try:
        routed = router(haproxy, ("stable", "canary"))
        load = Load(haproxy.port, args.threads)
        load.start()
        aborts: list[tuple[float, float, float]] = []  # (called, returned, next canary)
        for _ in range(args.aborts):
            routed.set_canary_weight(50)
            time.sleep(args.gap)
            called = time.monotonic()
            state = routed.all_to_stable()
            returned = time.monotonic()
            assert state.canary_share == 0.0, state.describe()
            time.sleep(args.gap)
            aborts.append((called, returned, time.monotonic()))
        load.stop()
    finally:
        haproxy.stop()
    to_return, to_last, late = [], [], 0
    for called, returned, until in aborts:
        to_return.append(returned - called)
        # canary answers that ended after the call, of requests started before the next canary
        canary_after = [
            (s, e) for s, e, v in load.answers if v == NEW and e >= called and s < until
        ]
        to_last.append(max((e for _, e in canary_after), default=called) - called)
        # as above: sent after the return and answered before the next canary began
        late += sum(1 for s, e in canary_after if s > returned and e < until)
    print(
        f"all to stable: {args.aborts} aborts from 50 % under {args.threads} clients: "
        f"call to return {ms(to_return)}; call to the last canary answer {ms(to_last)}; "
        f"late {late}, lost {len(load.failures)}"
    )
    met = late == 0 and not load.failures
    print(f"  target 0 late, 0 lost: {'MET' if met else 'MISSED'}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=positive, default=4)
    parser.add_argument("--switches", type=positive, default=20)
    parser.add_argument("--aborts", type=positive, default=20)
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between two changes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="relgate-bench-routing-") as tmp:
        folder = Path(tmp)
        (folder / "bg").mkdir()
        (folder / "abort").mkdir()
        instances = [DemoInstance(OLD, folder), DemoInstance(NEW, folder)]
        try:
            ports = {i.version: i.port for i in instances}
            progress("blue-green switches under load")
            first = blue_green(folder, ports, args)
            progress("all to stable under load")
            second = all_to_stable(folder, ports, args)
        finally:
            for instance in instances:
                instance.stop()
    return 0 if first and second else 1


if __name__ == "__main__":
    raise SystemExit(main())
