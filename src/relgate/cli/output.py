"""Output helpers shared by every CLI command: Rich for people, JSON for machines.

Rich is imported on first use only, so a command that prints JSON never pays
for it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


@cache
def console(*, stderr: bool = False) -> Console:
    """Return the shared Rich console on stdout (or stderr), highlighting off."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON (UTF-8) and a newline to stdout; indented on a terminal.

    orjson, because `relgate version --json` writes megabytes for a long history
    and the standard encoder alone took a fifth of the command's time.
    """
    import orjson

    option = orjson.OPT_INDENT_2 if sys.stdout.isatty() else 0
    data = orjson.dumps(obj, option=option | orjson.OPT_NON_STR_KEYS)
    sys.stdout.flush()
    sys.stdout.buffer.write(data + b"\n")
    sys.stdout.buffer.flush()


def table(
    columns: Sequence[str], rows: Iterable[Sequence[object]], *, title: str | None = None
) -> Table:
    """Return a Rich table with ``columns`` and ``rows`` (cells shown with ``str``)."""
    from rich.table import Table

    result = Table(*columns, title=title, box=None, pad_edge=False, show_edge=False)
    for row in rows:
        result.add_row(*(str(cell) for cell in row))
    return result


def escape(text: str) -> str:
    """Return ``text`` with Rich markup escaped, for user-provided strings."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def warn(message: str) -> None:
    """Print a warning line (markup allowed) to stderr."""
    console(stderr=True).print(f"[yellow]warning:[/yellow] {message}")


def info(message: str) -> None:
    """Print a status line (markup allowed) to stderr, keeping stdout for results."""
    console(stderr=True).print(message)


_GATE_STYLES = {"pass": "green", "fail": "red", "missing": "yellow"}


def gate_status(status: str) -> str:
    """Return a gate's status (pass, fail, missing) as Rich markup coloured by its meaning."""
    style = _GATE_STYLES.get(status)
    shown = escape(status)
    return f"[{style}]{shown}[/{style}]" if style else shown


# Wide enough that a table piped into a CI log or a file is never wrapped or cut.
_PIPED_WIDTH = 1000


def print_table(rendered: Table) -> None:
    """Print a table on stdout: fitted to a terminal, or whole lines when piped or in CI."""
    out = console()
    if out.is_terminal:
        out.print(rendered)
        return
    _piped_console().print(rendered)


@cache
def _piped_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, width=_PIPED_WIDTH)


def cell(value: object) -> str:
    """Show a value in a table or a field line: '-' for none or empty, lists comma-separated."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return "-" if value is None or value == "" else str(value)


def print_rows(columns: list[str], rows: list[list[object]], *, empty: str) -> None:
    """Print ``rows`` as a table under ``columns``, or the line ``empty`` when there are none."""
    if not rows:
        console().print(escape(empty))
        return
    print_table(table(columns, [[escape(str(value)) for value in row] for row in rows]))
