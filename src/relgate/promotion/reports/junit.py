"""JUnit XML: the test report format of pytest, JUnit, Jest, Go (go-junit-report) and most CI."""

from __future__ import annotations

from typing import ClassVar, Literal
from xml.etree.ElementTree import Element

from pydantic import BaseModel, ConfigDict

from relgate.errors import InvalidReport
from relgate.promotion.reports.reading import check_size, looks_like_xml, parse_xml

MAX_FAILED_CASES = 50
_MAX_MESSAGE = 200


class TestReport(BaseModel):
    """Counts of one test run, summed over all its suites."""

    # pytest would otherwise try to collect this class from test modules importing it
    __test__: ClassVar[bool] = False
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["junit"] = "junit"
    total: int
    failures: int
    errors: int
    skipped: int
    failed_cases: list[str] = []

    @property
    def passed(self) -> bool:
        """True when nothing failed or errored and at least one test ran (was not skipped)."""
        return self.failures == 0 and self.errors == 0 and self.total - self.skipped > 0

    def summary(self) -> str:
        """Return e.g. ``412 tests, 0 failures, 3 skipped`` (errors shown when there are some)."""
        parts = [_plural(self.total, "test"), _plural(self.failures, "failure")]
        if self.errors:
            parts.append(_plural(self.errors, "error"))
        parts.append(f"{self.skipped} skipped")
        return ", ".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _local(tag: str) -> str:
    # tolerate namespaced documents: "{urn:x}testcase" -> "testcase"
    return tag.rsplit("}", 1)[-1]


def _case_name(case: Element) -> str:
    classname = case.get("classname") or ""
    name = case.get("name") or "<unnamed>"
    return f"{classname}.{name}" if classname else name


def _message(outcome: Element) -> str:
    text = outcome.get("message") or (outcome.text or "").strip() or _local(outcome.tag)
    first_line = text.strip().splitlines()[0] if text.strip() else _local(outcome.tag)
    if len(first_line) > _MAX_MESSAGE:
        first_line = first_line[: _MAX_MESSAGE - 1] + "…"
    return first_line


def _int_attribute(element: Element, name: str, filename: str) -> int:
    raw = element.get(name)
    if raw is None or raw.strip() == "":
        return 0
    try:
        # some tools write "3.0"
        value = float(raw)
    except ValueError:
        raise InvalidReport(
            f"{filename}: <{_local(element.tag)}> attribute {name}={raw!r} is not a number"
        ) from None
    if value < 0 or not value.is_integer():
        raise InvalidReport(
            f"{filename}: <{_local(element.tag)}> attribute {name}={raw!r} is not a count"
        )
    return int(value)


def parse_junit(data: bytes, filename: str) -> TestReport:
    """Return the counts of the JUnit XML report in ``data``.

    Counts come from the ``<testcase>`` elements (a ``<failure>``, ``<error>`` or
    ``<skipped>`` child) of every suite, nested ones included; where the suites'
    own attributes claim more tests, failures or errors than their cases show,
    the larger number counts, so a truncated report never looks better than it is.
    Raises InvalidReport naming the file when it is not JUnit XML.
    """
    check_size(data, filename)
    if not looks_like_xml(data):
        raise InvalidReport(f"{filename}: not a JUnit XML report (it does not start with '<')")
    root = parse_xml(data, filename)
    root_tag = _local(root.tag)
    if root_tag not in ("testsuites", "testsuite"):
        raise InvalidReport(
            f"{filename}: not a JUnit XML report "
            f"(root element <{root_tag}>, expected <testsuites> or <testsuite>)"
        )

    total = failures = errors = skipped = 0
    failed_cases: list[str] = []
    for case in root.iter():
        if _local(case.tag) != "testcase":
            continue
        total += 1
        outcomes = {_local(child.tag): child for child in case}
        if "failure" in outcomes or "error" in outcomes:
            kind = "failure" if "failure" in outcomes else "error"
            if kind == "failure":
                failures += 1
            else:
                errors += 1
            if len(failed_cases) < MAX_FAILED_CASES:
                failed_cases.append(f"{_case_name(case)}: {_message(outcomes[kind])}")
        elif "skipped" in outcomes:
            skipped += 1

    # suites without child suites hold the counts; parents repeat their sums
    claimed = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root.iter():
        if _local(suite.tag) != "testsuite":
            continue
        if any(_local(child.tag) == "testsuite" for child in suite):
            continue
        for key in claimed:
            claimed[key] += _int_attribute(suite, key, filename)

    if total == 0:
        skipped = claimed["skipped"]
    return TestReport(
        total=max(total, claimed["tests"]),
        failures=max(failures, claimed["failures"]),
        errors=max(errors, claimed["errors"]),
        skipped=skipped,
        failed_cases=failed_cases,
    )
