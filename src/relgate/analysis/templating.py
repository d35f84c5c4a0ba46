"""Queries templated with the rollout's service, environment and versions, safely.

A query names its variables as ``{{name}}``::

    sum(rate(http_requests_total{service="{{service}}",version="{{canary_version}}"}[{{window}}]))

The text variables (service, environment, stable_version, canary_version and
version: the version being read) may only stand inside a quoted PromQL string,
and their values are escaped for it: a backslash, the quote and control
characters are written as escapes, so a hostile version such as
``1.0"} or vector(1) #`` stays one string and cannot add PromQL. Inside the
string of a regular-expression matcher (``=~``, ``!~``) the value is also
quoted as RE2 literal text, so a version ``.*`` matches itself, not every
version. ``{{window}}`` is a duration relgate writes (``30s``, ``1500ms``) and
stands outside strings, e.g. ``[{{window}}]``.

:func:`check_promql` finds the mistakes when relgate.yaml is validated;
:func:`render_promql` renders. :func:`render_plain` renders argv words of a
command, where no shell reads them and no escaping is needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from relgate.analysis.durations import promql_duration
from relgate.analysis.model import MetricQuery

TEXT_VARIABLES = ("service", "environment", "stable_version", "canary_version", "version")
VARIABLES = (*TEXT_VARIABLES, "window")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# regexp.QuoteMeta's set: the characters RE2 reads as syntax
_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def variables(query: MetricQuery) -> dict[str, str]:
    """Return the values of the template variables for one reading."""
    context = query.context
    return {
        "service": context.service,
        "environment": context.environment,
        "stable_version": context.stable_version,
        "canary_version": context.canary_version,
        "version": query.version,
        "window": promql_duration(query.window_seconds),
    }


@dataclass(frozen=True)
class _Placeholder:
    start: int
    end: int
    name: str
    # None outside a string; else the opening quote: '"', "'" or "`"
    quote: str | None
    regex: bool


def _scan(template: str) -> list[_Placeholder]:
    """Find each placeholder and whether it stands in a string, as PromQL's lexer reads it."""
    found: list[_Placeholder] = []
    quote: str | None = None
    regex = False
    index = 0
    length = len(template)
    while index < length:
        match = _PLACEHOLDER.match(template, index)
        if match:
            found.append(_Placeholder(index, match.end(), match[1], quote, regex and bool(quote)))
            index = match.end()
            continue
        char = template[index]
        if quote is None:
            if char in "\"'`":
                quote = char
                before = template[:index].rstrip()
                regex = before.endswith(("=~", "!~"))
            elif char == "#":
                # a comment runs to the end of the line; quotes in it open nothing
                newline = template.find("\n", index)
                index = length if newline < 0 else newline
                continue
        elif char == "\\" and quote != "`":
            index += 2
            continue
        elif char == quote:
            quote = None
        index += 1
    return found


def check_promql(template: str) -> str | None:
    """Return what is wrong with a query template, or None when it can be rendered safely."""
    for placeholder in _scan(template):
        name = placeholder.name
        if name not in VARIABLES:
            return f"{{{{{name}}}}} is not a variable; the variables are: " + ", ".join(
                f"{{{{{known}}}}}" for known in VARIABLES
            )
        if name == "window":
            if placeholder.quote is not None:
                return "{{window}} is a duration and goes outside quotes, e.g. [{{window}}]"
            continue
        if placeholder.quote is None:
            return (
                f"{{{{{name}}}}} must stand inside a quoted label value, e.g. "
                f'version="{{{{{name}}}}}", so that its value is escaped'
            )
        if placeholder.quote == "`":
            return (
                f"{{{{{name}}}}} cannot stand in a `raw string`: nothing can be escaped there; "
                'use "double quotes"'
            )
    return None


def _re2_quote(value: str) -> str:
    return "".join("\\" + char if char in _RE2_SPECIAL else char for char in value)


def promql_string_escape(value: str, quote: str = '"') -> str:
    """Escape ``value`` for the inside of a PromQL string opened with ``quote``."""
    out: list[str] = []
    for char in value:
        if char in ("\\", quote):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def render_promql(template: str, values: Mapping[str, str]) -> str:
    """Return the query with its placeholders replaced by escaped values.

    Raises ValueError when the template is unsafe (:func:`check_promql`), which
    a validated relgate.yaml never holds.
    """
    problem = check_promql(template)
    if problem is not None:
        raise ValueError(problem)
    out: list[str] = []
    position = 0
    for placeholder in _scan(template):
        out.append(template[position : placeholder.start])
        value = values[placeholder.name]
        if placeholder.quote is not None:
            if placeholder.regex:
                value = _re2_quote(value)
            value = promql_string_escape(value, placeholder.quote)
        out.append(value)
        position = placeholder.end
    out.append(template[position:])
    return "".join(out)


def check_plain(template: str) -> str | None:
    """Return what is wrong with a command word's placeholders, or None."""
    for match in _PLACEHOLDER.finditer(template):
        if match[1] not in VARIABLES:
            return f"{{{{{match[1]}}}}} is not a variable; the variables are: " + ", ".join(
                f"{{{{{known}}}}}" for known in VARIABLES
            )
    return None


def render_plain(template: str, values: Mapping[str, str]) -> str:
    """Return ``template`` with each ``{{name}}`` replaced by its value, unescaped."""
    return _PLACEHOLDER.sub(lambda match: values[match[1]], template)
