"""Gates over where the release has been and who agreed: verified_in, smoke_tests, approval."""

from __future__ import annotations

from relgate.promotion.gates import GateResult, GateStatus, evaluate_gate, evaluate_gates
from relgate.promotion.gates import waiting_only_for_approval as waiting
from relgate.promotion.reports import CustomReport, EvidenceKind, TestReport
from tests.unit.promotion.builders import approval, context, evidence, gate

GREEN = TestReport(total=12, failures=0, errors=0, skipped=0)
RED = TestReport(
    total=12, failures=1, errors=0, skipped=0, failed_cases=["smoke.test_login: 502 Bad Gateway"]
)

# verified_in -------------------------------------------------------------------


def test_verified_in_passes_once_verified_in_the_previous_environment() -> None:
    result = evaluate_gate(gate(type="verified_in"), context(verified_in=frozenset({"staging"})))

    assert result == GateResult(
        "verified_in", GateStatus.PASSED, "deployed and verified in staging"
    )


def test_verified_in_is_missing_until_verified_in_the_previous_environment() -> None:
    result = evaluate_gate(gate(type="verified_in"), context(verified_in=frozenset({"dev"})))

    assert result == GateResult(
        "verified_in",
        GateStatus.MISSING,
        "not deployed and verified in staging yet: relgate promote SERVICE@VERSION --to staging",
    )


def test_verified_in_passes_in_the_first_environment() -> None:
    result = evaluate_gate(gate(type="verified_in"), context(previous_environment=None))

    assert result == GateResult("verified_in", GateStatus.PASSED, "first environment")


def test_verified_in_may_name_another_environment() -> None:
    spec = gate(type="verified_in", environment="dev")

    assert not evaluate_gate(spec, context(verified_in=frozenset({"staging"}))).passed
    assert evaluate_gate(spec, context(verified_in=frozenset({"dev"}))).passed


# smoke_tests -------------------------------------------------------------------


def test_smoke_tests_pass_with_green_smoke_evidence_of_the_previous_environment() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.SMOKE, GREEN, environment="staging")])

    result = evaluate_gate(gate(type="smoke_tests"), ctx)

    assert result == GateResult(
        "smoke_tests",
        GateStatus.PASSED,
        "smoke tests in staging passed: 12 tests, 0 failures, 0 skipped",
    )


def test_smoke_tests_fail_naming_the_failed_case() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.SMOKE, RED, environment="staging")])

    result = evaluate_gate(gate(type="smoke_tests"), ctx)

    assert result == GateResult(
        "smoke_tests",
        GateStatus.FAILED,
        "smoke tests in staging failed: 12 tests, 1 failure, 0 skipped: "
        "smoke.test_login: 502 Bad Gateway",
    )


def test_smoke_tests_accept_a_custom_verdict() -> None:
    verdict = CustomReport(passed=False, message="checkout returned 500")
    ctx = context(evidence=[evidence(EvidenceKind.SMOKE, verdict, environment="staging")])

    result = evaluate_gate(gate(type="smoke_tests"), ctx)

    assert result.reason == "smoke tests in staging failed: failed: checkout returned 500"
    assert result.status is GateStatus.FAILED


def test_smoke_tests_of_another_environment_do_not_count() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.SMOKE, GREEN, environment="dev")])

    result = evaluate_gate(gate(type="smoke_tests"), ctx)

    assert result == GateResult(
        "smoke_tests",
        GateStatus.MISSING,
        "no smoke tests attached for staging: "
        "relgate evidence add SERVICE@VERSION --kind smoke --env staging --file smoke.xml",
    )


def test_smoke_tests_use_the_newest_smoke_evidence() -> None:
    ctx = context(
        evidence=[
            evidence(EvidenceKind.SMOKE, GREEN, environment="staging", age_minutes=60),
            evidence(EvidenceKind.SMOKE, RED, environment="staging", age_minutes=5),
        ]
    )

    assert evaluate_gate(gate(type="smoke_tests"), ctx).status is GateStatus.FAILED


def test_smoke_tests_in_the_first_environment_without_a_name_is_a_config_failure() -> None:
    result = evaluate_gate(
        gate(type="smoke_tests"), context(environment="dev", previous_environment=None)
    )

    assert result == GateResult(
        "smoke_tests",
        GateStatus.FAILED,
        "smoke_tests has no environment to look at: dev is the first environment; "
        "set `environment:` on the gate",
    )


def test_smoke_tests_may_name_the_environment() -> None:
    ctx = context(
        previous_environment=None,
        evidence=[evidence(EvidenceKind.SMOKE, GREEN, environment="preview")],
    )

    assert evaluate_gate(gate(type="smoke_tests", environment="preview"), ctx).passed


# approval ---------------------------------------------------------------------


def test_approval_passes_with_enough_distinct_approvers() -> None:
    ctx = context(approvals=[approval("bob"), approval("carol")])

    result = evaluate_gate(gate(type="approval", count=2), ctx)

    assert result == GateResult("approval", GateStatus.PASSED, "approved by bob, carol (2/2)")


def test_approval_is_missing_without_approvals() -> None:
    result = evaluate_gate(gate(type="approval"), context())

    assert result == GateResult("approval", GateStatus.MISSING, "needs 1 approval, has 0")


def test_the_release_author_cannot_approve_it() -> None:
    ctx = context(release_author="alice", approvals=[approval("alice")])

    result = evaluate_gate(gate(type="approval"), ctx)

    assert result == GateResult(
        "approval",
        GateStatus.MISSING,
        "needs 1 approval, has 0; not counted: alice (is the release's author)",
    )


def test_the_requester_cannot_approve_their_own_promotion() -> None:
    ctx = context(requested_by="dave", approvals=[approval("Dave"), approval("bob")])

    result = evaluate_gate(gate(type="approval", count=2), ctx)

    assert result == GateResult(
        "approval",
        GateStatus.MISSING,
        "needs 2 approvals, has 1 (bob); not counted: Dave (requested the promotion)",
    )


def test_approvals_by_the_same_person_count_once() -> None:
    ctx = context(approvals=[approval("bob", age_minutes=10), approval("bob")])

    result = evaluate_gate(gate(type="approval", count=2), ctx)

    assert result.status is GateStatus.MISSING
    assert result.reason == "needs 2 approvals, has 1 (bob)"


def test_any_rejection_fails_the_gate_with_its_comment() -> None:
    ctx = context(
        approvals=[
            approval("bob", "rejected", "error budget exhausted", age_minutes=5),
            approval("carol"),
        ]
    )

    result = evaluate_gate(gate(type="approval"), ctx)

    assert result == GateResult(
        "approval", GateStatus.FAILED, "rejected by bob: error budget exhausted"
    )


# waiting_only_for_approval ---------------------------------------------------------


def test_waiting_only_for_approval_when_every_other_gate_passed() -> None:
    specs = [gate(type="verified_in"), gate(type="approval")]
    results = evaluate_gates(specs, context(verified_in=frozenset({"staging"})))

    assert [result.status for result in results] == [GateStatus.PASSED, GateStatus.MISSING]
    assert waiting(results)


def test_not_waiting_for_approval_when_another_gate_is_not_passed() -> None:
    specs = [gate(type="verified_in"), gate(type="approval")]

    assert not waiting(evaluate_gates(specs, context()))


def test_not_waiting_for_approval_once_rejected() -> None:
    specs = [gate(type="verified_in"), gate(type="approval")]
    ctx = context(verified_in=frozenset({"staging"}), approvals=[approval("bob", "rejected")])

    assert not waiting(evaluate_gates(specs, ctx))


def test_not_waiting_for_approval_without_an_approval_gate() -> None:
    assert not waiting(
        evaluate_gates([gate(type="verified_in")], context(previous_environment=None))
    )
