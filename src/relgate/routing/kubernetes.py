"""The ``kubernetes`` router: the backendRef weights of a Gateway API HTTPRoute.

The stable and the canary (or blue and green) releases run as two
Deployments, each behind its own Service; the HTTPRoute sends each rule's
requests to its backendRefs in proportion to their weights. The canary
Deployment is put in place by a deployer (``type: kubernetes, workload:
payments-canary``); this router only moves the traffic. What a person would
do with ``kubectl edit httproute``, done by relgate:

1. read the route (``kubectl get httproutes.gateway.networking.k8s.io/NAME -o json``)
   in the environment's namespace and context;
2. in every rule whose backendRefs name both Services, set their weights
   (canary ``w`` and stable ``100 - w``; the live colour 100, the idle one 0);
3. write the rules back in a JSON merge patch conditioned on the
   ``resourceVersion`` read; a 409 Conflict (someone wrote the route in
   between) reads it again and tries once more.

The state read back is the route's spec, with notes from its status: a parent
(Gateway) that has not accepted it or not resolved its backends, or that has
not yet observed the last generation, is said so.
Through kubectl as the kubernetes deployer (relgate.deploy.kubernetes says why).
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from relgate.deploy.config import K8S_LABEL
from relgate.deploy.kubectl import Kubectl, KubectlError, find_kubectl
from relgate.routing.config import KubernetesRouterSpec
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

RESOURCE = "httproutes.gateway.networking.k8s.io"


class KubernetesRouter:
    """Routes a service through an HTTPRoute's weights (see the module's docstring)."""

    def __init__(
        self,
        spec: KubernetesRouterSpec,
        *,
        environment: str,
        base_dir: Path,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._spec = spec
        self.mode = spec.mode
        self._namespace = spec.namespace or environment
        self._base_dir = base_dir
        self._environ: Mapping[str, str] = environ if environ is not None else {}
        if self.mode is RoutingMode.CANARY:
            assert spec.stable_service is not None and spec.canary_service is not None
            self._services = {
                Target.STABLE: spec.stable_service,
                Target.CANARY: spec.canary_service,
            }
        else:
            assert spec.blue_service is not None and spec.green_service is not None
            self._services = {Target.BLUE: spec.blue_service, Target.GREEN: spec.green_service}
        self._ref = f"{RESOURCE}/{spec.route}"
        self.name = f"httproute {spec.route} in namespace {self._namespace}"

    def set_canary_weight(self, weight: int) -> RouteState:
        """Canary backendRefs at ``weight``, stable at ``100 - weight``. See TrafficRouter."""
        check_weight(weight)
        require_mode(self.mode, RoutingMode.CANARY, "set a canary weight", self.name)
        return self._write({Target.STABLE: 100 - weight, Target.CANARY: weight})

    def all_to_stable(self) -> RouteState:
        """Stable at 100, the canary at 0, in one write. See TrafficRouter."""
        require_mode(self.mode, RoutingMode.CANARY, "send all traffic to stable", self.name)
        return self._write({Target.STABLE: 100, Target.CANARY: 0})

    def switch_to(self, colour: Colour) -> RouteState:
        """``colour`` at 100 and the other at 0, in one write. See TrafficRouter."""
        colour = Colour(colour)
        require_mode(self.mode, RoutingMode.BLUE_GREEN, "switch colours", self.name)
        return self._write({colour.target: 100, colour.other.target: 0})

    def state(self) -> RouteState:
        """The route's weights and what its status says. Raises RoutingError."""
        with ExitStack() as stack:
            return self._state(self._read(self._kubectl(stack)))

    # ------------------------------------------------------------------ internals

    def _kubectl(self, stack: ExitStack) -> Kubectl:
        if not K8S_LABEL.fullmatch(self._namespace) or len(self._namespace) > 63:
            raise RoutingError(
                f"the environment {self._namespace!r} is not a Kubernetes namespace name: "
                "set the router's `namespace:`"
            )
        kubeconfig = None
        if self._spec.kubeconfig:
            kubeconfig = Path(self._spec.kubeconfig).expanduser()
            if not kubeconfig.is_absolute():
                kubeconfig = self._base_dir / kubeconfig
            if not kubeconfig.is_file():
                raise RoutingError(f"kubeconfig {kubeconfig} does not exist")
        cache = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="relgate-route-")))
        try:
            program = find_kubectl(self._spec.kubectl, base_dir=self._base_dir)
        except KubectlError as exc:
            raise RoutingError(str(exc)) from None
        return Kubectl(
            program,
            namespace=self._namespace,
            context=self._spec.context,
            kubeconfig=kubeconfig,
            request_timeout=self._spec.request_timeout_seconds,
            cache_dir=cache,
            environ=self._environ,
        )

    def _read(self, kubectl: Kubectl) -> dict[str, Any]:
        try:
            result = kubectl.run(["get", self._ref, "-o", "json"])
            if result.code != 0:
                raise RoutingError(f"cannot read {self.name}: {result.error()}")
            route = kubectl.document(result)
        except KubectlError as exc:
            raise RoutingError(f"cannot read {self.name}: {exc}") from None
        if route.get("kind") != "HTTPRoute":
            raise RoutingError(f"{self.name} answered as a {route.get('kind')!r}, not an HTTPRoute")
        self._matching(route)  # both Services must be there
        return route

    def _matching(self, route: Mapping[str, Any]) -> list[int]:
        """Indexes of the rules whose backendRefs name both Services; raise if there is none."""
        rules = _rules(route, self.name)
        wanted = set(self._services.values())
        found = [
            index
            for index, rule in enumerate(rules)
            if wanted <= {ref.get("name") for ref in _service_refs(rule, self.name, index)}
        ]
        if not found:
            names = " and ".join(self._services.values())
            raise RoutingError(
                f"{self.name} has no rule whose backendRefs name both {names}: nothing was changed"
            )
        return found

    def _write(self, weights: Mapping[Target, int]) -> RouteState:
        by_name = {self._services[target]: weight for target, weight in weights.items()}
        with ExitStack() as stack:
            kubectl = self._kubectl(stack)
            route = self._read(kubectl)
            for attempt in (1, 2):
                version = route.get("metadata", {}).get("resourceVersion")
                if not isinstance(version, str) or not version:
                    raise RoutingError(
                        f"{self.name} was read without a resourceVersion: nothing was written"
                    )
                rules = copy.deepcopy(_rules(route, self.name))
                for index in self._matching(route):
                    for ref in _service_refs(rules[index], self.name, index):
                        if ref.get("name") in by_name:
                            ref["weight"] = by_name[str(ref["name"])]
                patch = {"metadata": {"resourceVersion": version}, "spec": {"rules": rules}}
                try:
                    result = kubectl.run(
                        ["patch", self._ref, "--type=merge", "-p", json.dumps(patch), "-o", "json"]
                    )
                    if result.code == 0:
                        return self._state(kubectl.document(result))
                except KubectlError as exc:
                    raise RoutingError(f"cannot write {self.name}: {exc}") from None
                if not result.conflict:
                    raise RoutingError(f"cannot write {self.name}: {result.error()}")
                if attempt == 2:
                    raise RoutingError(
                        f"{self.name} changed again while relgate wrote it (409 Conflict "
                        "twice): nothing was written"
                    )
                route = self._read(kubectl)
        raise AssertionError("unreachable")

    def _state(self, route: Mapping[str, Any]) -> RouteState:
        rules = _rules(route, self.name)
        matching = self._matching(route)
        targets = _targets(rules[matching[0]], self._services, self.name, matching[0])
        notes: list[str] = []
        for index in matching[1:]:
            other = _targets(rules[index], self._services, self.name, index)
            if [(t.name, t.weight) for t in other] != [(t.name, t.weight) for t in targets]:
                notes.append(
                    f"rule {index} weighs its backends differently from rule {matching[0]}: "
                    + ", ".join(f"{t.name} {t.weight}" for t in other)
                )
        notes.extend(_status_notes(route))
        if not any(t.serving for t in targets):
            notes.append(f"rule {matching[0]} sends no request anywhere (every weight is 0)")
        return RouteState(router=self.name, targets=tuple(targets), notes=tuple(notes))


def _rules(route: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    spec = route.get("spec")
    rules = spec.get("rules") if isinstance(spec, Mapping) else None
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise RoutingError(f"{name} has no list of rules in its spec")
    return rules


def _service_refs(rule: Mapping[str, Any], name: str, index: int) -> list[dict[str, Any]]:
    refs = rule.get("backendRefs") or []
    if not isinstance(refs, list) or not all(isinstance(ref, dict) for ref in refs):
        raise RoutingError(f"{name}: rule {index} has backendRefs that are not a list of objects")
    return [
        ref
        for ref in refs
        if ref.get("kind", "Service") == "Service" and ref.get("group", "") in ("", "core")
    ]


def _targets(
    rule: Mapping[str, Any], services: Mapping[Target, str], name: str, index: int
) -> list[TargetState]:
    by_name = {service: target for target, service in services.items()}
    refs = rule.get("backendRefs") or []
    targets = []
    for ref in refs:
        if not isinstance(ref, Mapping):
            raise RoutingError(f"{name}: rule {index} has a backendRef that is not an object")
        weight = ref.get("weight", 1)  # the Gateway API's default weight
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise RoutingError(f"{name}: rule {index} has the weight {weight!r}")
        service = str(ref.get("name", ""))
        is_service = ref.get("kind", "Service") == "Service"
        targets.append(
            TargetState(
                target=by_name.get(service) if is_service else None,
                name=service,
                weight=weight,
                serving=weight > 0,
                detail=f"rule {index}" + ("" if is_service else f", a {ref.get('kind')}"),
            )
        )
    return targets


def _status_notes(route: Mapping[str, Any]) -> list[str]:
    """What the route's parents (Gateways) say: not accepted, unresolved, or behind."""
    generation = route.get("metadata", {}).get("generation")
    status = route.get("status")
    parents = status.get("parents") if isinstance(status, Mapping) else None
    if not isinstance(parents, list) or not parents:
        return ["no Gateway reports this route in its status yet: its weights may not be applied"]
    notes = []
    for parent in parents:
        if not isinstance(parent, Mapping):
            continue
        ref = parent.get("parentRef")
        who = ref.get("name", "?") if isinstance(ref, Mapping) else "?"
        conditions = parent.get("conditions")
        for condition in conditions if isinstance(conditions, list) else []:
            if not isinstance(condition, Mapping):
                continue
            kind, value = condition.get("type"), condition.get("status")
            if kind in ("Accepted", "ResolvedRefs") and value != "True":
                notes.append(
                    f"parent {who}: {kind} is {value} ({condition.get('reason', '')}: "
                    f"{str(condition.get('message', ''))[:200]})"
                )
            seen = condition.get("observedGeneration")
            if (
                kind == "Accepted"
                and isinstance(seen, int)
                and isinstance(generation, int)
                and seen < generation
            ):
                notes.append(
                    f"parent {who} has observed generation {seen} of the route, not "
                    f"{generation} yet: the new weights may not be applied"
                )
    return notes
