"""The registry of router types: chosen in the composition root, by ``type``.

bootstrap.py builds one :class:`RouterRegistry` with every type the server
knows (``haproxy``, ``flag``, ``kubernetes``); the rollout asks it for the
router of an environment's ``router:`` spec. Nothing else maps a YAML
``type`` to a class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from relgate.flags.service import FlagService
from relgate.routing.config import FlagRouterSpec, HAProxyRouterSpec, KubernetesRouterSpec
from relgate.routing.flag import FlagRouter
from relgate.routing.haproxy import HAProxyRouter
from relgate.routing.kubernetes import KubernetesRouter
from relgate.routing.ports import TrafficRouter


@dataclass(frozen=True)
class RouterContext:
    """What a builder may use besides the spec."""

    environment: str
    """The relgate environment the router serves (a default namespace or flags environment)."""
    base_dir: Path
    """The folder relative paths (a kubeconfig) resolve against."""
    environ: Mapping[str, str] = field(default_factory=dict)
    """The server's environment (KUBECONFIG, PATH for kubectl)."""


RouterBuilder = Callable[[Any, RouterContext], TrafficRouter]


class RouterRegistry:
    """Maps a ``router:`` spec's ``type`` to the code that builds its router."""

    def __init__(self) -> None:
        self._builders: dict[str, RouterBuilder] = {}

    def add(self, type_: str, builder: RouterBuilder) -> None:
        self._builders[type_] = builder

    @property
    def types(self) -> list[str]:
        return sorted(self._builders)

    def router(self, spec: Any, context: RouterContext) -> TrafficRouter:
        """Build the router of ``spec``.

        Raises KeyError naming the type when this server has no router of that type.
        """
        type_ = getattr(spec, "type", None)
        if type_ not in self._builders:
            raise KeyError(f"this server has no router of type {type_!r}")
        return self._builders[type_](spec, context)


_T = TypeVar("_T")


def _as(spec: Any, kind: type[_T]) -> _T:
    if not isinstance(spec, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(spec).__name__}")
    return spec


def default_routers(flags: FlagService) -> RouterRegistry:
    """Every router type a relgate server offers; the flag router uses ``flags``."""
    registry = RouterRegistry()
    registry.add("haproxy", lambda spec, ctx: HAProxyRouter(_as(spec, HAProxyRouterSpec)))
    registry.add(
        "flag",
        lambda spec, ctx: FlagRouter(_as(spec, FlagRouterSpec), flags, environment=ctx.environment),
    )
    registry.add(
        "kubernetes",
        lambda spec, ctx: KubernetesRouter(
            _as(spec, KubernetesRouterSpec),
            environment=ctx.environment,
            base_dir=ctx.base_dir,
            environ=ctx.environ,
        ),
    )
    return registry
