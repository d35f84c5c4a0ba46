"""Vulnerability scans: Trivy JSON, Grype JSON and SARIF 2.1.0 (Trivy's, Grype's, CodeQL's...).

Severities are normalised to one uppercase scale so that a gate's limits mean
the same thing whichever scanner produced the report.

A report also says which image it scanned, and a report is evidence only for
that image: the digests it names the image by (Trivy's ``Metadata.RepoDigests``
and ``ArtifactName``, Grype's ``source.target.repoDigests`` and ``userInput``,
SARIF's ``runs[].properties.repoDigests`` and ``imageName``) must all be the
release's; Grype's ``manifestDigest`` (the platform manifest of a
multi-platform image) may name it too. :meth:`VulnerabilityReport.digest_problem`
holds the rule. The image ID (the config digest) and layer digests never count.
"""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from relgate.errors import InvalidReport
from relgate.promotion.reports.reading import (
    as_list,
    as_object,
    check_size,
    finite_number,
    looks_like_xml,
    optional_text,
    parse_json,
)


class Severity(StrEnum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    NEGLIGIBLE = "NEGLIGIBLE"
    UNKNOWN = "UNKNOWN"


SEVERITIES: tuple[str, ...] = tuple(severity.value for severity in Severity)

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_SARIF_LEVELS = {"error": "HIGH", "warning": "MEDIUM", "note": "LOW", "none": "UNKNOWN"}
# Trivy's SARIF keeps the package only in the message text
_SARIF_PACKAGE = re.compile(r"^Package: (.+)$", re.MULTILINE)
_SARIF_INSTALLED = re.compile(r"^Installed Version: (.+)$", re.MULTILINE)


def normalise_severity(value: Any) -> str:
    """Return ``value`` as one of SEVERITIES, case-insensitively; anything else is UNKNOWN."""
    if isinstance(value, str):
        upper = value.strip().upper()
        if upper in SEVERITIES:
            return upper
    return "UNKNOWN"


def severity_from_score(score: float) -> str:
    """Return the severity of a CVSS-like ``security-severity`` score (GitHub's bands)."""
    if score >= 9:
        return "CRITICAL"
    if score >= 7:
        return "HIGH"
    if score >= 4:
        return "MEDIUM"
    if score > 0:
        return "LOW"
    return "NEGLIGIBLE"


class Finding(BaseModel):
    """One vulnerability of one package."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    severity: str
    package: str | None = None
    installed_version: str | None = None
    title: str | None = None

    @field_validator("severity")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return normalise_severity(value)

    def label(self) -> str:
        """Return e.g. ``CVE-2024-1234 (openssl)``."""
        return f"{self.id} ({self.package})" if self.package else self.id


class VulnerabilityReport(BaseModel):
    """The findings of one scan and the digests of the image the scanner says it scanned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["trivy", "grype", "sarif"]
    findings: list[Finding] = []
    scanned_digests: list[str] = []
    """Digests the report names the scanned image by; each must be the release's."""
    platform_digests: list[str] = []
    """Grype's manifestDigest: names the release when equal, conflicts with nothing."""

    def digest_problem(self, expected: str) -> str | None:
        """Return why this report is not a scan of the image ``expected`` (a digest), or None.

        A report that names no digest, or names any other image digest than
        ``expected``, is not; the message says what was found and expected.
        """
        want = expected.lower()
        scanned = [digest.lower() for digest in self.scanned_digests]
        others = [digest for digest in scanned if digest != want]
        if others:
            named = ", ".join(dict.fromkeys(others))
            return (
                f"the vulnerability report names the image {named}, not this release's "
                f"{want}; a report of another image cannot pass this one"
            )
        if want in scanned or want in (digest.lower() for digest in self.platform_digests):
            return None
        if self.platform_digests:
            named = ", ".join(self.platform_digests)
            return (
                f"the vulnerability report names only the platform manifest {named}, "
                f"not this release's {want}"
            )
        return (
            "the vulnerability report names no image digest (expected this release's "
            f"{want}): scan the image by its digest (e.g. trivy image --format json "
            f"REGISTRY/IMAGE@sha256:...) so that the report records {_WHERE[self.format]}"
        )

    def counts(self) -> dict[str, int]:
        """Return the number of findings per severity, every severity present, worst first."""
        counter = Counter(finding.severity for finding in self.findings)
        return {severity: counter.get(severity, 0) for severity in SEVERITIES}

    def summary(self) -> str:
        """Return e.g. ``3 findings: 1 CRITICAL, 2 HIGH`` or ``no findings``."""
        if not self.findings:
            return "no findings"
        parts = [f"{count} {severity}" for severity, count in self.counts().items() if count]
        noun = "finding" if len(self.findings) == 1 else "findings"
        return f"{len(self.findings)} {noun}: {', '.join(parts)}"


def parse_vulnerabilities(data: bytes, filename: str) -> VulnerabilityReport:
    """Return the findings of the Trivy JSON, Grype JSON or SARIF report in ``data``.

    The format is told from the content. Raises InvalidReport naming the file
    when it is none of them or a required part has the wrong shape.
    """
    check_size(data, filename)
    if looks_like_xml(data):
        raise InvalidReport(
            f"{filename}: not a Trivy JSON, Grype JSON or SARIF report (it is XML, not JSON)"
        )
    document = parse_json(data, filename)
    if isinstance(document, dict):
        if "runs" in document and (
            "sarif" in str(document.get("$schema", "")).lower()
            or str(document.get("version", "")).startswith("2.1")
        ):
            return _parse_sarif(document, filename)
        if "SchemaVersion" in document and ("Results" in document or "ArtifactName" in document):
            return _parse_trivy(document, filename)
        if "matches" in document and ("descriptor" in document or "source" in document):
            return _parse_grype(document, filename)
    raise InvalidReport(
        f"{filename}: not a Trivy JSON, Grype JSON or SARIF 2.1.0 report "
        "(expected 'SchemaVersion' and 'Results', 'matches' and 'source', or 'runs' and a SARIF "
        "'version')"
    )


_WHERE: dict[str, str] = {
    "trivy": "Metadata.RepoDigests",
    "grype": "source.target.repoDigests",
    "sarif": "runs[].properties.repoDigests",
}


def _merge(*lists: list[str]) -> list[str]:
    return list(dict.fromkeys(digest for found in lists for digest in found))


def _digests(references: Any) -> list[str]:
    """Return the ``sha256:`` digests found in image references such as ``repo@sha256:...``."""
    found: list[str] = []
    values = references if isinstance(references, list) else [references]
    for value in values:
        if not isinstance(value, str):
            continue
        digest = value.rsplit("@", 1)[-1].strip()
        if _DIGEST.fullmatch(digest) and digest not in found:
            found.append(digest)
    return found


def _parse_trivy(document: dict[str, Any], filename: str) -> VulnerabilityReport:
    metadata = document.get("Metadata")
    # Metadata.ImageID is the config digest, not the manifest digest an artifact is pinned by
    digests = _merge(
        _digests(metadata.get("RepoDigests")) if isinstance(metadata, dict) else [],
        _digests(document.get("ArtifactName")),
    )
    findings: list[Finding] = []
    for index, raw_result in enumerate(as_list(document.get("Results"), filename, "Results")):
        result = as_object(raw_result, filename, f"Results[{index}]")
        vulnerabilities = as_list(
            result.get("Vulnerabilities"), filename, f"Results[{index}].Vulnerabilities"
        )
        for position, raw in enumerate(vulnerabilities):
            where = f"Results[{index}].Vulnerabilities[{position}]"
            vulnerability = as_object(raw, filename, where)
            identifier = optional_text(vulnerability.get("VulnerabilityID"))
            if identifier is None:
                raise InvalidReport(f"{filename}: {where} has no VulnerabilityID")
            findings.append(
                Finding(
                    id=identifier,
                    severity=normalise_severity(vulnerability.get("Severity")),
                    package=optional_text(vulnerability.get("PkgName")),
                    installed_version=optional_text(vulnerability.get("InstalledVersion")),
                    title=optional_text(vulnerability.get("Title")),
                )
            )
    return VulnerabilityReport(format="trivy", findings=findings, scanned_digests=digests)


def _parse_grype(document: dict[str, Any], filename: str) -> VulnerabilityReport:
    digests: list[str] = []
    platform: list[str] = []
    source = document.get("source")
    target = source.get("target") if isinstance(source, dict) else None
    if isinstance(target, dict):
        digests = _merge(_digests(target.get("repoDigests")), _digests(target.get("userInput")))
        platform = _digests(target.get("manifestDigest"))
    findings: list[Finding] = []
    for index, raw in enumerate(as_list(document.get("matches"), filename, "matches")):
        match = as_object(raw, filename, f"matches[{index}]")
        vulnerability = as_object(
            match.get("vulnerability"), filename, f"matches[{index}].vulnerability"
        )
        identifier = optional_text(vulnerability.get("id"))
        if identifier is None:
            raise InvalidReport(f"{filename}: matches[{index}].vulnerability has no id")
        artifact = match.get("artifact")
        artifact = artifact if isinstance(artifact, dict) else {}
        description = optional_text(vulnerability.get("description"))
        findings.append(
            Finding(
                id=identifier,
                severity=normalise_severity(vulnerability.get("severity")),
                package=optional_text(artifact.get("name")),
                installed_version=optional_text(artifact.get("version")),
                title=description.splitlines()[0][:200] if description else None,
            )
        )
    return VulnerabilityReport(
        format="grype", findings=findings, scanned_digests=digests, platform_digests=platform
    )


def _sarif_severity(*property_bags: Any, level: Any) -> str:
    for bag in property_bags:
        if isinstance(bag, dict) and "security-severity" in bag:
            raw = bag["security-severity"]
            score = finite_number(raw)
            if score is None and isinstance(raw, str):
                try:
                    score = float(raw)
                except ValueError:
                    score = None
            if score is not None:
                return severity_from_score(score)
    return _SARIF_LEVELS.get(str(level), "UNKNOWN")


def _parse_sarif(document: dict[str, Any], filename: str) -> VulnerabilityReport:
    findings: list[Finding] = []
    digests: list[str] = []
    for run_index, raw_run in enumerate(as_list(document.get("runs"), filename, "runs")):
        run = as_object(raw_run, filename, f"runs[{run_index}]")
        properties = run.get("properties")
        if isinstance(properties, dict):
            digests = _merge(
                digests,
                _digests(properties.get("repoDigests")),
                _digests(properties.get("imageName")),
            )
        tool = run.get("tool")
        driver = tool.get("driver") if isinstance(tool, dict) else None
        raw_rules = driver.get("rules") if isinstance(driver, dict) else None
        rules = [
            rule if isinstance(rule, dict) else {} for rule in as_list(raw_rules, filename, "rules")
        ]
        rules_by_id = {rule["id"]: rule for rule in rules if isinstance(rule.get("id"), str)}
        results = as_list(run.get("results"), filename, f"runs[{run_index}].results")
        for index, raw in enumerate(results):
            where = f"runs[{run_index}].results[{index}]"
            result = as_object(raw, filename, where)
            # only "fail" results are findings; pass, review, open and notApplicable are not
            if result.get("kind", "fail") != "fail":
                continue
            rule = _sarif_rule(result, rules, rules_by_id)
            identifier = optional_text(result.get("ruleId")) or optional_text(rule.get("id"))
            if identifier is None:
                raise InvalidReport(f"{filename}: {where} has no ruleId")
            default = rule.get("defaultConfiguration")
            # SARIF's default level, when neither the result nor the rule sets one, is warning
            level = (
                result.get("level")
                or (default.get("level") if isinstance(default, dict) else None)
                or "warning"
            )
            message = result.get("message")
            text = message.get("text") if isinstance(message, dict) else None
            text = text if isinstance(text, str) else ""
            package = _SARIF_PACKAGE.search(text)
            installed = _SARIF_INSTALLED.search(text)
            short = rule.get("shortDescription")
            title = optional_text(short.get("text")) if isinstance(short, dict) else None
            findings.append(
                Finding(
                    id=identifier,
                    severity=_sarif_severity(
                        result.get("properties"), rule.get("properties"), level=level
                    ),
                    package=package.group(1).strip() if package else None,
                    installed_version=installed.group(1).strip() if installed else None,
                    title=title if title != identifier else None,
                )
            )
    return VulnerabilityReport(format="sarif", findings=findings, scanned_digests=digests)


def _sarif_rule(
    result: dict[str, Any], rules: list[dict[str, Any]], rules_by_id: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    index = result.get("ruleIndex")
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(rules):
        return rules[index]
    rule_id = result.get("ruleId")
    if isinstance(rule_id, str) and rule_id in rules_by_id:
        return rules_by_id[rule_id]
    return {}
