"""Read YAML keeping where each value came from, then validate it with pydantic.

Errors name the file, the line and the dotted field path, e.g.
``relgate.yaml:14: environments[2].gates[0].min: Input should be a valid number``.

YAML aliases let a few hundred bytes stand for billions of values (a "billion
laughs"): the document is measured as it is composed, aliases expanded, and
refused past :data:`MAX_VALUES` values or :data:`MAX_DEPTH` levels before
anything is built from it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from relgate.errors import InvalidConfig

if TYPE_CHECKING:
    # imported where it is used: `relgate version` in a repository without
    # relgate.yaml never pays for it
    import yaml

M = TypeVar("M")
Loc = tuple[str | int, ...]

# far more than any relgate.yaml holds, far less than an alias bomb expands to
MAX_VALUES: Final = 100_000
MAX_DEPTH: Final = 100


@cache
def _bounded_loader() -> Any:
    """Return a SafeLoader that counts the values of the document, aliases expanded.

    Raises InvalidConfig (file and line of the alias or value at fault) past
    MAX_VALUES values or MAX_DEPTH levels, and for an alias inside its own anchor.
    """
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        def __init__(self, stream: str, file: str) -> None:
            super().__init__(stream)
            self.file = file
            # expanded size of each finished node, by id (self.anchors keeps them alive)
            self._sizes: dict[int, int] = {}
            self._count = 0
            self._depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self._next_event()
                line = event.start_mark.line + 1
                target = self.anchors.get(event.anchor)
                if target is not None:
                    size = self._sizes.get(id(target))
                    if size is None:
                        raise InvalidConfig(
                            f"the alias *{event.anchor} is inside its own anchor",
                            file=self.file,
                            line=line,
                        )
                    self._add(size, line, f"the alias *{event.anchor}")
                return super().compose_node(parent, index)
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise InvalidConfig(
                    f"nested more than {MAX_DEPTH} levels deep",
                    file=self.file,
                    line=self._next_event().start_mark.line + 1,
                )
            before = self._count
            line = self._next_event().start_mark.line + 1
            self._add(1, line, "this value")
            node = super().compose_node(parent, index)
            self._depth -= 1
            self._sizes[id(node)] = self._count - before
            return node

        def _next_event(self) -> Any:
            return self.peek_event()  # type: ignore[no-untyped-call]

        def _add(self, size: int, line: int, what: str) -> None:
            self._count += size
            if self._count > MAX_VALUES:
                raise InvalidConfig(
                    f"more than {MAX_VALUES} values once YAML aliases are expanded "
                    f"({what} passes the limit): refused as an alias bomb",
                    file=self.file,
                    line=line,
                )

    return BoundedLoader


def _construct(
    loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, lines: dict[Loc, int], file: str
) -> Any:
    import yaml

    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if (
                isinstance(key, bool)
                and key_node.style is None
                and key_node.value.lower() not in ("true", "false")
            ):
                # YAML 1.1 reads a bare `on:`, `yes:`, `off:` key as a boolean, YAML 1.2
                # as the word: a key of relgate.yaml is a name (a rollout's `analysis.on:`)
                key = key_node.value
            if isinstance(key, list | dict):
                raise InvalidConfig(
                    "a mapping key must be a plain value",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    field=format_loc(loc),
                )
            if key in result:
                raise InvalidConfig(
                    f"duplicate key {key!r}",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    field=format_loc(loc),
                )
            result[key] = _construct(loader, value_node, (*loc, str(key)), lines, file)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, (*loc, index), lines, file)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, file: str) -> tuple[Any, dict[Loc, int]]:
    """Return the YAML document in ``text`` and a map from each value's path to its line.

    Raises InvalidConfig naming the file and line when the text is not YAML,
    or expands to more than MAX_VALUES values (aliases) or MAX_DEPTH levels.
    """
    import yaml

    lines: dict[Loc, int] = {}
    try:
        loader = _bounded_loader()(text, file)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, lines
            return _construct(loader, node, (), lines, file), lines
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "not valid YAML"
        raise InvalidConfig(f"not valid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise InvalidConfig(f"not valid YAML: {exc}", file=file) from None


def format_loc(loc: Loc) -> str:
    """Render a pydantic/YAML location as ``environments[2].gates[0].min``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        line = lines.get(tuple(loc[:end]))
        if line is not None:
            return line
    return None


def validate(model: type[M], data: Any, lines: dict[Loc, int], file: str) -> M:
    """Validate ``data`` as ``model`` (a pydantic model or a msgspec Struct).

    Raises InvalidConfig for the first error, naming the file, line and field.
    """
    if data is None:
        raise InvalidConfig("the file is empty", file=file, line=1)
    import msgspec

    if isinstance(model, type) and issubclass(model, msgspec.Struct):
        result: M = _validate_struct(model, data, lines, file)
    else:
        result = _validate_pydantic(model, data, lines, file)
    return result


def _validate_pydantic(model: Any, data: Any, lines: dict[Loc, int], file: str) -> Any:
    from pydantic import ValidationError

    from relgate.manifest import wording

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc, union = wording.real_path(first["loc"], data)
        extra, message = wording.pydantic_message(first)
        count = exc.error_count()
        if union:
            # a value that fits no member of `str | list[str]`: one message for all of them
            related = [e for e in errors if wording.real_path(e["loc"], data)[0][: len(loc)] == loc]
            message = wording.union_message(related, data, loc)
            count -= len(related) - 1
        loc = (*loc, *extra)
        if count > 1:
            message += f" (and {count - 1} more error{'s' if count > 2 else ''})"
        raise InvalidConfig(
            message, file=file, line=_line_for(loc, lines), field=format_loc(loc)
        ) from None


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?\Z", re.S)
# msgspec writes `.key` for fields, `[3]` for list items and `[...]` for dict values
_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`\Z")
_REQUIRED = re.compile(r"^Object missing required field `(?P<field>[^`]+)`\Z")
# a __post_init__ check names its field first: "tag_format: must contain {version}"
_FIELD_FIRST = re.compile(r"^(?P<field>[\w.\[\]-]+): (?P<message>.+)\Z", re.S)


def _validate_struct(model: Any, data: Any, lines: dict[Loc, int], file: str) -> Any:
    import msgspec

    from relgate.manifest import wording

    try:
        return msgspec.convert(data, model)
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        assert match is not None
        message = match["message"]
        loc: Loc = tuple(
            name if name else int(index) for name, index in _PART.findall(match["path"] or "")
        )
        unknown = _UNKNOWN.match(message)
        if unknown:
            loc = (*loc, unknown["field"])
            message = wording.UNKNOWN_KEY
        elif _REQUIRED.match(message):
            loc = (*loc, _REQUIRED.match(message)["field"])  # type: ignore[index]
            message = wording.MISSING
        else:
            message = wording.msgspec_message(message)
            named = _FIELD_FIRST.match(message)
            if named:
                loc = (*loc, *_dotted(named["field"]))
                message = named["message"]
        raise InvalidConfig(
            message, file=file, line=_line_for(loc, lines), field=format_loc(loc)
        ) from None


def _dotted(field: str) -> Loc:
    return tuple(name if name else int(index) for name, index in _PART.findall("." + field))


def load_text(model: type[M], text: str, file: str) -> M:
    """Parse and validate YAML text; raises InvalidConfig naming file, line and field."""
    data, lines = parse_yaml(text, file)
    return validate(model, data, lines, file)


def read_text(path: Path) -> str:
    """Return the text of a configuration file; raises InvalidConfig naming it when unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidConfig("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfig(f"cannot read: {exc}", file=str(path)) from None


def load_file(model: type[M], path: Path) -> M:
    """Read, parse and validate a YAML file; raises InvalidConfig when unreadable or invalid."""
    return load_text(model, read_text(path), str(path))


def line_of(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """Return the line of ``loc`` in the file, else of its nearest parent (None when unknown)."""
    return _line_for(loc, lines)
