"""Writing the release version into a project's own files.

The edits are textual and minimal: only the version's characters change, so
comments, key order, indentation and quoting survive. Supported:
``pyproject.toml`` (``[project]`` or ``[tool.poetry]`` ``version``),
``package.json`` (the top-level ``"version"``) and Helm ``Chart.yaml``
(``version`` and, when present, ``appVersion``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from relgate.errors import InvalidConfig

_TOML_TABLE = re.compile(r"^[ \t]*\[\[?[ \t]*([^\]]+?)[ \t]*\]\]?[ \t]*(?:#.*)?$", re.MULTILINE)
_TOML_VERSION = re.compile(r"^([ \t]*version[ \t]*=[ \t]*)(\"|')([^\"'\n]*)\2", re.MULTILINE)
_CHART_KEY = re.compile(
    r"^(?P<key>version|appVersion):[ \t]*"
    r"(?P<quote>[\"']?)(?P<value>[^\"'#\s]*)(?P=quote)",
    re.MULTILINE,
)


def file_kind(path: Path) -> str:
    """Return ``pyproject``, ``package.json`` or ``chart`` for a version file's name.

    Raises InvalidConfig naming the file when relgate cannot write versions into it.
    """
    name = path.name
    if name == "pyproject.toml":
        return "pyproject"
    if name == "package.json":
        return "package.json"
    if name in ("Chart.yaml", "Chart.yml"):
        return "chart"
    raise InvalidConfig(
        "relgate can write the version into pyproject.toml, package.json and Chart.yaml only",
        file=str(path),
        field="versioning.version_files",
    )


def updated_text(path: Path, version: str) -> str | None:
    """Return the content of the version file at ``path`` with ``version`` written in.

    Returns None when the file already carries that version. Raises
    InvalidConfig naming the file when it is missing, unreadable, of an
    unsupported kind, not valid, or has no version field.
    """
    kind = file_kind(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidConfig(
            "file not found (it is listed in versioning.version_files)", file=str(path)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfig(f"cannot read: {exc}", file=str(path)) from None
    updated = set_version(text, kind, version, file=str(path))
    return None if updated == text else updated


def write_version(path: Path, version: str) -> bool:
    """Write ``version`` into the version file at ``path``; return True when it changed.

    Raises InvalidConfig like ``updated_text``.
    """
    updated = updated_text(path, version)
    if updated is None:
        return False
    path.write_text(updated, encoding="utf-8")
    return True


def set_version(text: str, kind: str, version: str, *, file: str) -> str:
    """Return ``text`` with its version field(s) set to ``version``, nothing else changed.

    ``kind`` is one of ``file_kind``'s answers. Raises InvalidConfig naming
    ``file`` when the text is not valid or has no version field.
    """
    if kind == "pyproject":
        return _set_pyproject(text, version, file)
    if kind == "package.json":
        return _set_package_json(text, version, file)
    if kind == "chart":
        return _set_chart(text, version, file)
    raise InvalidConfig(f"unknown version file kind {kind!r}", file=file)


def _set_pyproject(text: str, version: str, file: str) -> str:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfig(f"not valid TOML: {exc}", file=file) from None
    tables = list(_TOML_TABLE.finditer(text))
    spans: list[tuple[int, int]] = []
    for index, table in enumerate(tables):
        if table.group(1) in ("project", "tool.poetry"):
            end = tables[index + 1].start() if index + 1 < len(tables) else len(text)
            spans.append((table.end(), end))
    out = text
    # from the last table up, so earlier offsets stay valid
    found = False
    for start, end in reversed(spans):
        match = _TOML_VERSION.search(out, start, end)
        if match is None:
            continue
        found = True
        out = out[: match.start(3)] + version + out[match.end(3) :]
    if not found:
        dynamic = data.get("project", {}).get("dynamic", [])
        hint = (
            " ([project] declares the version dynamic; relgate cannot write it)"
            if "version" in dynamic
            else ""
        )
        raise InvalidConfig(
            f"no version field in [project] or [tool.poetry]{hint}", file=file, field="version"
        )
    return out


def _string_end(text: str, start: int) -> int:
    """Return the index just after the JSON string that opens at ``start``."""
    index = start + 1
    while text[index] != '"':
        index += 2 if text[index] == "\\" else 1
    return index + 1


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _set_package_json(text: str, version: str, file: str) -> str:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidConfig(f"not valid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("version"), str):
        raise InvalidConfig('no top-level "version" string', file=file, field="version")
    depth = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == '"':
            end = _string_end(text, index)
            if depth == 1 and json.loads(text[index:end]) == "version":
                colon = _skip_space(text, end)
                if text[colon : colon + 1] == ":":
                    value = _skip_space(text, colon + 1)
                    value_end = _string_end(text, value)
                    return text[:value] + json.dumps(version) + text[value_end:]
            index = end
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        index += 1
    raise InvalidConfig('no top-level "version" string', file=file, field="version")


def _set_chart(text: str, version: str, file: str) -> str:
    matches = list(_CHART_KEY.finditer(text))
    if not any(match["key"] == "version" for match in matches):
        raise InvalidConfig("no top-level version field", file=file, field="version")
    out = text
    for match in reversed(matches):
        out = out[: match.start("value")] + version + out[match.end("value") :]
    return out
