"""The router registry: a spec's type picks the adapter; bootstrap offers all three."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from relgate.clock import FixedClock
from relgate.flags.service import FlagService
from relgate.routing.config import FlagRouterSpec, HAProxyRouterSpec, KubernetesRouterSpec
from relgate.routing.flag import FlagRouter
from relgate.routing.haproxy import HAProxyRouter
from relgate.routing.kubernetes import KubernetesRouter
from relgate.routing.ports import RoutingMode
from relgate.routing.registry import RouterContext, default_routers
from relgate.store.uow import UnitOfWorkFactory


@pytest.fixture
def flags() -> FlagService:
    from datetime import UTC, datetime

    # never used to reach a database here: the builders only keep it
    return FlagService(
        UnitOfWorkFactory(create_engine("sqlite://")), FixedClock(datetime(2026, 12, 2, tzinfo=UTC))
    )


CONTEXT = RouterContext(environment="production", base_dir=Path("/srv"), environ={})


def test_each_type_builds_its_router(flags: FlagService) -> None:
    registry = default_routers(flags)

    haproxy = registry.router(
        HAProxyRouterSpec(
            type="haproxy",
            socket="/run/haproxy/admin.sock",
            backend="app",
            blue_server="blue",
            green_server="green",
        ),
        CONTEXT,
    )
    flag = registry.router(FlagRouterSpec(type="flag", flag="new-checkout"), CONTEXT)
    kubernetes = registry.router(
        KubernetesRouterSpec(
            type="kubernetes", route="payments", stable_service="a", canary_service="b"
        ),
        CONTEXT,
    )

    assert registry.types == ["flag", "haproxy", "kubernetes"]
    assert isinstance(haproxy, HAProxyRouter) and haproxy.mode is RoutingMode.BLUE_GREEN
    assert haproxy.name == "haproxy backend app at /run/haproxy/admin.sock"
    assert isinstance(flag, FlagRouter) and flag.name == "flag new-checkout in production"
    assert isinstance(kubernetes, KubernetesRouter)
    assert kubernetes.name == "httproute payments in namespace production"


def test_an_unknown_type_is_a_key_error_naming_it(flags: FlagService) -> None:
    with pytest.raises(KeyError, match="no router of type 'nginx'"):
        default_routers(flags).router(FlagRouterSpec.model_construct(type="nginx"), CONTEXT)


def test_bootstrap_offers_the_routers(tmp_path: Path) -> None:
    from relgate.bootstrap import build
    from relgate.config import Settings

    services = build(
        Settings(database_url=f"sqlite:///{tmp_path / 'relgate.db'}", data_dir=str(tmp_path)),
        base_dir=tmp_path,
    )

    assert services.routers.types == ["flag", "haproxy", "kubernetes"]
