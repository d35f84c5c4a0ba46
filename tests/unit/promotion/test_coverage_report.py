"""Coverage reports, read from what coverage.py writes as JSON and as Cobertura XML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relgate.errors import InvalidReport
from relgate.promotion.reports import CoverageReport, parse_report

MODULE = """
def used(x):
    if x > 0:
        return "positive"
    return "not positive"


def unused():
    a = 1
    b = 2
    return a + b


print(used(1))
"""


@pytest.fixture(scope="module")
def coverage_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with coverage.json and coverage.xml from a real coverage.py run."""
    folder = tmp_path_factory.mktemp("coverage")
    (folder / "sample.py").write_text(MODULE)
    env = {**os.environ, "COVERAGE_RCFILE": str(folder / ".coveragerc")}
    (folder / ".coveragerc").write_text("[run]\ndata_file = .coverage\n")
    for args in (
        ["run", "sample.py"],
        ["json", "-o", "coverage.json"],
        ["xml", "-o", "coverage.xml"],
    ):
        subprocess.run(
            [sys.executable, "-m", "coverage", *args],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
        )
    return folder


def test_coverage_py_json_gives_the_total_percent_and_lines(coverage_files: Path) -> None:
    data = (coverage_files / "coverage.json").read_bytes()
    totals = json.loads(data)["totals"]

    report = parse_report("coverage", data, "coverage.json")

    assert isinstance(report, CoverageReport)
    assert report.format == "coverage.py-json"
    assert report.percent == pytest.approx(totals["percent_covered"])
    assert 0 < report.percent < 100
    assert (report.lines_covered, report.lines_valid) == (
        totals["covered_lines"],
        totals["num_statements"],
    )


def test_cobertura_xml_from_the_same_run_gives_the_same_lines(coverage_files: Path) -> None:
    from_json = parse_report(
        "coverage", (coverage_files / "coverage.json").read_bytes(), "coverage.json"
    )
    from_xml = parse_report("coverage", (coverage_files / "coverage.xml").read_bytes(), "c.xml")

    assert isinstance(from_xml, CoverageReport)
    assert isinstance(from_json, CoverageReport)
    assert from_xml.format == "cobertura"
    assert from_xml.percent == pytest.approx(from_json.percent, abs=0.01)
    assert from_xml.lines_covered == from_json.lines_covered
    assert from_xml.lines_valid == from_json.lines_valid
    assert from_xml.summary() == (
        f"{from_xml.percent:.1f}% coverage ({from_xml.lines_covered} of "
        f"{from_xml.lines_valid} lines)"
    )


def test_json_without_totals_is_refused_with_the_missing_key() -> None:
    with pytest.raises(InvalidReport) as caught:
        parse_report("coverage", b'{"files": {}}', "coverage.json")

    assert str(caught.value) == (
        "coverage.json: not a coverage.py JSON report or Cobertura XML "
        "(no 'totals.percent_covered')"
    )


def test_a_percent_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(InvalidReport, match=r"coverage\.json: totals\.percent_covered must be"):
        parse_report("coverage", b'{"totals": {"percent_covered": "84"}}', "coverage.json")


def test_broken_json_names_the_file_and_line() -> None:
    with pytest.raises(InvalidReport, match=r"^coverage\.json: line 2: not valid JSON"):
        parse_report("coverage", b'{"totals":\n  {"percent_covered": }}', "coverage.json")


def test_xml_that_is_not_cobertura_is_refused() -> None:
    with pytest.raises(
        InvalidReport, match=r"^cov\.xml: not a coverage.py JSON report or Cobertura"
    ):
        parse_report("coverage", b"<testsuite/>", "cov.xml")


def test_a_cobertura_line_rate_above_one_is_refused() -> None:
    with pytest.raises(InvalidReport, match=r"line-rate must be a number from 0 to 1, not '1.5'"):
        parse_report("coverage", b'<coverage line-rate="1.5"/>', "cov.xml")


def test_an_entity_bomb_in_cobertura_is_refused() -> None:
    bomb = (
        b'<!DOCTYPE c [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<coverage line-rate="0.5" version="&b;"/>'
    )

    with pytest.raises(InvalidReport, match=r"^cov\.xml: refused"):
        parse_report("coverage", bomb, "cov.xml")
