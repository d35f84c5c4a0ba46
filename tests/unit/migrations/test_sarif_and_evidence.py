"""SARIF 2.1.0 output (structure checked by hand: the SARIF JSON schema is not available
offline), and the report read back as ``migrations`` evidence."""

from __future__ import annotations

import json
import re

import pytest

from relgate.errors import InvalidReport
from relgate.migrations.checks import check_text
from relgate.migrations.report import MigrationReport
from relgate.migrations.rules import RULES
from relgate.migrations.sarif import to_sarif
from relgate.promotion.reports import load_report, parse_report

SQL = (
    "ALTER TABLE users DROP COLUMN email;\n"
    "-- relgate:ignore create-index-non-concurrently forty rows\n"
    "CREATE INDEX ix ON users (a);\n"
)


def report(path: str = "db/migrations/0003 drop.sql") -> MigrationReport:
    checked = check_text(SQL, path)
    return MigrationReport(
        files=[checked.file], findings=checked.findings, suppressed=checked.suppressed
    )


def test_sarif_has_the_shape_code_hosts_read() -> None:
    log = to_sarif(report(), tool_version="0.1.0")

    assert log["version"] == "2.1.0"
    assert log["$schema"].startswith("https://")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] and driver["version"] == "0.1.0"
    rules = driver["rules"]
    assert [rule["id"] for rule in rules] == list(RULES)
    for rule in rules:
        assert re.fullmatch(r"[a-z-]+", rule["id"])
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"].startswith("Why: ")
        assert rule["helpUri"].startswith("https://")
        assert rule["defaultConfiguration"]["level"] in ("error", "warning")
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("drop-column", "error"),
        ("require-lock-timeout", "warning"),
        ("create-index-non-concurrently", "error"),
    ]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"] == {
            "uri": "db/migrations/0003%20drop.sql",
            "uriBaseId": "SRCROOT",
        }
        assert physical["region"]["startLine"] >= 1
        assert physical["region"]["startColumn"] >= 1
    assert results[0]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 1,
        "startColumn": 1,
    }
    assert "suppressions" not in results[0]
    assert results[2]["suppressions"] == [{"kind": "inSource", "justification": "forty rows"}]
    assert "SRCROOT" in run["originalUriBaseIds"]
    json.dumps(log)  # JSON-ready


def test_docs_url_makes_help_uri_point_at_the_rule_and_absolute_paths_are_file_uris() -> None:
    log = to_sarif(
        report("/srv/db/0003.sql"),
        tool_version="0.1.0",
        docs_url="https://docs.example.org/migrations.md",
    )

    rules = log["runs"][0]["tool"]["driver"]["rules"]
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert rules[0]["helpUri"] == "https://docs.example.org/migrations.md#drop-column"
    assert location["artifactLocation"] == {"uri": "file:///srv/db/0003.sql"}


def test_the_json_report_is_read_back_as_migrations_evidence() -> None:
    data = json.dumps(report().model_dump(mode="json")).encode()

    parsed = parse_report("migrations", data, "migrations.json")
    stored = load_report("migrations", parsed.model_dump(mode="json"))

    assert isinstance(parsed, MigrationReport)
    assert parsed == report()
    assert stored == parsed
    assert parsed.summary() == "1 file: 1 error, 1 warning, 1 suppressed"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<xml/>", "not a migration report"),
        (b"[1]", "must be a JSON object, not a list"),
        (b'{"format": "sarif"}', "format is 'sarif'"),
        (b'{"format": "relgate-migrations", "files": 3}', "files: Input should be a valid list"),
        (
            b'{"format": "relgate-migrations", "findings": [{"rule": "x"}]}',
            "findings.0.level: Field required",
        ),
        (
            b'{"format": "relgate-migrations", "extra": 1}',
            "extra: Extra inputs are not permitted",
        ),
        (
            b'{"format": "relgate-migrations", "files": [{"path": "' + b"a" * 1001 + b'"}]}',
            "files.0.path: String should have at most 1000 characters",
        ),
        (b'{"format": "relgate-migrations", "x": ' + b"[" * 20 + b"]" * 20 + b"}", "deeper"),
    ],
)
def test_evidence_that_is_not_a_migration_report_is_refused_naming_the_field(
    data: bytes, expected: str
) -> None:
    with pytest.raises(InvalidReport) as raised:
        parse_report("migrations", data, "migrations.json")

    assert raised.value.message.startswith("migrations.json")
    assert expected in raised.value.message


def test_a_report_with_too_many_findings_is_refused() -> None:
    finding = {
        "rule": "drop-table",
        "level": "error",
        "category": "contract",
        "file": "m.sql",
        "line": 1,
        "message": "drops table t",
    }
    document = {"format": "relgate-migrations", "findings": [finding] * 10_001}

    with pytest.raises(InvalidReport, match="findings: List should have at most 10000 items"):
        parse_report("migrations", json.dumps(document).encode(), "migrations.json")


def test_the_docs_list_every_rule_with_its_anchor() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[3] / "docs" / "migrations.md").read_text()

    for rule_id in RULES:
        assert f'<a id="{rule_id}"></a>`{rule_id}`' in docs, rule_id
