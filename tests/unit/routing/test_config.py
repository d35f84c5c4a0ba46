"""The router: block of an environment's rollout: in relgate.yaml."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from relgate.errors import InvalidConfig
from relgate.manifest.loader import load_text
from relgate.routing.config import (
    FlagRouterSpec,
    HAProxyRouterSpec,
    KubernetesRouterSpec,
    RouterSpec,
)
from relgate.routing.ports import RoutingMode


class Rollout(BaseModel):
    """How an environment's rollout: will embed the block."""

    model_config = ConfigDict(extra="forbid")

    router: RouterSpec


def load(text: str) -> Rollout:
    return load_text(Rollout, text, "relgate.yaml")


def test_an_haproxy_canary_router_on_a_socket_loads_with_its_defaults() -> None:
    spec = load(
        """\
router:
  type: haproxy
  socket: /run/haproxy/admin.sock
  backend: payments
  stable_server: payments-stable
  canary_server: payments-canary
"""
    ).router

    assert isinstance(spec, HAProxyRouterSpec)
    assert (spec.socket, spec.address, spec.timeout_seconds) == ("/run/haproxy/admin.sock", None, 5)
    assert spec.mode is RoutingMode.CANARY


def test_an_haproxy_blue_green_router_on_tcp_is_in_blue_green_mode() -> None:
    spec = load(
        "router: {type: haproxy, address: '127.0.0.1:9999', backend: app, "
        "blue_server: blue, green_server: green}\n"
    ).router

    assert isinstance(spec, HAProxyRouterSpec)
    assert spec.mode is RoutingMode.BLUE_GREEN


def test_a_flag_router_defaults_to_userid_stickiness_and_the_rollouts_environment() -> None:
    spec = load("router: {type: flag, flag: new-checkout}\n").router

    assert isinstance(spec, FlagRouterSpec)
    assert (spec.flag, spec.environment, spec.stickiness, spec.mode) == (
        "new-checkout",
        None,
        "userId",
        RoutingMode.CANARY,
    )


def test_a_kubernetes_router_names_the_route_and_its_two_services() -> None:
    spec = load(
        """\
router:
  type: kubernetes
  route: payments
  namespace: production
  blue_service: payments-blue
  green_service: payments-green
"""
    ).router

    assert isinstance(spec, KubernetesRouterSpec)
    assert spec.mode is RoutingMode.BLUE_GREEN
    assert spec.request_timeout_seconds == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "router: {type: nginx}\n",
            "relgate.yaml:1: router: type must be one of: haproxy, flag, kubernetes",
        ),
        (
            "router: {type: haproxy, backend: app, stable_server: a, canary_server: b}\n",
            "give the runtime API's `socket:` or its `address:` (one of them)",
        ),
        (
            "router: {type: haproxy, socket: /s, address: 'h:1', backend: app, "
            "stable_server: a, canary_server: b}\n",
            "(one of them)",
        ),
        (
            "router: {type: haproxy, socket: /s, backend: app, stable_server: a}\n",
            "canary_server is missing (with stable_server goes canary_server)",
        ),
        (
            "router: {type: haproxy, socket: /s, backend: app, stable_server: a, "
            "canary_server: b, blue_server: c, green_server: d}\n",
            "give either stable_server and canary_server (a canary) or blue_server and "
            "green_server (blue-green), not both",
        ),
        (
            "router: {type: haproxy, socket: /s, backend: app, blue_server: a, green_server: a}\n",
            "blue_server and green_server name the same server",
        ),
        (
            "router: {type: haproxy, socket: /s, backend: app}\n",
            "name the servers: stable_server and canary_server (a canary) or blue_server",
        ),
        (
            "router:\n  type: haproxy\n  socket: /s\n  backend: 'app;help'\n"
            "  stable_server: a\n  canary_server: b\n",
            "relgate.yaml:4: router.backend: 'app;help' is not an HAProxy backend name",
        ),
        (
            "router: {type: haproxy, socket: run/admin.sock, backend: app, "
            "stable_server: a, canary_server: b}\n",
            "router.socket: must be the absolute path of a unix socket",
        ),
        (
            "router: {type: haproxy, address: '127.0.0.1', backend: app, "
            "stable_server: a, canary_server: b}\n",
            "router.address: '127.0.0.1' is not HOST:PORT",
        ),
        (
            "router: {type: haproxy, address: 'h:70000', backend: app, "
            "stable_server: a, canary_server: b}\n",
            "is not HOST:PORT",
        ),
        (
            "router: {type: flag, flag: 'new checkout'}\n",
            "router.flag: 'new checkout' is not a flag key",
        ),
        (
            "router: {type: flag, flag: x, stickiness: '1x'}\n",
            "router.stickiness: '1x' is not a context field name",
        ),
        (
            "router: {type: kubernetes, route: Payments, stable_service: a, canary_service: b}\n",
            "router.route: 'Payments' is not a Kubernetes object name",
        ),
        (
            "router: {type: kubernetes, route: p, stable_service: a_b, canary_service: b}\n",
            "router.stable_service: 'a_b' is not a Kubernetes Service name",
        ),
        (
            "router: {type: kubernetes, route: p, canary_service: b, blue_service: c}\n",
            "not both",
        ),
        (
            "router: {type: flag, flag: x, weight: 5}\n",
            "router.weight",
        ),
    ],
)
def test_a_bad_router_block_names_the_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        load(text)

    assert message in str(caught.value)
    assert str(caught.value).startswith("relgate.yaml:")
