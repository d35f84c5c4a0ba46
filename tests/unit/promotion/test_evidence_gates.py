"""Gates over release evidence: tests_passed, coverage, vulnerabilities, performance."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from relgate.promotion.gates import GateResult, GateSpec, GateStatus, evaluate_gate
from relgate.promotion.reports import (
    CoverageReport,
    EvidenceKind,
    Finding,
    PerformanceReport,
    TestReport,
    VulnerabilityReport,
    parse_report,
)
from tests.unit.promotion.builders import NOW, context, evidence, gate

FIXTURES = Path(__file__).parents[2] / "fixtures" / "reports"
DIGEST = "sha256:05b3abf2579a5eb66403cd78be557fd860633a1fe2103c7642030defe32c657f"


def junit_counts(failures: int = 0, skipped: int = 0, total: int = 3) -> TestReport:
    cases = [f"tests.test_pay.test_case_{n}: assert 1 == 2" for n in range(failures)]
    return TestReport(total=total, failures=failures, errors=0, skipped=skipped, failed_cases=cases)


# tests_passed -----------------------------------------------------------------


def test_tests_passed_passes_on_a_green_run() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.TESTS, junit_counts(skipped=1))])

    result = evaluate_gate(gate(type="tests_passed"), ctx)

    assert result == GateResult(
        "tests_passed", GateStatus.PASSED, "tests passed: 3 tests, 0 failures, 1 skipped"
    )
    assert result.passed


def test_tests_passed_fails_naming_the_failing_cases() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.TESTS, junit_counts(failures=1))])

    result = evaluate_gate(gate(type="tests_passed"), ctx)

    assert result == GateResult(
        "tests_passed",
        GateStatus.FAILED,
        "tests failed: 3 tests, 1 failure, 0 skipped: tests.test_pay.test_case_0: assert 1 == 2",
    )


def test_tests_passed_is_missing_without_a_report_and_says_how_to_attach_one() -> None:
    result = evaluate_gate(gate(type="tests_passed"), context(release="payments@1.4.0"))

    assert result == GateResult(
        "tests_passed",
        GateStatus.MISSING,
        "no test report attached: "
        "relgate evidence add payments@1.4.0 --kind tests --file junit.xml",
    )


def test_tests_passed_uses_the_newest_report() -> None:
    ctx = context(
        evidence=[
            evidence(EvidenceKind.TESTS, junit_counts(), age_minutes=1),
            evidence(EvidenceKind.TESTS, junit_counts(failures=2), age_minutes=30),
        ]
    )

    assert evaluate_gate(gate(type="tests_passed"), ctx).status is GateStatus.PASSED


def test_tests_passed_ignores_test_reports_of_an_environment() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.TESTS, junit_counts(), environment="staging")])

    assert evaluate_gate(gate(type="tests_passed"), ctx).status is GateStatus.MISSING


def test_tests_passed_fails_when_no_test_ran() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.TESTS, junit_counts(total=0))])

    result = evaluate_gate(gate(type="tests_passed"), ctx)

    assert result.status is GateStatus.FAILED
    assert result.reason == "no test ran: 0 tests, 0 failures, 0 skipped (is the test run empty?)"


# coverage ---------------------------------------------------------------------


def coverage(percent: float) -> CoverageReport:
    return CoverageReport(format="coverage.py-json", percent=percent)


def test_coverage_passes_at_or_above_the_minimum() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.COVERAGE, coverage(84.21))])

    result = evaluate_gate(gate(type="coverage", min=80), ctx)

    assert result == GateResult("coverage", GateStatus.PASSED, "coverage 84.2% >= 80%")


def test_coverage_fails_below_the_minimum() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.COVERAGE, coverage(78.4))])

    result = evaluate_gate(gate(type="coverage", min=80), ctx)

    assert result == GateResult("coverage", GateStatus.FAILED, "coverage 78.4% < 80%")


def test_coverage_just_below_the_minimum_is_not_rounded_up_in_the_reason() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.COVERAGE, coverage(79.96))])

    result = evaluate_gate(gate(type="coverage", min=80), ctx)

    assert result.reason == "coverage 79.96% < 80%"


def test_coverage_is_missing_without_a_report() -> None:
    result = evaluate_gate(gate(type="coverage", min=80), context())

    assert result == GateResult(
        "coverage",
        GateStatus.MISSING,
        "no coverage report attached: "
        "relgate evidence add SERVICE@VERSION --kind coverage --file coverage.json",
    )


# vulnerabilities ------------------------------------------------------------------


def finding(id_: str, severity: str, package: str | None = None) -> Finding:
    return Finding(id=id_, severity=severity, package=package)


def scan(*findings: Finding, digests: tuple[str, ...] = ()) -> VulnerabilityReport:
    return VulnerabilityReport(
        format="trivy", findings=list(findings), scanned_digests=list(digests)
    )


def test_vulnerabilities_fail_over_a_limit_naming_the_findings() -> None:
    ctx = context(
        evidence=[
            evidence(
                EvidenceKind.VULNERABILITIES,
                scan(finding("CVE-2024-1234", "CRITICAL", "openssl"), finding("CVE-1", "HIGH")),
            )
        ]
    )

    result = evaluate_gate(gate(type="vulnerabilities", max={"critical": 0, "high": 5}), ctx)

    assert result == GateResult(
        "vulnerabilities", GateStatus.FAILED, "1 CRITICAL > 0 allowed: CVE-2024-1234 (openssl)"
    )


def test_vulnerabilities_pass_within_limits() -> None:
    ctx = context(
        evidence=[evidence(EvidenceKind.VULNERABILITIES, scan(finding("CVE-1", "HIGH", "zlib")))]
    )

    result = evaluate_gate(gate(type="vulnerabilities", max={"critical": 0, "high": 5}), ctx)

    assert result == GateResult(
        "vulnerabilities",
        GateStatus.PASSED,
        "within limits: 0 CRITICAL (max 0), 1 HIGH (max 5)",
    )


def test_vulnerabilities_are_missing_without_a_scan() -> None:
    result = evaluate_gate(gate(type="vulnerabilities", max={"critical": 0}), context())

    assert result == GateResult(
        "vulnerabilities",
        GateStatus.MISSING,
        "no vulnerability report attached: "
        "relgate evidence add SERVICE@VERSION --kind vulnerabilities --file trivy.json",
    )


def test_severity_limits_are_case_insensitive() -> None:
    spec = gate(type="vulnerabilities", max={"Critical": 0, "HIGH": 1})
    ctx = context(
        evidence=[evidence(EvidenceKind.VULNERABILITIES, scan(finding("CVE-9", "critical")))]
    )

    result = evaluate_gate(spec, ctx)

    assert result.status is GateStatus.FAILED
    assert result.reason == "1 CRITICAL > 0 allowed: CVE-9"


@pytest.mark.parametrize("name", ["trivy.json", "grype.json", "trivy.sarif"])
def test_every_scanner_format_fails_the_same_critical_limit(name: str) -> None:
    report = parse_report("vulnerabilities", (FIXTURES / name).read_bytes(), name)
    ctx = context(evidence=[evidence(EvidenceKind.VULNERABILITIES, report)])

    result = evaluate_gate(gate(type="vulnerabilities", max={"critical": 0}), ctx)

    assert result.reason == "1 CRITICAL > 0 allowed: CVE-2024-5535 (libssl3)"


def test_an_accepted_finding_is_excused_until_its_expiry_date() -> None:
    spec = gate(
        type="vulnerabilities",
        max={"critical": 0},
        accept=[{"id": "cve-2024-3094", "expires": NOW.date(), "reason": "not reachable"}],
    )
    ctx = context(
        evidence=[
            evidence(EvidenceKind.VULNERABILITIES, scan(finding("CVE-2024-3094", "CRITICAL")))
        ]
    )

    result = evaluate_gate(spec, ctx)

    assert result == GateResult(
        "vulnerabilities",
        GateStatus.PASSED,
        "within limits: 0 CRITICAL (max 0); accepted: CVE-2024-3094 until 2026-11-25",
    )


def test_an_expired_acceptance_no_longer_excuses() -> None:
    spec = gate(
        type="vulnerabilities",
        max={"critical": 0},
        accept=[{"id": "CVE-2024-3094", "expires": date(2026, 11, 24), "reason": "not reachable"}],
    )
    ctx = context(
        evidence=[
            evidence(EvidenceKind.VULNERABILITIES, scan(finding("CVE-2024-3094", "CRITICAL", "xz")))
        ]
    )

    result = evaluate_gate(spec, ctx)

    assert result == GateResult(
        "vulnerabilities",
        GateStatus.FAILED,
        "1 CRITICAL > 0 allowed: CVE-2024-3094 (xz); "
        "acceptance no longer excuses: CVE-2024-3094 expired 2026-11-24",
    )


def test_a_scan_of_another_image_fails() -> None:
    other = "sha256:" + "0" * 64
    ctx = context(
        evidence=[evidence(EvidenceKind.VULNERABILITIES, scan(digests=(other,)))],
        artifact_digest=DIGEST,
    )

    result = evaluate_gate(gate(type="vulnerabilities", max={"critical": 0}), ctx)

    assert result.status is GateStatus.FAILED
    assert result.reason == (
        f"the vulnerability report names the image {other}, not this release's {DIGEST}; "
        "a report of another image cannot pass this one"
    )


def test_a_scan_naming_no_image_digest_fails_saying_what_was_expected() -> None:
    ctx = context(
        evidence=[evidence(EvidenceKind.VULNERABILITIES, scan())],
        artifact_digest=DIGEST,
    )

    result = evaluate_gate(gate(type="vulnerabilities", max={"critical": 0}), ctx)

    assert result.status is GateStatus.FAILED
    assert result.reason.startswith(
        f"the vulnerability report names no image digest (expected this release's {DIGEST})"
    )
    assert "Metadata.RepoDigests" in result.reason


def test_a_scan_naming_the_release_and_another_image_fails() -> None:
    other = "sha256:" + "0" * 64
    ctx = context(
        evidence=[evidence(EvidenceKind.VULNERABILITIES, scan(digests=(DIGEST, other)))],
        artifact_digest=DIGEST,
    )

    result = evaluate_gate(gate(type="vulnerabilities", max={"critical": 0}), ctx)

    assert result.status is GateStatus.FAILED
    assert f"names the image {other}, not this release's" in result.reason


def test_a_scan_of_the_release_artifact_is_accepted() -> None:
    ctx = context(
        evidence=[evidence(EvidenceKind.VULNERABILITIES, scan(digests=(DIGEST,)))],
        artifact_digest=DIGEST,
    )

    assert evaluate_gate(gate(type="vulnerabilities", max={"critical": 0}), ctx).passed


def test_an_unknown_severity_in_the_limits_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="unknown severity 'severe'"):
        gate(type="vulnerabilities", max={"severe": 0})


def test_a_negative_limit_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        gate(type="vulnerabilities", max={"high": -1})


# performance --------------------------------------------------------------------


def perf(**metrics: float) -> PerformanceReport:
    return PerformanceReport(metrics=metrics)


def p95_gate(**extra: object) -> GateSpec:
    return gate(type="performance", metric="p95_ms", max_regression_percent=5, **extra)


def test_performance_fails_when_the_metric_regresses_beyond_the_limit() -> None:
    ctx = context(
        evidence=[evidence(EvidenceKind.PERFORMANCE, perf(p95_ms=131.0))],
        baselines={"production": perf(p95_ms=120.0)},
    )

    result = evaluate_gate(p95_gate(), ctx)

    assert result == GateResult(
        "performance",
        GateStatus.FAILED,
        "p95_ms 131.0 is 9.2% above production's 120.0 (max 5%)",
    )


def test_performance_passes_within_the_limit() -> None:
    ctx = context(
        evidence=[evidence(EvidenceKind.PERFORMANCE, perf(p95_ms=118.5))],
        baselines={"production": perf(p95_ms=120.0)},
    )

    result = evaluate_gate(p95_gate(), ctx)

    assert result == GateResult(
        "performance",
        GateStatus.PASSED,
        "p95_ms 118.5 is 1.2% below production's 120.0 (max 5%)",
    )


def test_performance_higher_is_better_fails_on_a_drop() -> None:
    spec = gate(
        type="performance",
        metric="rps",
        max_regression_percent=5,
        higher_is_better=True,
        baseline_environment="staging",
    )
    ctx = context(
        evidence=[evidence(EvidenceKind.PERFORMANCE, perf(rps=800))],
        baselines={"staging": perf(rps=900)},
    )

    result = evaluate_gate(spec, ctx)

    assert result == GateResult(
        "performance", GateStatus.FAILED, "rps 800.0 is 11.1% below staging's 900.0 (max 5%)"
    )


def test_performance_is_missing_without_a_candidate_measurement() -> None:
    result = evaluate_gate(p95_gate(), context(baselines={"production": perf(p95_ms=1)}))

    assert result == GateResult(
        "performance",
        GateStatus.MISSING,
        "no performance report with p95_ms attached: "
        "relgate evidence add SERVICE@VERSION --kind performance --file perf.json",
    )


def test_performance_is_missing_when_the_report_lacks_the_metric() -> None:
    ctx = context(evidence=[evidence(EvidenceKind.PERFORMANCE, perf(rps=1.0, p50_ms=3))])

    result = evaluate_gate(p95_gate(), ctx)

    assert result.status is GateStatus.MISSING
    assert result.reason.startswith(
        "the newest performance report has no p95_ms (it has: p50_ms, rps)"
    )


def test_performance_without_a_baseline_fails_by_default() -> None:
    ctx = context(
        evidence=[evidence(EvidenceKind.PERFORMANCE, perf(p95_ms=131))],
        baselines={"production": None},
    )

    result = evaluate_gate(p95_gate(), ctx)

    assert result == GateResult(
        "performance",
        GateStatus.FAILED,
        "no p95_ms baseline in production: no release stable there has a performance report "
        "with p95_ms; set pass_without_baseline: true to let a first measurement pass",
    )


def test_a_baseline_without_the_metric_counts_as_no_baseline() -> None:
    ctx = context(
        evidence=[evidence(EvidenceKind.PERFORMANCE, perf(p95_ms=131))],
        baselines={"production": perf(rps=900)},
    )

    failing = evaluate_gate(p95_gate(), ctx)
    allowed = evaluate_gate(p95_gate(pass_without_baseline=True), ctx)

    assert failing.status is GateStatus.FAILED
    assert failing.reason.startswith("no p95_ms baseline in production")
    assert allowed == GateResult(
        "performance",
        GateStatus.PASSED,
        "no p95_ms baseline in production to compare with; p95_ms 131.0 accepted "
        "(pass_without_baseline)",
    )


def test_performance_measured_in_an_environment_uses_only_that_evidence() -> None:
    ctx = context(
        evidence=[
            evidence(EvidenceKind.PERFORMANCE, perf(p95_ms=200), environment="staging"),
            evidence(EvidenceKind.PERFORMANCE, perf(p95_ms=100), environment="dev", age_minutes=-5),
        ],
        baselines={"production": perf(p95_ms=120.0)},
    )

    anywhere = evaluate_gate(p95_gate(), ctx)
    in_staging = evaluate_gate(p95_gate(measured_in="staging"), ctx)

    assert anywhere.passed
    assert in_staging.reason == "p95_ms 200.0 is 66.7% above production's 120.0 (max 5%)"
