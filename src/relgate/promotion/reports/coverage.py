"""Line coverage from coverage.py's JSON report or a Cobertura XML report."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from relgate.errors import InvalidReport
from relgate.promotion.reports.reading import (
    check_size,
    finite_number,
    looks_like_xml,
    parse_json,
    parse_xml,
)

_NOT_COVERAGE = "not a coverage.py JSON report or Cobertura XML"


class CoverageReport(BaseModel):
    """The overall coverage of one run, as a percentage from 0 to 100."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["coverage.py-json", "cobertura"]
    percent: float = Field(ge=0, le=100)
    lines_covered: int | None = None
    lines_valid: int | None = None

    def summary(self) -> str:
        """Return e.g. ``84.2% coverage (842 of 1000 lines)``."""
        text = f"{self.percent:.1f}% coverage"
        if self.lines_covered is not None and self.lines_valid is not None:
            text += f" ({self.lines_covered} of {self.lines_valid} lines)"
        return text


def parse_coverage(data: bytes, filename: str) -> CoverageReport:
    """Return the coverage in ``data``, a coverage.py JSON report or Cobertura XML.

    The format is told from the content, not the file name. Raises
    InvalidReport naming the file when it is neither, or its totals are not numbers.
    """
    check_size(data, filename)
    if looks_like_xml(data):
        return _parse_cobertura(data, filename)
    return _parse_coverage_py(parse_json(data, filename), filename)


def _count(value: Any) -> int | None:
    number = finite_number(value)
    if number is None or number < 0 or not number.is_integer():
        return None
    return int(number)


def _parse_coverage_py(document: Any, filename: str) -> CoverageReport:
    totals = document.get("totals") if isinstance(document, dict) else None
    if not isinstance(totals, dict) or "percent_covered" not in totals:
        raise InvalidReport(f"{filename}: {_NOT_COVERAGE} (no 'totals.percent_covered')")
    percent = finite_number(totals["percent_covered"])
    if percent is None or not 0 <= percent <= 100:
        raise InvalidReport(
            f"{filename}: totals.percent_covered must be a number from 0 to 100, "
            f"not {totals['percent_covered']!r}"
        )
    return CoverageReport(
        format="coverage.py-json",
        percent=percent,
        lines_covered=_count(totals.get("covered_lines")),
        lines_valid=_count(totals.get("num_statements")),
    )


def _parse_cobertura(data: bytes, filename: str) -> CoverageReport:
    root = parse_xml(data, filename)
    tag = root.tag.rsplit("}", 1)[-1]
    if tag != "coverage" or root.get("line-rate") is None:
        raise InvalidReport(
            f"{filename}: {_NOT_COVERAGE} (root element <{tag}> has no 'line-rate'; "
            "Cobertura XML starts with <coverage line-rate=...>)"
        )
    raw = root.get("line-rate", "")
    try:
        rate = float(raw)
    except ValueError:
        rate = -1.0
    if not 0 <= rate <= 1:
        raise InvalidReport(
            f"{filename}: <coverage> line-rate must be a number from 0 to 1, not {raw!r}"
        )

    covered = root.get("lines-covered", "")
    valid = root.get("lines-valid", "")
    return CoverageReport(
        format="cobertura",
        # line-rate carries 4 decimals; rounding drops float noise such as 84.19999999
        percent=round(rate * 100, 6),
        lines_covered=int(covered) if covered.isdigit() else None,
        lines_valid=int(valid) if valid.isdigit() else None,
    )
