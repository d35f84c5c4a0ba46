"""JUnit XML, read from reports that pytest itself writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from relgate.errors import InvalidReport
from relgate.promotion.reports import TestReport, parse_report

SAMPLE_TESTS = """
import pytest

def test_adds():
    assert 1 + 1 == 2

def test_subtracts():
    assert 3 - 1 == 1, "three minus one"

@pytest.mark.skip(reason="not on this platform")
def test_skipped():
    pass

class TestRefunds:
    def test_full_refund(self):
        assert True
"""


@pytest.fixture(scope="module")
def pytest_junit(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A JUnit XML report written by a real pytest run with a failing and a skipped test."""
    folder = tmp_path_factory.mktemp("junit")
    (folder / "test_sample.py").write_text(SAMPLE_TESTS)
    # an empty ini keeps the run away from relgate's own pytest configuration
    (folder / "pytest.ini").write_text("[pytest]\n")
    report = folder / "junit.xml"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(folder),
            "-c",
            str(folder / "pytest.ini"),
            f"--junitxml={report}",
            "test_sample.py",
        ],
        cwd=folder,
        # third-party plugins only slow the run down
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    return report.read_bytes()


def test_pytest_report_counts_tests_failures_and_skips(pytest_junit: bytes) -> None:
    report = parse_report("tests", pytest_junit, "junit.xml")

    assert isinstance(report, TestReport)
    assert (report.total, report.failures, report.errors, report.skipped) == (4, 1, 0, 1)
    assert not report.passed
    assert report.summary() == "4 tests, 1 failure, 1 skipped"


def test_failed_cases_name_the_class_the_test_and_the_message(pytest_junit: bytes) -> None:
    report = parse_report("tests", pytest_junit, "junit.xml")

    assert isinstance(report, TestReport)
    assert len(report.failed_cases) == 1
    assert report.failed_cases[0].startswith("test_sample.test_subtracts: AssertionError: three")


def test_nested_suites_are_summed_from_their_test_cases() -> None:
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="api" tests="2">
    <testsuite name="api.refunds">
      <testcase classname="RefundTest" name="full"/>
      <testcase classname="RefundTest" name="partial"><error message="boom">trace</error></testcase>
    </testsuite>
  </testsuite>
  <testsuite name="ui">
    <testcase classname="Login" name="works"/>
    <testcase classname="Login" name="later"><skipped/></testcase>
  </testsuite>
</testsuites>"""

    report = parse_report("tests", xml, "junit.xml")

    assert isinstance(report, TestReport)
    assert (report.total, report.failures, report.errors, report.skipped) == (4, 0, 1, 1)
    assert report.failed_cases == ["RefundTest.partial: boom"]
    assert report.summary() == "4 tests, 0 failures, 1 error, 1 skipped"


def test_suite_attributes_claiming_zero_failures_do_not_hide_failing_cases() -> None:
    xml = b"""<testsuite name="s" tests="2" failures="0" errors="0">
  <testcase classname="a" name="one"><failure message="expected 2">x</failure></testcase>
  <testcase classname="a" name="two"/>
</testsuite>"""

    report = parse_report("tests", xml, "junit.xml")

    assert isinstance(report, TestReport)
    assert report.failures == 1
    assert not report.passed


def test_suite_attributes_claiming_more_failures_than_cases_show_are_believed() -> None:
    xml = (
        b'<testsuite name="s" tests="10" failures="2">'
        b'<testcase classname="a" name="b"/></testsuite>'
    )

    report = parse_report("tests", xml, "junit.xml")

    assert isinstance(report, TestReport)
    assert (report.total, report.failures) == (10, 2)


def test_a_report_where_every_test_was_skipped_does_not_pass() -> None:
    xml = b'<testsuite name="s"><testcase classname="a" name="b"><skipped/></testcase></testsuite>'

    report = parse_report("tests", xml, "junit.xml")

    assert isinstance(report, TestReport)
    assert not report.passed


def test_malformed_xml_names_the_file_and_line() -> None:
    xml = b"<testsuites>\n<testsuite>\n<testcase></testsuite>\n</testsuites>"

    with pytest.raises(InvalidReport, match=r"^junit\.xml: line 3: mismatched tag$"):
        parse_report("tests", xml, "junit.xml")


def test_an_xml_document_that_is_not_junit_is_refused() -> None:
    with pytest.raises(InvalidReport, match=r"junit\.xml: not a JUnit XML report \(root element"):
        parse_report("tests", b'<coverage line-rate="0.5"/>', "junit.xml")


def test_json_given_as_tests_is_refused() -> None:
    with pytest.raises(InvalidReport, match=r"results\.json: not a JUnit XML report"):
        parse_report("tests", b'{"passed": true}', "results.json")


def test_a_billion_laughs_entity_bomb_is_refused() -> None:
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuite name="&lol9;"><testcase classname="a" name="b"/></testsuite>"""

    with pytest.raises(InvalidReport, match=r"^junit\.xml: refused: the XML declares entities"):
        parse_report("tests", bomb, "junit.xml")


def test_an_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("token")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<testsuite name="&x;"><testcase classname="a" name="b"/></testsuite>'
    ).encode()

    with pytest.raises(InvalidReport, match=r"^junit\.xml: refused"):
        parse_report("tests", xxe, "junit.xml")
