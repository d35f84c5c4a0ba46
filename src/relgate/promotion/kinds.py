"""The kinds of evidence a release can carry (a module of its own: the CLI needs the
names without importing the report parsers)."""

from __future__ import annotations

from enum import StrEnum


class EvidenceKind(StrEnum):
    TESTS = "tests"
    COVERAGE = "coverage"
    VULNERABILITIES = "vulnerabilities"
    PERFORMANCE = "performance"
    SMOKE = "smoke"
    CUSTOM = "custom"
    MIGRATIONS = "migrations"
