"""The ``haproxy`` router: two servers of one backend, moved by HAProxy's runtime API.

Canary: the weights of the stable and canary servers add up to 100, so a
weight is the canary's share of new requests (``balance roundrobin`` or any
weighted algorithm; HTTP mode balances each request, so a share changes with
the next request, not the next connection). An abort sets the canary's weight
to 0 and puts it in ``maint``: no new request reaches it, not even one pinned
to it by a persistence cookie; requests it is answering finish.

Blue-green: the live colour is ``ready`` with weight 100, the idle one has
weight 0 and is in ``drain``: it finishes what it is answering, keeps its
health checks, and is the instant rollback (a switch back).

Each change reads the backend first (both servers must be there, and a server
that is to take every request must not be down by its health check: that would
leave no server to answer), sends its commands on one line, and answers the
state read back afterwards. An abort (all to stable) goes ahead whatever
stable's state: it is the way out, and the state read back says so.
"""

from __future__ import annotations

from relgate.routing.config import HAProxyRouterSpec
from relgate.routing.haproxy_api import (
    AdminState,
    OpState,
    RuntimeApi,
    ServerState,
    check_name,
    set_state,
    set_weight,
)
from relgate.routing.ports import (
    Colour,
    RouteState,
    RoutingError,
    RoutingMode,
    Target,
    TargetState,
    check_weight,
    require_mode,
)


class HAProxyRouter:
    """Routes a service through HAProxy (see the module's docstring)."""

    def __init__(self, spec: HAProxyRouterSpec, *, api: RuntimeApi | None = None) -> None:
        self._spec = spec
        self.mode = spec.mode
        self._backend = check_name(spec.backend, "backend")
        if self.mode is RoutingMode.CANARY:
            assert spec.stable_server is not None and spec.canary_server is not None
            names = {Target.STABLE: spec.stable_server, Target.CANARY: spec.canary_server}
        else:
            assert spec.blue_server is not None and spec.green_server is not None
            names = {Target.BLUE: spec.blue_server, Target.GREEN: spec.green_server}
        # checked here too: a spec built without validation must not reach the socket
        self._servers = {target: check_name(name, "server") for target, name in names.items()}
        self._api = api or RuntimeApi(
            socket_path=spec.socket, address=spec.address, timeout=spec.timeout_seconds
        )
        self.name = f"haproxy backend {self._backend} at {self._api.where}"

    def set_canary_weight(self, weight: int) -> RouteState:
        """Give the canary ``weight`` % and stable the rest; both ``ready``. See TrafficRouter."""
        check_weight(weight)
        require_mode(self.mode, RoutingMode.CANARY, "set a canary weight", self.name)
        stable, canary = self._servers[Target.STABLE], self._servers[Target.CANARY]
        alone = {0: stable, 100: canary}.get(weight)
        self._change(
            [
                set_state(self._backend, stable, AdminState.READY),
                set_state(self._backend, canary, AdminState.READY),
                set_weight(self._backend, stable, 100 - weight),
                set_weight(self._backend, canary, weight),
            ],
            alone=alone,
        )
        return self.state()

    def all_to_stable(self) -> RouteState:
        """Stable at weight 100, the canary at 0 and in ``maint``. See TrafficRouter."""
        require_mode(self.mode, RoutingMode.CANARY, "send all traffic to stable", self.name)
        stable, canary = self._servers[Target.STABLE], self._servers[Target.CANARY]
        self._change(
            [
                set_state(self._backend, stable, AdminState.READY),
                set_weight(self._backend, stable, 100),
                set_weight(self._backend, canary, 0),
                set_state(self._backend, canary, AdminState.MAINT),
            ]
        )
        return self.state()

    def switch_to(self, colour: Colour) -> RouteState:
        """``colour`` ready at weight 100, the other at 0 and draining. See TrafficRouter."""
        colour = Colour(colour)
        require_mode(self.mode, RoutingMode.BLUE_GREEN, "switch colours", self.name)
        live, idle = self._servers[colour.target], self._servers[colour.other.target]
        # the new colour takes traffic before the old one stops: no request finds neither
        self._change(
            [
                set_state(self._backend, live, AdminState.READY),
                set_weight(self._backend, live, 100),
                set_weight(self._backend, idle, 0),
                set_state(self._backend, idle, AdminState.DRAIN),
            ],
            alone=live,
        )
        return self.state()

    def state(self) -> RouteState:
        """The backend's servers as HAProxy reports them. Raises RoutingError."""
        return self._state(self._read())

    # ------------------------------------------------------------------ internals

    def _read(self) -> list[ServerState]:
        servers = self._api.servers(self._backend)
        present = {server.name for server in servers}
        missing = [name for name in self._servers.values() if name not in present]
        if missing:
            raise RoutingError(
                f"{self.name} has no server {', '.join(repr(n) for n in missing)} "
                f"(it has: {', '.join(sorted(present)) or 'none'}): nothing was changed"
            )
        return servers

    def _change(self, commands: list[tuple[str, ...]], *, alone: str | None = None) -> None:
        """Run ``commands`` once both servers are there and ``alone`` (to take every request)
        is not down by its health check: that would leave no server to answer."""
        servers = {server.name: server for server in self._read()}
        if alone is not None:
            server = servers[alone]
            if server.op_state is OpState.STOPPED and not server.admin.maintenance:
                raise RoutingError(
                    f"{self.name}: server {alone} is down (its health check fails) and would "
                    "take every request: nothing was changed"
                )
        self._api.change(commands)

    def _state(self, servers: list[ServerState]) -> RouteState:
        by_name = {name: target for target, name in self._servers.items()}
        targets: list[TargetState] = []
        notes: list[str] = []
        for server in servers:
            target = by_name.get(server.name)
            targets.append(
                TargetState(
                    target=target,
                    name=server.name,
                    weight=server.weight,
                    serving=server.serving,
                    detail=server.detail,
                )
            )
            if (
                target is not None
                and server.op_state is OpState.STOPPED
                and not server.admin.maintenance
            ):
                notes.append(f"server {server.name} ({target}) is down: its health check fails")
            if target is None and server.serving:
                notes.append(
                    f"server {server.name} is not relgate's and takes part of the traffic "
                    f"(weight {server.weight})"
                )
        if not any(t.serving for t in targets):
            notes.append(f"no server of backend {self._backend} takes new requests")
        return RouteState(router=self.name, targets=tuple(targets), notes=tuple(notes))
