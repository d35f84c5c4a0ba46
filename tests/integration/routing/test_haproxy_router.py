"""The haproxy router against a real HAProxy routing real requests to two demo-service instances.

Debian's haproxy runs in the foreground per test (tests/support/haproxy.py), its
runtime API on a unix socket (and a TCP port) in the test's folder; the
stable/blue server is demo-service 1.1.0, the canary/green server 1.2.0.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from relgate.errors import BadInput
from relgate.routing.config import HAProxyRouterSpec
from relgate.routing.haproxy import HAProxyRouter
from relgate.routing.ports import Colour, RoutingError, Target
from tests.integration.routing.conftest import CANARY, STABLE, Proxy
from tests.support.haproxy import Client, DemoInstance, HAProxy, free_port

# ---------------------------------------------------------------------------- canary


def test_at_canary_weight_0_every_response_is_the_stable_version(canary: Proxy) -> None:
    state = canary.router.set_canary_weight(0)

    assert canary.client.versions(200) == {STABLE: 200}
    assert state.canary_share == 0.0
    assert state.share(Target.STABLE) == 100.0
    weights = {t.name: (t.target, t.weight, t.serving, t.detail) for t in state.targets}
    assert weights == {
        "stable": (Target.STABLE, 100, True, "up"),
        "canary": (Target.CANARY, 0, False, "up"),
    }
    assert state.notes == ()


def test_at_25_percent_a_quarter_of_400_requests_reach_the_canary(canary: Proxy) -> None:
    state = canary.router.set_canary_weight(25)

    seen = canary.client.versions(400)
    assert set(seen) == {STABLE, CANARY}
    # round robin at 75/25 is close to exact; the band only allows for another algorithm
    assert 60 <= seen[CANARY] <= 140, seen
    assert sum(seen.values()) == 400
    assert state.canary_share == 25.0
    assert [(t.name, t.weight) for t in state.targets] == [("stable", 75), ("canary", 25)]


def test_the_weight_moves_on_and_back_and_reads_back_each_time(canary: Proxy) -> None:
    shares = [canary.router.set_canary_weight(w).canary_share for w in (5, 50, 100, 10)]

    assert shares == [5.0, 50.0, 100.0, 10.0]
    assert canary.router.set_canary_weight(100).live is None  # canary mode has no colours
    assert canary.client.versions(50) == {CANARY: 50}


def test_all_to_stable_sends_every_next_request_to_stable_at_once(canary: Proxy) -> None:
    canary.router.set_canary_weight(50)
    assert set(canary.client.versions(40)) == {STABLE, CANARY}

    state = canary.router.all_to_stable()

    # the very next request and every one after: no ramp, no second step
    assert canary.client.versions(300) == {STABLE: 300}
    assert state.canary_share == 0.0
    by_name = {t.name: t for t in state.targets}
    assert by_name["canary"].detail == "maintenance"
    assert by_name["canary"].serving is False
    assert (by_name["stable"].weight, by_name["stable"].serving) == (100, True)


def test_a_canary_after_an_abort_takes_its_share_again(canary: Proxy) -> None:
    canary.router.set_canary_weight(25)
    canary.router.all_to_stable()

    state = canary.router.set_canary_weight(50)

    assert state.canary_share == 50.0
    assert {t.name: t.detail for t in state.targets} == {"stable": "up", "canary": "up"}
    assert set(canary.client.versions(20)) == {STABLE, CANARY}


def test_the_read_back_is_what_haproxy_does_not_what_relgate_last_asked(canary: Proxy) -> None:
    canary.router.set_canary_weight(10)
    # another operator changes the backend behind relgate's back
    assert canary.haproxy.command("set weight app/canary 30; set weight app/stable 10") == "\n\n"

    state = canary.router.state()

    assert state.canary_share == 75.0
    assert [(t.name, t.weight) for t in state.targets] == [("stable", 10), ("canary", 30)]
    assert canary.haproxy.command("set server app/canary state drain") == "\n"
    drained = canary.router.state()
    assert drained.canary_share == 0.0
    assert {t.name: t.detail for t in drained.targets}["canary"] == "up, drain"


def test_a_canary_whose_health_check_fails_reads_back_as_down_and_gets_no_sole_share(
    tmp_path: Path, instances: dict[str, DemoInstance]
) -> None:
    # the canary server on a closed port: its checks (every second) fail, HAProxy marks it down
    proxy = HAProxy(tmp_path, {"stable": instances[STABLE].port, "canary": free_port()})
    router = HAProxyRouter(
        HAProxyRouterSpec(
            type="haproxy",
            socket=str(proxy.socket),
            backend="app",
            stable_server="stable",
            canary_server="canary",
        )
    )
    try:
        router.set_canary_weight(50)
        deadline = time.monotonic() + 30
        state = router.state()
        while "down" not in " ".join(state.notes) and time.monotonic() < deadline:
            time.sleep(0.2)
            state = router.state()

        assert "server canary (canary) is down: its health check fails" in state.notes
        assert state.canary_share == 0.0
        assert {t.name: t.detail for t in state.targets}["canary"] == "down"
        # every request to a server that is down would leave none to answer: refused
        with pytest.raises(RoutingError, match=r"server canary is down .*nothing was changed"):
            router.set_canary_weight(100)
        assert [(t.name, t.weight) for t in router.state().targets] == [
            ("stable", 50),
            ("canary", 50),
        ]
    finally:
        proxy.stop()


# ---------------------------------------------------------------------------- blue-green


def test_a_switch_to_a_colour_that_is_down_is_refused_and_blue_keeps_the_traffic(
    tmp_path: Path, instances: dict[str, DemoInstance]
) -> None:
    proxy = HAProxy(tmp_path, {"blue": instances[STABLE].port, "green": free_port()})
    router = HAProxyRouter(
        HAProxyRouterSpec(
            type="haproxy",
            socket=str(proxy.socket),
            backend="app",
            blue_server="blue",
            green_server="green",
        )
    )
    try:
        deadline = time.monotonic() + 30
        while router.state().notes == () and time.monotonic() < deadline:
            time.sleep(0.2)
        assert router.state().notes == ("server green (green) is down: its health check fails",)

        with pytest.raises(RoutingError, match=r"server green is down .*nothing was changed"):
            router.switch_to(Colour.GREEN)
        assert router.state().live is Colour.BLUE
        client = Client(proxy.port)
        assert client.versions(20) == {STABLE: 20}
        client.close()
    finally:
        proxy.stop()


def test_a_blue_green_switch_moves_every_later_request_and_a_client_under_load_loses_none(
    blue_green: Proxy,
) -> None:
    assert blue_green.router.state().live is Colour.BLUE
    assert blue_green.client.versions(20) == {STABLE: 20}

    results: list[tuple[float, str]] = []
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        client = Client(blue_green.haproxy.port)
        try:
            for _ in range(20_000):  # bounded even if the test never sets stop
                if stop.is_set():
                    return
                started = time.monotonic()
                try:
                    results.append((started, client.version()))
                except Exception as exc:
                    failures.append(repr(exc))
        finally:
            client.close()

    loader = threading.Thread(target=load)
    loader.start()
    try:
        while len(results) < 50:
            time.sleep(0.01)
        state = blue_green.router.switch_to(Colour.GREEN)
        switched = time.monotonic()
        while sum(1 for started, _ in results if started > switched) < 50:
            time.sleep(0.01)
    finally:
        stop.set()
        loader.join()

    assert failures == []
    assert state.live is Colour.GREEN
    after = {version for started, version in results if started > switched}
    assert after == {CANARY}
    assert {version for started, version in results if started < switched} >= {STABLE}
    assert blue_green.client.versions(100) == {CANARY: 100}
    by_name = {t.name: t for t in state.targets}
    assert (by_name["green"].weight, by_name["green"].detail) == (100, "up")
    assert (by_name["blue"].weight, by_name["blue"].detail) == (0, "up, drain")


def test_switching_back_is_the_instant_revert(blue_green: Proxy) -> None:
    blue_green.router.switch_to(Colour.GREEN)
    assert blue_green.client.versions(30) == {CANARY: 30}

    state = blue_green.router.switch_to(Colour.BLUE)

    assert state.live is Colour.BLUE
    assert blue_green.client.versions(100) == {STABLE: 100}
    assert blue_green.router.state().live is Colour.BLUE


def test_each_mode_refuses_the_other_modes_operations(canary: Proxy, blue_green: Proxy) -> None:
    with pytest.raises(BadInput, match=r"configured for canary routing .*cannot switch colours"):
        canary.router.switch_to(Colour.GREEN)
    with pytest.raises(BadInput, match="configured for blue_green routing"):
        blue_green.router.set_canary_weight(10)
    with pytest.raises(BadInput, match="configured for blue_green routing"):
        blue_green.router.all_to_stable()
    with pytest.raises(BadInput, match="101 is not a whole percentage"):
        canary.router.set_canary_weight(101)
    assert canary.client.versions(10) == {STABLE: 10}


# ---------------------------------------------------------------------------- the runtime API


def test_the_runtime_api_on_tcp_works_as_the_socket(canary: Proxy) -> None:
    router = HAProxyRouter(
        HAProxyRouterSpec(
            type="haproxy",
            address=f"127.0.0.1:{canary.haproxy.api_port}",
            backend="app",
            stable_server="stable",
            canary_server="canary",
        )
    )

    assert router.set_canary_weight(50).canary_share == 50.0
    assert router.name == f"haproxy backend app at tcp 127.0.0.1:{canary.haproxy.api_port}"
    assert canary.router.state().canary_share == 50.0


@pytest.mark.parametrize(
    "hostile",
    [
        "canary\nset weight app/stable 0",
        "canary\n",
        "canary; set weight app/stable 0",
        "canary set weight",
        "",
        "c" * 101,
        "canary\x00",
        "kanärie",
    ],
)
def test_a_hostile_server_name_is_refused_before_it_reaches_the_socket(
    tmp_path: Path, canary: Proxy, hostile: str
) -> None:
    with pytest.raises(ValidationError, match="is not an HAProxy server name"):
        HAProxyRouterSpec.model_validate(
            {
                "type": "haproxy",
                "socket": str(canary.haproxy.socket),
                "backend": "app",
                "stable_server": "stable",
                "canary_server": hostile,
            }
        )
    # a spec built without validation: the router checks again, before connecting
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / "spy.sock"))
    listener.listen(1)
    listener.setblocking(False)
    unchecked = HAProxyRouterSpec.model_construct(
        type="haproxy",
        socket=str(tmp_path / "spy.sock"),
        address=None,
        backend="app",
        stable_server="stable",
        canary_server=hostile,
        blue_server=None,
        green_server=None,
        timeout_seconds=1,
    )
    try:
        with pytest.raises(BadInput, match="nothing was sent to HAProxy"):
            HAProxyRouter(unchecked).set_canary_weight(10)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever connected
    finally:
        listener.close()
    assert canary.router.state().canary_share == 0.0


def test_a_server_the_backend_does_not_have_is_a_clear_error_and_nothing_changes(
    canary: Proxy,
) -> None:
    router = HAProxyRouter(
        HAProxyRouterSpec(
            type="haproxy",
            socket=str(canary.haproxy.socket),
            backend="app",
            stable_server="stable",
            canary_server="canary-2",
        )
    )

    with pytest.raises(RoutingError, match=r"has no server 'canary-2' \(it has: canary, stable\)"):
        router.set_canary_weight(50)
    assert canary.router.state().canary_share == 0.0
    assert canary.client.versions(10) == {STABLE: 10}


def test_a_backend_haproxy_does_not_have_is_haproxys_own_error(canary: Proxy) -> None:
    router = HAProxyRouter(
        HAProxyRouterSpec(
            type="haproxy",
            socket=str(canary.haproxy.socket),
            backend="payments",
            stable_server="stable",
            canary_server="canary",
        )
    )

    with pytest.raises(RoutingError, match=r"`show servers state payments`: Can't find backend"):
        router.state()


def test_haproxy_not_running_is_a_routing_error(tmp_path: Path) -> None:
    router = HAProxyRouter(
        HAProxyRouterSpec(
            type="haproxy",
            socket=str(tmp_path / "absent.sock"),
            backend="app",
            stable_server="stable",
            canary_server="canary",
        )
    )

    with pytest.raises(RoutingError, match=r"cannot reach haproxy's runtime API at .*absent.sock"):
        router.all_to_stable()
