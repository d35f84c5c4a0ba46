"""What the flag commands read from people: constraint text, JSON/YAML files, segment names.

Only parsing: the rules (known strategies, weights, dependencies) are the
server's (``relgate.flags.unleash_format`` normalises what it receives). A
file's errors name the file and line; the server's errors, which name a path
in the body (``strategies[0].constraints[1].operator``), are told with the
line of that path in the file (``with_file_lines``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relgate.errors import BadInput, InvalidConfig

if TYPE_CHECKING:
    from relgate.cli.client import Client

# a file of flag definitions is small; anything larger is a mistake
MAX_FILE_BYTES = 1 << 20

Lines = dict[tuple[str | int, ...], int]


def constraint(text: str, option: str = "--constraint") -> dict[str, Any]:
    """Return the constraint written as ``'FIELD [NOT] OPERATOR VALUE[,VALUE...]'``.

    Raises BadInput naming the option and what is wrong (an unknown operator, a missing part).
    """
    from relgate.errors import InvalidFlagDefinition
    from relgate.flags.unleash_format import parse_constraint_text

    try:
        return parse_constraint_text(text)
    except InvalidFlagDefinition as exc:
        raise BadInput(f"{option}: {exc.message}") from None


def read_document(path: Path) -> tuple[Any, Lines]:
    """Return the JSON or YAML document in ``path`` and the line of each value's path.

    Raises InvalidConfig naming the file (and line) when it cannot be read,
    is too large, or is not JSON/YAML.
    """
    from relgate.manifest.loader import parse_yaml, read_text

    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InvalidConfig("file not found", file=str(path)) from None
    except OSError as exc:
        raise InvalidConfig(f"cannot read: {exc.strerror}", file=str(path)) from None
    if size > MAX_FILE_BYTES:
        raise InvalidConfig(f"{size} bytes, more than {MAX_FILE_BYTES} allowed", file=str(path))
    data, lines = parse_yaml(read_text(path), str(path))
    if data is None:
        raise InvalidConfig("the file is empty", file=str(path), line=1)
    return data, lines


def list_in(document: Any, key: str, path: Path, lines: Lines) -> tuple[list[Any], tuple[str, ...]]:
    """Return the list the file holds: the document itself, or its ``key`` entry.

    Also returns where the list is in the file (``()`` or ``(key,)``), for
    lines. Raises InvalidConfig when there is no such list.
    """
    if isinstance(document, list):
        return document, ()
    if isinstance(document, dict) and isinstance(document.get(key), list):
        return document[key], (key,)
    raise InvalidConfig(
        f"expected a list of {key}, or an object with a {key!r} list", file=str(path), line=1
    )


def constraints_in(
    items: list[Any], path: Path, lines: Lines, at: tuple[str | int, ...]
) -> list[Any]:
    """Return ``items`` with each constraint written as text read into an object."""
    result: list[Any] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            line = lines.get((*at, index))
            try:
                result.append(constraint(item, "constraint"))
            except BadInput as exc:
                raise InvalidConfig(
                    exc.message.removeprefix("constraint: "), file=str(path), line=line
                ) from None
        else:
            result.append(item)
    return result


def segment_ids(client: Client, names: list[Any], where: str) -> list[Any]:
    """Return segment ids for ``names`` (names or ids); raises BadInput for an unknown name."""
    if all(isinstance(name, int) for name in names):
        return names
    known = {segment["name"]: segment["id"] for segment in client.get("/api/v1/segments")}
    ids: list[Any] = []
    for name in names:
        if isinstance(name, str) and not name.isdigit():
            if name not in known:
                choices = ", ".join(sorted(known)) or "none yet"
                raise BadInput(f"{where}: no segment {name!r} (segments: {choices})")
            ids.append(known[name])
        else:
            ids.append(int(name) if isinstance(name, str) else name)
    return ids


_PATH = re.compile(r"^(?P<root>\w+)(?P<rest>(?:\[\d+\]|\.[\w-]+)*): (?P<message>.*)\Z", re.S)
_PART = re.compile(r"\[(\d+)\]|\.([\w-]+)")


@contextmanager
def with_file_lines(
    path: Path | None, lines: Lines, at: tuple[str | int, ...], root: str
) -> Iterator[None]:
    """Re-raise the server's BadInput naming ``root[..]...`` with the file and its line."""
    try:
        yield
    except BadInput as exc:
        found = _PATH.match(exc.message)
        if path is None or found is None or found["root"] != root:
            raise
        loc: tuple[str | int, ...] = tuple(
            int(index) if index else name for index, name in _PART.findall(found["rest"])
        )
        from relgate.manifest.loader import line_of

        line = line_of((*at, *loc), lines)
        where = f"{path}:{line}" if line is not None else str(path)
        raise BadInput(f"{where}: {root}{found['rest']}: {found['message']}") from None


def pairs(text: str, option: str) -> Mapping[str, str]:
    """Read ``KEY=VALUE``; raises BadInput naming the option."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise BadInput(f"{option} {text!r}: expected KEY=VALUE")
    return {key.strip(): value}
