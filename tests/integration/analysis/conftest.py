"""Demo instances of several versions under load, scraped by a real Prometheus (one per module)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.demo import DemoInstance, start_demo
from tests.support.load import BackgroundLoad
from tests.support.prometheus import PrometheusProcess, start_prometheus

STABLE = "1.1.0"
HEALTHY = "1.1.1"
BAD = "1.2.0"
IDLE = "1.3.0"
SLOW = "1.4.0"


@dataclass
class Fleet:
    prometheus: PrometheusProcess
    instances: dict[str, DemoInstance]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Stable 1.1.0 and a healthy 1.1.1, a 1.2.0 answering 5 % errors, an idle 1.3.0 without
    traffic and a 1.4.0 that answers in 40 ms, all scraped every second by Prometheus."""
    workdir = tmp_path_factory.mktemp("fleet")
    settings = {
        STABLE: {},
        HEALTHY: {},
        BAD: {"ERROR_RATE": "0.05"},
        IDLE: {},
        SLOW: {"LATENCY_MS": "40"},
    }
    instances: dict[str, DemoInstance] = {}
    loads: list[BackgroundLoad] = []
    prometheus = None
    try:
        for version, extra in settings.items():
            instances[version] = start_demo(workdir, version, SERVICE="shop", **extra)
        prometheus = start_prometheus(
            workdir,
            {f"v{v.replace('.', '_')}": f"127.0.0.1:{i.port}" for v, i in instances.items()},
        )
        for version in (STABLE, HEALTHY, BAD, SLOW):
            loads.append(
                BackgroundLoad(
                    instances[version].url + "/", seconds=300, workers=1, pause=0.02
                ).start()
            )
        yield Fleet(prometheus, instances)
    finally:
        for load in loads:
            load.stop()
        if prometheus is not None:
            prometheus.stop()
        for instance in instances.values():
            instance.stop()
