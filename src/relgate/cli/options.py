"""Options and small helpers shared by the commands that talk to a relgate server.

Only typer is imported at module level, so every command module can use these
without slowing `relgate version` down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from relgate.cli.client import Client

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="The relgate server, e.g. http://127.0.0.1:8700 [env RELGATE_URL; else the "
        "`relgate login` file].",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="API token [env RELGATE_TOKEN; else the `relgate login` file].",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the server's JSON answer on stdout, for machines.")
]


def client(url: str | None, token: str | None) -> Client:
    """Return an API client for the server named by the flags, environment or login file."""
    from relgate.cli.client import Client

    return Client.from_flags(url, token)


def segment(text: str) -> str:
    """Quote one URL path segment: a version may hold '+' (build metadata)."""
    from urllib.parse import quote

    return quote(text, safe="")


def say(message: str) -> None:
    """Print a line for people (Rich markup already escaped by the caller)."""
    from relgate.cli.output import console

    console().print(message)


def when(value: object, *, seconds: bool = True) -> str:
    """Show an ISO time of the API as ``YYYY-MM-DD HH:MM[:SS]`` (UTC), or '-' for none."""
    if not isinstance(value, str) or not value:
        return "-"
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
