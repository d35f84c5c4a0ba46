"""A real HAProxy in front of two real demo-service instances (1.1.0 and 1.2.0) per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from relgate.routing.config import HAProxyRouterSpec
from relgate.routing.haproxy import HAProxyRouter
from tests.support.haproxy import Client, DemoInstance, HAProxy, haproxy_program

STABLE = "1.1.0"
CANARY = "1.2.0"


@dataclass
class Proxy:
    haproxy: HAProxy
    router: HAProxyRouter
    client: Client


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DemoInstance]]:
    """The two releases of the demo service, shared by the tests of a module."""
    if haproxy_program() is None:
        pytest.fail("haproxy is not installed: run `make system-deps` (Debian's haproxy)")
    folder = tmp_path_factory.mktemp("demo")
    started: dict[str, DemoInstance] = {}
    try:
        for version in (STABLE, CANARY):
            started[version] = DemoInstance(version, folder)
        yield started
    finally:
        for instance in started.values():
            instance.stop()


def _proxy(
    folder: Path, instances: dict[str, DemoInstance], names: tuple[str, str], **spec: object
) -> Iterator[Proxy]:
    servers = {names[0]: instances[STABLE].port, names[1]: instances[CANARY].port}
    haproxy = HAProxy(folder, servers)
    client = Client(haproxy.port)
    try:
        settings = {"socket": str(haproxy.socket)} | spec
        router = HAProxyRouter(
            HAProxyRouterSpec.model_validate(
                {
                    "type": "haproxy",
                    "backend": "app",
                    f"{names[0]}_server": names[0],
                    f"{names[1]}_server": names[1],
                    **settings,
                }
            )
        )
        yield Proxy(haproxy, router, client)
    finally:
        client.close()
        haproxy.stop()


@pytest.fixture
def canary(tmp_path: Path, instances: dict[str, DemoInstance]) -> Iterator[Proxy]:
    """HAProxy with servers ``stable`` (1.1.0, weight 100) and ``canary`` (1.2.0, weight 0)."""
    yield from _proxy(tmp_path, instances, ("stable", "canary"))


@pytest.fixture
def blue_green(tmp_path: Path, instances: dict[str, DemoInstance]) -> Iterator[Proxy]:
    """HAProxy with servers ``blue`` (1.1.0, weight 100) and ``green`` (1.2.0, weight 0)."""
    yield from _proxy(tmp_path, instances, ("blue", "green"))
