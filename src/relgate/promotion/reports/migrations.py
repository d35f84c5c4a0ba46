"""Migration-check evidence: the JSON of ``relgate migrations check --json``.

Checked against the same pydantic model the CLI writes (every list and string
bounded); the size and nesting depth are bounded before parsing.
"""

from __future__ import annotations

from pydantic import ValidationError

from relgate.errors import InvalidReport
from relgate.limits import deeper_than
from relgate.migrations.report import MigrationReport
from relgate.promotion.reports.reading import check_size, json_type, looks_like_xml, parse_json

_EXPECTED = "expected the JSON of `relgate migrations check --json`"
# the report nests 4 levels (report, findings, finding, safe steps)
_DEPTH = 8

__all__ = ["MigrationReport", "parse_migrations"]


def parse_migrations(data: bytes, filename: str) -> MigrationReport:
    """Return the migration report in ``data``.

    Raises InvalidReport naming the file and the first field that is wrong:
    not JSON, nested deeper than a report does, or not the report's schema.
    """
    check_size(data, filename)
    if looks_like_xml(data):
        raise InvalidReport(f"{filename}: not a migration report ({_EXPECTED})")
    if deeper_than(data, _DEPTH):
        raise InvalidReport(
            f"{filename}: nests arrays and objects deeper than {_DEPTH} levels ({_EXPECTED})"
        )
    document = parse_json(data, filename)
    if not isinstance(document, dict):
        raise InvalidReport(
            f"{filename}: a migration report must be a JSON object, not {json_type(document)} "
            f"({_EXPECTED})"
        )
    if document.get("format") != "relgate-migrations":
        raise InvalidReport(
            f"{filename}: format is {document.get('format')!r}, not 'relgate-migrations' "
            f"({_EXPECTED})"
        )
    try:
        return MigrationReport.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "report"
        raise InvalidReport(f"{filename}: {where}: {first['msg']}") from None
