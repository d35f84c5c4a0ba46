"""Reading an HTTPRoute: its backendRefs as targets, and what its status says (pure helpers)."""

from __future__ import annotations

import pytest

from relgate.routing.kubernetes import _status_notes, _targets
from relgate.routing.ports import RoutingError, Target

SERVICES = {Target.STABLE: "pay-stable", Target.CANARY: "pay-canary"}


def test_backend_refs_become_targets_with_the_default_weight_of_1() -> None:
    rule = {
        "backendRefs": [
            {"name": "pay-stable", "port": 80},
            {"name": "pay-canary", "port": 80, "weight": 3},
            {"name": "mirror", "kind": "ServiceImport", "group": "multicluster.x-k8s.io"},
        ]
    }

    targets = _targets(rule, SERVICES, "route", 2)

    assert [(t.target, t.name, t.weight, t.serving, t.detail) for t in targets] == [
        (Target.STABLE, "pay-stable", 1, True, "rule 2"),
        (Target.CANARY, "pay-canary", 3, True, "rule 2"),
        (None, "mirror", 1, True, "rule 2, a ServiceImport"),
    ]


@pytest.mark.parametrize("weight", [-1, "50", True, 2.5])
def test_a_weight_that_is_not_a_whole_number_is_refused(weight: object) -> None:
    with pytest.raises(RoutingError, match=f"rule 0 has the weight {weight!r}"):
        _targets({"backendRefs": [{"name": "pay-stable", "weight": weight}]}, SERVICES, "r", 0)


def test_a_route_no_gateway_reports_is_said_so() -> None:
    assert _status_notes({"metadata": {"generation": 1}, "status": {}}) == [
        "no Gateway reports this route in its status yet: its weights may not be applied"
    ]


def test_an_accepted_resolved_current_route_has_no_note() -> None:
    route = {
        "metadata": {"generation": 4},
        "status": {
            "parents": [
                {
                    "parentRef": {"name": "public"},
                    "conditions": [
                        {"type": "Accepted", "status": "True", "observedGeneration": 4},
                        {"type": "ResolvedRefs", "status": "True", "observedGeneration": 4},
                        {"type": "Programmed", "status": "False"},
                    ],
                }
            ]
        },
    }

    assert _status_notes(route) == []


def test_unresolved_backends_and_a_lagging_gateway_are_each_noted() -> None:
    route = {
        "metadata": {"generation": 5},
        "status": {
            "parents": [
                {
                    "parentRef": {"name": "public"},
                    "conditions": [
                        {"type": "Accepted", "status": "True", "observedGeneration": 4},
                        {
                            "type": "ResolvedRefs",
                            "status": "False",
                            "reason": "BackendNotFound",
                            "message": 'service "pay-canary" not found',
                        },
                    ],
                }
            ]
        },
    }

    assert _status_notes(route) == [
        "parent public has observed generation 4 of the route, not 5 yet: the new weights "
        "may not be applied",
        'parent public: ResolvedRefs is False (BackendNotFound: service "pay-canary" not found)',
    ]
