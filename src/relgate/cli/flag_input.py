"""What the flag commands read from people: constraint text, JSON/YAML files, segment names.

Only parsing: the rules (known strategies, weights, dependencies) are the
server's (``relgate.flags.unleash_format`` normalises what it receives). A
file's errors name the file and line; the server's errors, which name a path
in the body (``strategies[0].constraints[1].operator``), are told with the
line of that path in the file (``with_file_lines``).
"""

from __future__ import annotations

import json
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
    """Return segment ids for ``names``: names, or ids (integers, or digits no segment is named).

    Raises BadInput naming ``where`` for an unknown name; other values are
    left for the server to refuse with their path.
    """
    if not any(isinstance(name, str) for name in names):
        return names
    known = {segment["name"]: segment["id"] for segment in client.get("/api/v1/segments")}
    ids: list[Any] = []
    for name in names:
        if isinstance(name, str) and name in known:
            ids.append(known[name])
        elif isinstance(name, str) and name.isdigit():
            ids.append(int(name))
        elif isinstance(name, str):
            choices = ", ".join(sorted(known)) or "none yet"
            raise BadInput(f"{where}: no segment {name!r} (segments: {choices})")
        else:
            ids.append(name)
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


def variant(text: str) -> dict[str, Any]:
    """Read ``NAME[=PERCENT][,stickiness=FIELD][,payload=TYPE:VALUE]`` (payload last)."""
    where = f"--variant {text!r}"
    head, _, payload = text.partition(",payload=")
    name_part, *options = head.split(",")
    name, _, weight = name_part.partition("=")
    result: dict[str, Any] = {"name": name.strip()}
    if not result["name"]:
        raise BadInput(f"{where}: starts with the variant's name, e.g. blue=50")
    if weight.strip():
        try:
            percent = float(weight.strip().removesuffix("%"))
        except ValueError:
            percent = -1.0
        if not 0 <= percent <= 100 or round(percent * 10) != percent * 10:
            raise BadInput(f"{where}: weight {weight!r} is not a percentage 0 to 100 (0.1 steps)")
        result["weight"] = round(percent * 10)
        result["weightType"] = "fix"
    for option in options:
        field, sep, value = option.partition("=")
        if field.strip() != "stickiness" or not sep or not value.strip():
            raise BadInput(
                f"{where}: {option!r}: expected stickiness=FIELD or payload=TYPE:VALUE (last)"
            )
        result["stickiness"] = value.strip()
    if payload:
        kind, sep, value = payload.partition(":")
        if not sep or kind not in ("string", "json", "number", "csv"):
            raise BadInput(
                f"{where}: payload {payload!r}: expected TYPE:VALUE, TYPE string, json, "
                "number or csv"
            )
        if kind == "json":
            try:
                json.loads(value)
            except ValueError as exc:
                raise BadInput(f"{where}: the json payload is not JSON: {exc}") from None
        result["payload"] = {"type": kind, "value": value}
    return result


def variants(texts: list[str]) -> list[dict[str, Any]]:
    """Read the ``--variant`` options; when all have weights they must add up to 100 %."""
    chosen = [variant(text) for text in texts]
    weighted = [v for v in chosen if v.get("weightType") == "fix"]
    if chosen and len(weighted) == len(chosen):
        total = sum(v["weight"] for v in chosen)
        if total != 1000:
            raise BadInput(
                f"--variant: the weights add up to {total / 10:g}%, not 100%; leave one "
                "without a weight to take the rest"
            )
        # Unleash needs one variable variant: the last takes the rest, its own weight
        chosen[-1]["weightType"] = "variable"
        del chosen[-1]["weight"]
    return chosen


def parent(text: str, enabled: bool, option: str) -> dict[str, Any]:
    """Read ``PARENT[:VARIANT,...]`` of ``--on`` (enabled) or ``--off`` as a dependency."""
    feature, sep, names_text = text.partition(":")
    if not feature.strip():
        raise BadInput(f"{option} {text!r}: expected PARENT or PARENT:VARIANT[,VARIANT...]")
    dependency: dict[str, Any] = {"feature": feature.strip(), "enabled": enabled}
    if sep:
        names = [v.strip() for v in names_text.split(",") if v.strip()]
        if not names or not enabled:
            raise BadInput(
                f"{option} {text!r}: variants follow ':' (PARENT:blue,green), only with --on"
            )
        dependency["variants"] = names
    return dependency
