"""parse_report and load_report across kinds; performance and custom reports."""

from __future__ import annotations

import pytest

from relgate.errors import InvalidReport
from relgate.promotion.reports import (
    MAX_REPORT_BYTES,
    CoverageReport,
    CustomReport,
    EvidenceKind,
    PerformanceReport,
    TestReport,
    load_report,
    parse_report,
)

JUNIT = b'<testsuite name="s"><testcase classname="a" name="b"/></testsuite>'


def test_an_unknown_kind_lists_the_valid_kinds() -> None:
    with pytest.raises(InvalidReport) as caught:
        parse_report("sbom", b"{}", "sbom.json")

    assert str(caught.value) == (
        "unknown evidence kind 'sbom'; valid kinds: "
        "tests, coverage, vulnerabilities, performance, smoke, custom, migrations"
    )
    assert caught.value.code == "invalid_report"
    assert caught.value.exit_code == 2


def test_kinds_are_accepted_as_enum_or_text_in_any_case() -> None:
    assert parse_report(EvidenceKind.TESTS, JUNIT, "j.xml") == parse_report("TESTS", JUNIT, "j.xml")


def test_a_report_over_50_mib_is_refused_before_parsing() -> None:
    data = b" " * (MAX_REPORT_BYTES + 1)

    with pytest.raises(InvalidReport, match=r"^big\.xml: the report is 50\.0 MiB, over the 50 MiB"):
        parse_report("tests", data, "big.xml")


def test_performance_metrics_are_read_nested_or_flat() -> None:
    nested = parse_report("performance", b'{"metrics": {"p95_ms": 120.5, "rps": 900}}', "p.json")
    flat = parse_report("performance", b'{"p95_ms": 120.5, "rps": 900}', "p.json")

    assert nested == flat == PerformanceReport(metrics={"p95_ms": 120.5, "rps": 900.0})
    assert nested.summary() == "p95_ms=120.5, rps=900"


def test_a_metric_that_is_not_a_number_is_named() -> None:
    with pytest.raises(InvalidReport) as caught:
        parse_report("performance", b'{"metrics": {"p95_ms": "fast"}}', "perf.json")

    assert str(caught.value) == "perf.json: metrics.p95_ms must be a number, not a string"


def test_non_finite_metrics_are_refused() -> None:
    with pytest.raises(InvalidReport, match=r"^perf\.json: not valid JSON: NaN"):
        parse_report("performance", b'{"p95_ms": NaN}', "perf.json")


def test_a_performance_report_without_metrics_is_refused() -> None:
    with pytest.raises(InvalidReport, match=r"^perf\.json: the report holds no metrics"):
        parse_report("performance", b'{"metrics": {}}', "perf.json")


def test_a_custom_verdict_keeps_passed_and_its_summary() -> None:
    report = parse_report("custom", b'{"passed": false, "summary": "3 contracts broken"}', "c.json")

    assert report == CustomReport(passed=False, message="3 contracts broken")
    assert report.summary() == "failed: 3 contracts broken"


def test_a_custom_verdict_whose_passed_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(InvalidReport) as caught:
        parse_report("custom", b'{"passed": "yes"}', "check.json")

    assert str(caught.value) == "check.json: 'passed' must be true or false, not a string"


def test_smoke_evidence_may_be_junit_or_a_custom_verdict() -> None:
    assert isinstance(parse_report("smoke", JUNIT, "smoke.xml"), TestReport)
    assert isinstance(parse_report("smoke", b'{"passed": true}', "smoke.json"), CustomReport)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("tests", JUNIT),
        ("coverage", b'{"totals": {"percent_covered": 84.25}}'),
        ("coverage", b'<coverage line-rate="0.8425" lines-covered="8" lines-valid="10"/>'),
        ("performance", b'{"p95_ms": 1}'),
        ("custom", b'{"passed": true, "summary": "ok"}'),
        ("smoke", b'{"passed": true}'),
    ],
)
def test_every_report_loads_back_from_its_json_dump(kind: str, data: bytes) -> None:
    report = parse_report(kind, data, "report")

    assert load_report(kind, report.model_dump(mode="json")) == report


def test_a_stored_report_of_another_kind_is_refused() -> None:
    stored = CoverageReport(format="cobertura", percent=50).model_dump(mode="json")

    with pytest.raises(InvalidReport, match=r"stored tests report has format 'cobertura'"):
        load_report("tests", stored)


def test_a_damaged_stored_report_names_the_field() -> None:
    with pytest.raises(InvalidReport, match=r"stored coverage report is not valid: percent"):
        load_report("coverage", {"format": "cobertura", "percent": 140})


@pytest.mark.parametrize("kind", [kind.value for kind in EvidenceKind])
def test_an_empty_file_is_refused_for_every_kind(kind: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        parse_report(kind, b" \n", "report.out")

    assert str(caught.value) == "report.out: the file is empty"
