"""relgate flags segments list|create|update|delete: named sets of constraints.

A segment's constraints come from ``--constraint 'FIELD [NOT] OPERATOR
VALUE[,VALUE...]'`` (repeatable) or ``--file`` (JSON or YAML: a list of
constraint objects or texts, or an object with ``constraints`` and optionally
``description``). The server checks them (``/api/v1/segments``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from relgate.cli.flags import flags_app
from relgate.cli.options import JsonOption, TokenOption, UrlOption
from relgate.cli.options import client as _client
from relgate.cli.options import say as _out
from relgate.cli.options import segment as _seg

segments_app = typer.Typer(
    help="Segments: named sets of constraints that strategies of any flag use.",
    no_args_is_help=True,
)
flags_app.add_typer(segments_app, name="segments")

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The segment's name.")]
ConstraintsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--constraint",
        help="'FIELD [NOT] OPERATOR VALUE[,VALUE...]', e.g. 'country IN NO,SE' (repeatable; "
        "all must hold).",
    ),
]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        help="JSON or YAML: a list of constraints (objects or texts), or an object with "
        "'constraints' and 'description'.",
        show_default=False,
    ),
]


def _constraints(
    texts: list[str] | None, file: Path | None
) -> tuple[list[Any] | None, str | None, Path | None, dict[Any, int], tuple[str | int, ...]]:
    """Return (constraints or None, description from the file, file, lines, list location)."""
    from relgate.cli import flag_input
    from relgate.errors import BadInput, InvalidConfig

    if texts and file is not None:
        raise BadInput("give --constraint or --file, not both")
    if file is None:
        if texts is None:
            return None, None, None, {}, ()
        return [flag_input.constraint(text) for text in texts], None, None, {}, ()
    document, lines = flag_input.read_document(file)
    items, at = flag_input.list_in(document, "constraints", file, lines)
    description = document.get("description") if isinstance(document, dict) else None
    if description is not None and not isinstance(description, str):
        raise InvalidConfig(
            "expected a string",
            file=str(file),
            line=lines.get(("description",)),
            field="description",
        )
    return flag_input.constraints_in(items, file, lines, at), description, file, lines, at


def _render(segment: dict[str, Any]) -> str:
    from relgate.flags.unleash_format import constraint_text

    rules = " and ".join(constraint_text(c) for c in segment["constraints"]) or "everyone"
    used = ", ".join(segment.get("used_by") or []) or "no flag"
    return f"segment {segment['name']} (id {segment['id']}): {rules}; used by {used}"


@segments_app.command("list")
def list_segments(
    url: UrlOption = None, token: TokenOption = None, json_output: JsonOption = False
) -> None:
    """List segments: id, constraints, the flags that use them."""
    from relgate.cli.output import escape, print_json, print_table, table
    from relgate.flags.unleash_format import constraint_text

    with _client(url, token) as client:
        segments = client.get("/api/v1/segments")
    if json_output:
        print_json(segments)
        return
    if not segments:
        _out("no segments yet: create one with `relgate flags segments create NAME --constraint …`")
        return
    rendered = table(["name", "id", "constraints", "used by"], [])
    for segment in segments:
        rendered.add_row(
            escape(segment["name"]),
            str(segment["id"]),
            escape(" and ".join(constraint_text(c) for c in segment["constraints"]) or "-"),
            escape(", ".join(segment.get("used_by") or []) or "-"),
        )
    print_table(rendered)


@segments_app.command("create")
def create_segment(
    name: NameArgument,
    constraints: ConstraintsOption = None,
    file: FileOption = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What it is for.", show_default=False)
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a segment; strategies use it by name (`flags strategies set --segment NAME`)."""
    from relgate.cli import flag_input
    from relgate.cli.output import escape, print_json

    items, from_file, path, lines, at = _constraints(constraints, file)
    body = {
        "name": name,
        "description": description if description is not None else (from_file or ""),
        "constraints": items or [],
    }
    with _client(url, token) as client, flag_input.with_file_lines(path, lines, at, "constraints"):
        segment = client.post("/api/v1/segments", json=body)
    if json_output:
        print_json(segment)
        return
    _out(escape("created " + _render(segment)))


@segments_app.command("update")
def update_segment(
    name: NameArgument,
    constraints: ConstraintsOption = None,
    file: FileOption = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What it is for.", show_default=False)
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replace a segment's constraints and/or description (every flag using it changes)."""
    from relgate.cli import flag_input
    from relgate.cli.output import escape, print_json
    from relgate.errors import BadInput

    items, from_file, path, lines, at = _constraints(constraints, file)
    body: dict[str, Any] = {}
    if items is not None:
        body["constraints"] = items
    if description is not None or from_file is not None:
        body["description"] = description if description is not None else from_file
    if not body:
        raise BadInput("nothing to change: give --constraint, --file or --description")
    with _client(url, token) as client, flag_input.with_file_lines(path, lines, at, "constraints"):
        segment = client.patch(f"/api/v1/segments/{_seg(name)}", json=body)
    if json_output:
        print_json(segment)
        return
    _out(escape("updated " + _render(segment)))


@segments_app.command("delete")
def delete_segment(
    name: NameArgument,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Delete a segment that no flag uses."""
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        client.delete(f"/api/v1/segments/{_seg(name)}")
    if json_output:
        print_json({"deleted": name})
        return
    _out(escape(f"deleted segment {name}"))
