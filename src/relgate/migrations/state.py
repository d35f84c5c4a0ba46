"""What the checks of one file share: positions, findings, and the annotations in comments.

The SQL and Alembic checks both write into a FileState: the tables the file
creates (changes to them are safe: nobody uses them yet), whether a
transaction is open, whether lock_timeout was set, the comments (for
``relgate:`` annotations) and the statements' line spans (a suppression
covers the statement it stands in, on the line of, or just above).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Locator:
    """Maps character offsets of a text to 1-based (line, column) of the file.

    ``line`` and ``column`` say where the text starts in the file: an SQL string
    inside a Python file starts at the literal's line and column.
    """

    starts: tuple[int, ...]
    line: int = 1
    column: int = 1

    @classmethod
    def of(cls, text: str, line: int = 1, column: int = 1) -> Locator:
        starts = [0]
        starts.extend(index + 1 for index, char in enumerate(text) if char == "\n")
        return cls(tuple(starts), line, column)

    def at(self, offset: int) -> tuple[int, int]:
        """Return the (line, column) of character ``offset`` of the text, in the file."""
        offset = max(offset, 0)
        index = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        column = offset - self.starts[index] + 1
        if index == 0:
            column += self.column - 1
        return self.line + index, column


@dataclass(frozen=True)
class Raw:
    """A finding before annotations are applied."""

    rule: str
    line: int
    column: int | None
    message: str
    object: str | None
    span: tuple[int, int]


@dataclass
class FileState:
    """The state of the checks of one file, in statement order."""

    path: str
    in_transaction: bool = False
    created: set[str] = field(default_factory=set)
    lock_timeout: bool = False
    timeout_reported: bool = False
    statements: int = 0
    found: list[Raw] = field(default_factory=list)
    comments: list[tuple[int, str]] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)

    def add(
        self,
        rule: str,
        where: tuple[int, int | None],
        message: str,
        span: tuple[int, int],
        obj: str | None = None,
    ) -> None:
        self.found.append(Raw(rule, where[0], where[1], message, obj, span))

    def is_new(self, table: str | None) -> bool:
        """Whether ``table`` was created earlier in this file (so nobody uses it yet)."""
        return table is not None and _bare(table) in self.created

    def create(self, table: str) -> None:
        self.created.add(_bare(table))

    def locking(self, where: tuple[int, int | None], span: tuple[int, int], what: str) -> None:
        """Note a statement that locks an existing table; warn once without lock_timeout."""
        if self.lock_timeout or self.timeout_reported:
            return
        self.timeout_reported = True
        self.add(
            "require-lock-timeout",
            where,
            f"{what} without `SET lock_timeout` before it in this file",
            span,
        )


def _bare(table: str) -> str:
    """``public.Users`` -> ``users``: created tables are matched by their last name part."""
    return table.rsplit(".", 1)[-1].strip('"').lower()
