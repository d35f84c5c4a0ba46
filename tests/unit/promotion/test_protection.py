"""compare_protection: what a new pipeline weakens or tightens in protected environments."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from relgate.manifest.pipeline import parse_pipeline
from relgate.promotion.pipeline import PipelineSpec
from relgate.promotion.protection import compare_protection

Doc = dict[str, Any]


def base() -> Doc:
    return {
        "service": "shop",
        "environments": [
            {
                "name": "staging",
                "gates": [{"type": "tests_passed"}],
                "deployer": {"type": "record"},
            },
            {
                "name": "production",
                "auto_rollback": True,
                "gates": [
                    {"type": "tests_passed"},
                    {"type": "coverage", "min": 80},
                    {"type": "vulnerabilities", "max": {"critical": 0, "high": 5}},
                    {"type": "performance", "metric": "p95_ms", "max_regression_percent": 5},
                    {"type": "verified_in"},
                    {"type": "smoke_tests"},
                    {"type": "approval", "count": 2},
                    {"type": "freeze", "windows": [{"start": "Fri 16:00", "end": "Mon 08:00"}]},
                ],
                "deployer": {"ref": "prod"},
                "verify": {"type": "http", "url": "http://127.0.0.1:8803/healthz"},
            },
        ],
    }


def spec(doc: Doc) -> PipelineSpec:
    return parse_pipeline(yaml.safe_dump(doc, sort_keys=False), "relgate.yaml").pipeline


def gates(doc: Doc, env: int = 1) -> list[Doc]:
    result: list[Doc] = doc["environments"][env]["gates"]
    return result


def gate_of(doc: Doc, kind: str) -> Doc:
    return next(g for g in gates(doc) if g["type"] == kind)


def without(doc: Doc, kind: str) -> Doc:
    doc["environments"][1]["gates"] = [g for g in gates(doc) if g["type"] != kind]
    return doc


def changes(after: Doc, before: Doc | None = None, **kw: Any) -> tuple[list[str], list[str]]:
    diff = compare_protection(spec(before or base()), spec(after), **kw)
    return [c.message for c in diff.weakenings], [c.message for c in diff.tightenings]


def test_the_same_pipeline_changes_nothing() -> None:
    assert changes(base()) == ([], [])


def test_reordering_gates_and_keys_and_reformatting_the_file_change_nothing() -> None:
    doc = base()
    production = doc["environments"][1]
    production["gates"] = list(reversed(production["gates"]))
    doc["environments"][1] = dict(reversed(list(production.items())))
    flow = yaml.safe_dump(doc, default_flow_style=True, sort_keys=True)

    after = parse_pipeline(flow, "relgate.yaml").pipeline

    diff = compare_protection(spec(base()), after)
    assert (diff.weakenings, diff.tightenings) == ((), ())


def test_splitting_a_freeze_window_in_two_that_cover_the_same_time_changes_nothing() -> None:
    doc = base()
    gate_of(doc, "freeze")["windows"] = [
        {"start": "Fri 16:00", "end": "Sun 00:00"},
        {"start": "Sun 00:00", "end": "Mon 08:00"},
    ]

    assert changes(doc) == ([], [])


def test_a_first_pipeline_has_nothing_to_weaken() -> None:
    diff = compare_protection(None, spec(base()))

    assert (diff.weakenings, diff.tightenings, diff.weakens) == ((), (), False)


def test_removing_the_approval_gate_weakens_production() -> None:
    assert changes(without(base(), "approval")) == (
        [
            "production no longer needs an approval "
            "(the approval gate needing 2 approvals is removed)"
        ],
        [],
    )


def test_fewer_approvals_weaken_and_more_tighten() -> None:
    fewer, more = base(), base()
    gate_of(fewer, "approval")["count"] = 1
    gate_of(more, "approval")["count"] = 3

    assert changes(fewer) == (["production approvals needed lowered from 2 to 1"], [])
    assert changes(more) == ([], ["production approvals needed raised from 2 to 3"])


def test_two_approval_gates_demand_the_larger_count() -> None:
    doc = base()
    gate_of(doc, "approval")["count"] = 1
    gates(doc).append({"type": "approval", "count": 2})

    assert changes(doc) == ([], [])


def test_a_lower_coverage_minimum_weakens_and_a_higher_one_tightens() -> None:
    lower, higher = base(), base()
    gate_of(lower, "coverage")["min"] = 70
    gate_of(higher, "coverage")["min"] = 85.5

    assert changes(lower) == (["production coverage minimum lowered from 80% to 70%"], [])
    assert changes(higher) == ([], ["production coverage minimum raised from 80% to 85.5%"])


def test_removing_the_coverage_gate_weakens_production() -> None:
    assert changes(without(base(), "coverage")) == (
        ["production no longer checks coverage (the coverage gate needing 80% is removed)"],
        [],
    )


def test_raising_or_dropping_a_vulnerability_limit_weakens_production() -> None:
    doc = base()
    gate_of(doc, "vulnerabilities")["max"] = {"critical": 2}

    assert changes(doc) == (
        [
            "production critical vulnerabilities allowed raised from 0 to 2",
            "production no longer limits high vulnerabilities (at most 5 before)",
        ],
        [],
    )


def test_a_new_vulnerability_limit_tightens_production() -> None:
    doc = base()
    gate_of(doc, "vulnerabilities")["max"] = {"critical": 0, "high": 3, "medium": 10}

    assert changes(doc) == (
        [],
        [
            "production high vulnerabilities allowed lowered from 5 to 3",
            "production medium vulnerabilities allowed lowered to 10",
        ],
    )


def test_accepting_a_vulnerability_or_accepting_it_longer_weakens_production() -> None:
    accepted = base()
    gate_of(accepted, "vulnerabilities")["accept"] = [
        {"id": "cve-2024-3094", "expires": "2026-12-31", "reason": "not reachable"}
    ]
    longer = copy.deepcopy(accepted)
    gate_of(longer, "vulnerabilities")["accept"][0]["expires"] = "2027-03-31"

    assert changes(accepted) == (
        ["production now accepts vulnerability CVE-2024-3094 until 2026-12-31"],
        [],
    )
    assert changes(longer, before=accepted) == (
        [
            "production accepts vulnerability CVE-2024-3094 longer: "
            "until 2027-03-31 instead of 2026-12-31"
        ],
        [],
    )
    assert changes(base(), before=accepted) == (
        [],
        ["production no longer accepts vulnerability CVE-2024-3094"],
    )


def test_removing_the_vulnerabilities_gate_weakens_production() -> None:
    assert changes(without(base(), "vulnerabilities")) == (
        ["production no longer checks vulnerabilities (the vulnerabilities gate is removed)"],
        [],
    )


def test_a_larger_performance_tolerance_or_passing_without_baseline_weakens_production() -> None:
    doc = base()
    gate_of(doc, "performance")["max_regression_percent"] = 10
    gate_of(doc, "performance")["pass_without_baseline"] = True

    assert changes(doc) == (
        [
            "production performance of p95_ms against production: regression allowed raised "
            "from 5% to 10%",
            "production performance of p95_ms against production: now passes when there is no "
            "baseline (pass_without_baseline)",
        ],
        [],
    )


def test_comparing_a_metric_against_another_environment_is_a_removed_and_a_new_gate() -> None:
    doc = base()
    gate_of(doc, "performance")["baseline_environment"] = "staging"

    assert changes(doc) == (
        [
            "production no longer checks performance of p95_ms against production "
            "(the performance gate is removed)"
        ],
        ["production now checks performance of p95_ms against staging (at most 5% worse)"],
    )


def test_removing_tests_verified_in_and_smoke_tests_gates_weakens_production() -> None:
    doc = without(without(without(base(), "tests_passed"), "verified_in"), "smoke_tests")

    assert changes(doc) == (
        [
            "production no longer needs passing tests (the tests_passed gate is removed)",
            "production no longer needs a deployment verified in staging (verified_in)",
            "production no longer needs passing smoke tests in staging (smoke_tests)",
        ],
        [],
    )


def test_naming_the_previous_environment_explicitly_changes_nothing() -> None:
    doc = base()
    gate_of(doc, "verified_in")["environment"] = "staging"
    gate_of(doc, "smoke_tests")["environment"] = "staging"

    assert changes(doc) == ([], [])


def test_an_order_that_reaches_production_through_fewer_environments_weakens_it() -> None:
    before: Doc = {
        "service": "shop",
        "environments": [
            {"name": "dev", "deployer": {"type": "record"}},
            {"name": "staging", "gates": [{"type": "verified_in"}], "deployer": {"type": "record"}},
            {
                "name": "production",
                "gates": [{"type": "verified_in", "environment": "staging"}],
                "deployer": {"type": "record"},
            },
        ],
    }
    after = copy.deepcopy(before)
    after["environments"][0], after["environments"][1] = (
        after["environments"][1],
        after["environments"][0],
    )

    assert changes(after, before=before) == (
        [
            "production can now be reached without a deployment verified in dev "
            "(the order or a verified_in gate changed)"
        ],
        [],
    )


def test_changing_or_removing_the_deployer_weakens_production() -> None:
    other, removed = base(), base()
    other["environments"][1]["deployer"] = {"ref": "other"}
    removed["environments"][1]["deployer"] = {"type": "record"}

    assert changes(other) == (
        [
            "production deployer changed from the registered deployer 'prod' "
            "to the registered deployer 'other'"
        ],
        [],
    )
    assert changes(removed) == (
        [
            "production no longer has a deployer (was the registered deployer 'prod'): "
            "releases are recorded only"
        ],
        [],
    )


def test_changing_or_removing_the_verifier_weakens_and_adding_one_tightens() -> None:
    changed, removed = base(), base()
    changed["environments"][1]["verify"]["url"] = "http://127.0.0.1:9999/healthz"
    del removed["environments"][1]["verify"]

    assert changes(changed) == (
        [
            "production verification changed from an http check of "
            "http://127.0.0.1:8803/healthz to an http check of http://127.0.0.1:9999/healthz"
        ],
        [],
    )
    assert changes(removed) == (
        ["production is no longer verified (was an http check of http://127.0.0.1:8803/healthz)"],
        [],
    )
    assert changes(base(), before=removed) == (
        [
            "production verification changed from the registered deployer 'prod''s verify "
            "command (if it has one) to an http check of http://127.0.0.1:8803/healthz"
        ],
        [],
    )
    with_command, checked = base(), base()
    with_command["environments"][1]["protected"] = True
    del with_command["environments"][1]["verify"]
    with_command["environments"][1]["deployer"] = {"type": "record"}
    checked["environments"][1]["deployer"] = {"type": "record"}
    assert changes(checked, before=with_command) == (
        [],
        ["production is now verified by an http check of http://127.0.0.1:8803/healthz"],
    )


def test_turning_auto_rollback_off_or_auto_promote_on_weakens_production() -> None:
    doc = base()
    doc["environments"][1]["auto_rollback"] = False
    doc["environments"][1]["auto_promote"] = True

    assert changes(doc) == (
        [
            "production no longer rolls back a failed deployment on its own "
            "(auto_rollback turned off)",
            "production now takes every release whose gates pass without anyone promoting it "
            "(auto_promote)",
        ],
        [],
    )


def test_removing_or_shortening_a_freeze_weakens_and_lengthening_it_tightens() -> None:
    shorter, longer = base(), base()
    gate_of(shorter, "freeze")["windows"] = [{"start": "Fri 16:00", "end": "Sun 20:00"}]
    gate_of(longer, "freeze")["windows"] = [{"start": "Fri 16:00", "end": "Mon 10:00"}]

    assert changes(without(base(), "freeze")) == (
        ["production is no longer frozen Fri 16:00–Mon 08:00 (UTC)"],
        [],
    )
    assert changes(shorter) == (["production is no longer frozen Sun 20:00–Mon 08:00 (UTC)"], [])
    assert changes(longer) == ([], ["production is now also frozen Mon 08:00–Mon 10:00 (UTC)"])


def test_moving_a_freeze_to_another_time_zone_weakens_the_old_and_tightens_the_new() -> None:
    doc = base()
    gate_of(doc, "freeze")["timezone"] = "Europe/Berlin"

    assert changes(doc) == (
        ["production is no longer frozen Fri 16:00–Mon 08:00 (UTC)"],
        ["production is now also frozen Fri 16:00–Mon 08:00 (Europe/Berlin)"],
    )


def test_removing_a_dated_freeze_weakens_unless_it_is_over() -> None:
    dated = base()
    gate_of(dated, "freeze")["dates"] = [
        {"start": "2026-12-20T00:00:00+00:00", "end": "2026-12-27T00:00:00+00:00"}
    ]

    assert changes(base(), before=dated) == (
        ["production is no longer frozen from 2026-12-20 00:00 to 2026-12-27 00:00 UTC"],
        [],
    )
    assert changes(base(), before=dated, now=datetime(2027, 1, 5, tzinfo=UTC)) == ([], [])


def test_turning_protection_off_weakens_production() -> None:
    doc = base()
    doc["environments"][1]["protected"] = False

    assert changes(doc) == (
        ["production is no longer protected (protected: false, or no longer the last environment)"],
        [],
    )


def test_an_environment_added_after_production_takes_its_default_protection() -> None:
    doc = base()
    doc["environments"].append({"name": "dr", "deployer": {"type": "record"}})

    assert changes(doc) == (
        [
            "production is no longer protected (protected: false, or no longer the last "
            "environment)",
            # the last environment moves the registry's `stable` tag by default: now dr does
            "production no longer moves the registry's stable tag 'stable'",
        ],
        ["dr is a new protected environment"],
    )


def test_removing_a_protected_environment_weakens_it() -> None:
    doc = base()
    doc["environments"].pop()

    weakens, tightens = changes(doc)

    assert weakens == [
        "production was protected and is removed from the pipeline (with all its gates)"
    ]
    # staging is now the last environment, so protected by default
    assert tightens == ["staging is now protected"]


def test_changes_to_an_unprotected_environment_are_neither() -> None:
    doc = base()
    doc["environments"][0]["gates"] = []

    assert changes(doc) == ([], [])


def test_several_weakenings_are_all_listed_in_order() -> None:
    doc = without(base(), "approval")
    gate_of(doc, "coverage")["min"] = 50
    doc["environments"][1]["auto_rollback"] = False

    diff = compare_protection(spec(base()), spec(doc))

    assert diff.weakens is True
    assert diff.as_dict() == {
        "weakens": [
            {
                "environment": "production",
                "effect": "weakens",
                "message": "production coverage minimum lowered from 80% to 50%",
            },
            {
                "environment": "production",
                "effect": "weakens",
                "message": "production no longer needs an approval (the approval gate needing "
                "2 approvals is removed)",
            },
            {
                "environment": "production",
                "effect": "weakens",
                "message": "production no longer rolls back a failed deployment on its own "
                "(auto_rollback turned off)",
            },
        ],
        "tightens": [],
    }


@pytest.mark.parametrize("kind", ["tests_passed", "coverage", "approval", "freeze"])
def test_adding_a_gate_back_only_tightens(kind: str) -> None:
    weakens, tightens = changes(base(), before=without(base(), kind))

    assert weakens == []
    assert len(tightens) == 1
