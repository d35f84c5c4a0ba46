"""The report as SARIF 2.1.0, so code hosts show each finding on its line.

Every rule of the catalog is listed under ``tool.driver.rules`` (id, name,
shortDescription, fullDescription, help, helpUri, default level); each
finding is a result with its rule's index, level, message and a
physicalLocation (the file relative to the working directory, and the region's
startLine and startColumn). Suppressed findings carry a ``suppressions`` entry
of kind ``inSource`` with the reason given.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import quote

from relgate.migrations.report import MigrationFinding, MigrationReport
from relgate.migrations.rules import RULES, Rule

SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
_INFORMATION_URI: Final = "https://www.postgresql.org/docs/current/explicit-locking.html"


def to_sarif(report: MigrationReport, *, tool_version: str, docs_url: str | None = None) -> Any:
    """Return the SARIF 2.1.0 log of ``report`` as JSON-ready data.

    ``docs_url`` (e.g. where docs/migrations.md is published) makes each
    rule's helpUri ``docs_url#rule-id``; without it helpUri is the
    PostgreSQL manual page of the statement.
    """
    rules = list(RULES.values())
    index = {rule.id: position for position, rule in enumerate(rules)}
    results = [_result(finding, index) for finding in report.findings]
    results += [_result(finding, index, suppressed=True) for finding in report.suppressed]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "relgate migrations check",
                        "version": tool_version,
                        "informationUri": _INFORMATION_URI,
                        "rules": [_rule(rule, docs_url) for rule in rules],
                    }
                },
                "originalUriBaseIds": {"SRCROOT": {"description": {"text": "working directory"}}},
                "results": results,
            }
        ],
    }


def _rule(rule: Rule, docs_url: str | None) -> dict[str, Any]:
    steps = "\n".join(f"{number}. {step}" for number, step in enumerate(rule.safe, 1))
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}: {rule.why}."},
        "help": {"text": f"Why: {rule.why}.\nSafe steps:\n{steps}"},
        "helpUri": f"{docs_url}#{rule.id}" if docs_url else rule.reference,
        "defaultConfiguration": {"level": rule.level},
        "properties": {"category": rule.category, "tags": ["migrations", rule.category]},
    }


def _result(
    finding: MigrationFinding, index: dict[str, int], *, suppressed: bool = False
) -> dict[str, Any]:
    text = f"{finding.message}: {finding.why}" if finding.why else finding.message
    if finding.contract_after:
        text += f" (contract change after {finding.contract_after}: the migrations gate checks it)"
    region: dict[str, int] = {"startLine": finding.line}
    if finding.column:
        region["startColumn"] = finding.column
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": finding.level,
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": _artifact(finding.file),
                    "region": region,
                }
            }
        ],
    }
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    if suppressed:
        result["suppressions"] = [{"kind": "inSource", "justification": finding.reason or ""}]
    return result


def _artifact(path: str) -> dict[str, str]:
    posix = PurePosixPath(path)
    if posix.is_absolute():
        return {"uri": posix.as_uri()}
    return {"uri": quote(str(posix)), "uriBaseId": "SRCROOT"}
