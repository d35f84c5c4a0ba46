"""The report of ``relgate migrations check --json``: also the ``migrations`` evidence.

One pydantic model for both, so what CI posts is checked against the same
schema the CLI writes, with every list and string bounded (the server stores
what a CI token sends).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from relgate.migrations.rules import Category, Level

FORMAT: Literal["relgate-migrations"] = "relgate-migrations"

# bounds of a report: far above what an honest repository produces
MAX_FILES = 10_000
MAX_FINDINGS = 10_000
_PATH = 1000
_TEXT = 2000
_RULE = 100
_VERSION = 200

Text = Annotated[str, Field(max_length=_TEXT)]


class FileChecked(BaseModel):
    """One migration file that was checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(max_length=_PATH)
    kind: Literal["sql", "alembic"]
    statements: int = Field(ge=0, description="SQL statements or op.* calls read.")
    contract_after: list[Annotated[str, Field(max_length=_VERSION)]] = Field(
        default_factory=list, max_length=100
    )


class MigrationFinding(BaseModel):
    """One unsafe change (or a suppressed one, in ``suppressed``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str = Field(max_length=_RULE)
    level: Level
    category: Category
    file: str = Field(max_length=_PATH)
    line: int = Field(ge=1)
    column: int | None = Field(default=None, ge=1)
    object: str | None = Field(default=None, max_length=_TEXT)
    message: Text
    why: Text = ""
    safe: list[Text] = Field(default_factory=list, max_length=20)
    contract_after: str | None = Field(default=None, max_length=_VERSION)
    reason: str | None = Field(
        default=None, max_length=_TEXT, description="Why it is suppressed (suppressed only)."
    )

    def where(self) -> str:
        """Return ``path:line`` (with ``:column`` when known)."""
        return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")

    def label(self) -> str:
        """Return e.g. ``drop-column users.email at db/0003.sql:4``."""
        subject = f" {self.object}" if self.object else ""
        return f"{self.rule}{subject} at {self.where()}"


class MigrationReport(BaseModel):
    """What ``relgate migrations check`` found in a set of migration files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["relgate-migrations"] = FORMAT
    version: Literal[1] = 1
    files: list[FileChecked] = Field(default_factory=list, max_length=MAX_FILES)
    findings: list[MigrationFinding] = Field(default_factory=list, max_length=MAX_FINDINGS)
    suppressed: list[MigrationFinding] = Field(default_factory=list, max_length=MAX_FINDINGS)

    def count(self, level: Level) -> int:
        return sum(1 for finding in self.findings if finding.level == level)

    @property
    def failed(self) -> bool:
        """True when a finding is at error level (the CLI then exits 1)."""
        return self.count("error") > 0

    def summary(self) -> str:
        """Return e.g. ``3 files: 1 error, 2 warnings, 1 contract change, 1 suppressed``."""
        parts = [
            _plural(self.count("error"), "error"),
            _plural(self.count("warning"), "warning"),
        ]
        notes = self.count("note")
        if notes:
            parts.append(_plural(notes, "contract change"))
        if self.suppressed:
            parts.append(f"{len(self.suppressed)} suppressed")
        return f"{_plural(len(self.files), 'file')}: {', '.join(parts)}"


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
