"""Evidence reports: the files CI attaches to a release, read into small immutable models.

``parse_report(kind, data, filename)`` tells the format within a kind from the
content (JUnit XML; coverage.py JSON or Cobertura XML; Trivy JSON, Grype JSON
or SARIF; metrics JSON; custom JSON; ``relgate migrations check --json``);
``load_report(kind, stored)`` re-creates a model from its ``model_dump(mode="json")``.
Both raise InvalidReport with a message that names the file and what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from relgate.errors import InvalidReport
from relgate.promotion.kinds import EvidenceKind
from relgate.promotion.reports.coverage import CoverageReport, parse_coverage
from relgate.promotion.reports.custom import CustomReport, parse_custom
from relgate.promotion.reports.junit import TestReport, parse_junit
from relgate.promotion.reports.migrations import MigrationReport, parse_migrations
from relgate.promotion.reports.performance import PerformanceReport, parse_performance
from relgate.promotion.reports.reading import MAX_REPORT_BYTES, check_size, looks_like_xml
from relgate.promotion.reports.vulnerabilities import (
    SEVERITIES,
    Finding,
    Severity,
    VulnerabilityReport,
    parse_vulnerabilities,
)

__all__ = [
    "MAX_REPORT_BYTES",
    "SEVERITIES",
    "CoverageReport",
    "CustomReport",
    "EvidenceKind",
    "Finding",
    "MigrationReport",
    "PerformanceReport",
    "Report",
    "Severity",
    "TestReport",
    "VulnerabilityReport",
    "evidence_kind",
    "load_report",
    "parse_report",
]


Report = (
    TestReport
    | CoverageReport
    | VulnerabilityReport
    | PerformanceReport
    | CustomReport
    | MigrationReport
)

_VALID_KINDS = ", ".join(kind.value for kind in EvidenceKind)


def _parse_smoke(data: bytes, filename: str) -> Report:
    # smoke checks are often a shell script's verdict rather than a test framework's XML
    check_size(data, filename)
    if looks_like_xml(data):
        return parse_junit(data, filename)
    return parse_custom(data, filename)


_PARSERS: dict[EvidenceKind, Callable[[bytes, str], Report]] = {
    EvidenceKind.TESTS: parse_junit,
    EvidenceKind.SMOKE: _parse_smoke,
    EvidenceKind.COVERAGE: parse_coverage,
    EvidenceKind.VULNERABILITIES: parse_vulnerabilities,
    EvidenceKind.PERFORMANCE: parse_performance,
    EvidenceKind.CUSTOM: parse_custom,
    EvidenceKind.MIGRATIONS: parse_migrations,
}

# every report format each kind accepts, by the model's ``format`` value
_MODELS: dict[EvidenceKind, dict[str, type[BaseModel]]] = {
    EvidenceKind.TESTS: {"junit": TestReport},
    EvidenceKind.SMOKE: {"junit": TestReport, "custom-json": CustomReport},
    EvidenceKind.COVERAGE: {"coverage.py-json": CoverageReport, "cobertura": CoverageReport},
    EvidenceKind.VULNERABILITIES: {
        "trivy": VulnerabilityReport,
        "grype": VulnerabilityReport,
        "sarif": VulnerabilityReport,
    },
    EvidenceKind.PERFORMANCE: {"metrics-json": PerformanceReport},
    EvidenceKind.CUSTOM: {"custom-json": CustomReport},
    EvidenceKind.MIGRATIONS: {"relgate-migrations": MigrationReport},
}


def evidence_kind(kind: EvidenceKind | str) -> EvidenceKind:
    """Return ``kind`` as an EvidenceKind (any case); raise InvalidReport listing valid kinds."""
    if isinstance(kind, EvidenceKind):
        return kind
    try:
        return EvidenceKind(str(kind).strip().lower())
    except ValueError:
        raise InvalidReport(
            f"unknown evidence kind {kind!r}; valid kinds: {_VALID_KINDS}"
        ) from None


def parse_report(kind: EvidenceKind | str, data: bytes, filename: str) -> Report:
    """Return the report of ``kind`` held in ``data``; the format is told from the content.

    ``filename`` only names the file in messages. Raises InvalidReport naming the
    file and what is wrong: an unknown kind (listing the valid ones), a file over
    50 MiB, malformed JSON or XML (with its line), XML with entity declarations,
    or a document that is not a report of that kind.
    """
    return _PARSERS[evidence_kind(kind)](data, filename)


def load_report(kind: EvidenceKind | str, stored: Mapping[str, Any]) -> Report:
    """Return the report re-created from ``stored``, a ``model_dump(mode="json")`` of one.

    Raises InvalidReport when ``stored`` is not a report of ``kind``.
    """
    evidence = evidence_kind(kind)
    formats = _MODELS[evidence]
    format_name = stored.get("format") if isinstance(stored, Mapping) else None
    model = formats.get(format_name) if isinstance(format_name, str) else None
    if model is None:
        raise InvalidReport(
            f"stored {evidence.value} report has format {format_name!r}; "
            f"expected one of: {', '.join(formats)}"
        )
    try:
        report: Report = model.model_validate(dict(stored))  # type: ignore[assignment]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "report"
        raise InvalidReport(
            f"stored {evidence.value} report is not valid: {where}: {first['msg']}"
        ) from None
    return report
