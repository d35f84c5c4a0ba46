"""Traffic routing for progressive delivery: how much traffic each release of a service gets.

    ports.py        TrafficRouter (the port), RouteState, Target, Colour, RoutingError
    config.py       the ``router:`` specs of relgate.yaml (haproxy, flag, kubernetes)
    haproxy_api.py  a bounded client of HAProxy's runtime API
    haproxy.py      HAProxyRouter: server weights and states of one backend
    flag.py         FlagRouter: a feature flag's gradual rollout, sticky on userId
    kubernetes.py   KubernetesRouter: a Gateway API HTTPRoute's backendRef weights
    registry.py     RouterRegistry: ``type`` -> router, built in bootstrap.py

docs/routing.md is the reference. Not yet driven by deployments: the rollout
orchestration (canary steps, blue-green, analysis) comes on top of this port.
"""

from relgate.routing.ports import (
    Colour,
    RouteState,
    RoutingError,
    RoutingMode,
    Target,
    TargetState,
    TrafficRouter,
)

__all__ = [
    "Colour",
    "RouteState",
    "RoutingError",
    "RoutingMode",
    "Target",
    "TargetState",
    "TrafficRouter",
]
