"""Turning report bytes into JSON values or XML trees, safely and with clear errors.

XML goes through defusedxml only: entity declarations and external references
are refused, so an entity-expansion bomb is an InvalidReport, not an outage.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from relgate.errors import InvalidReport

MAX_REPORT_BYTES = 50 * 1024 * 1024

_PARSE_ERROR_POSITION = re.compile(r":\s*line \d+, column \d+\Z")


def check_size(data: bytes, filename: str) -> None:
    """Raise InvalidReport when ``data`` is empty or over the size limit of 50 MiB."""
    if len(data) > MAX_REPORT_BYTES:
        size = len(data) / (1024 * 1024)
        raise InvalidReport(f"{filename}: the report is {size:.1f} MiB, over the 50 MiB limit")
    if not data or data.isspace():
        raise InvalidReport(f"{filename}: the file is empty")


def looks_like_xml(data: bytes) -> bool:
    """Return True when the first non-blank character of ``data`` is ``<``."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def parse_xml(data: bytes, filename: str) -> Element:
    """Return the root element of the XML document in ``data``.

    Raises InvalidReport naming the file (and the line, when known) when the
    document is not well-formed or declares entities, a DTD or external references.
    """
    try:
        root: Element = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise InvalidReport(
            f"{filename}: refused: the XML declares entities or external references "
            f"({type(exc).__name__}); reports must be plain XML"
        ) from None
    except ParseError as exc:
        line = exc.position[0] if exc.position else None
        problem = _PARSE_ERROR_POSITION.sub("", str(exc)) or "not well-formed"
        where = f"{filename}: line {line}" if line else filename
        raise InvalidReport(f"{where}: {problem}") from None
    return root


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(data: bytes, filename: str) -> Any:
    """Return the JSON value in ``data`` (UTF-8, -16 or -32).

    Raises InvalidReport naming the file, line and column when it is not JSON.
    """
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidReport(
            f"{filename}: line {exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidReport(f"{filename}: not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidReport(f"{filename}: not valid JSON: nested too deeply") from None


def as_object(value: Any, filename: str, what: str) -> dict[str, Any]:
    """Return ``value`` when it is a JSON object; else raise InvalidReport naming ``what``."""
    if not isinstance(value, dict):
        raise InvalidReport(f"{filename}: {what} must be a JSON object, not {json_type(value)}")
    return value


def as_list(value: Any, filename: str, what: str) -> list[Any]:
    """Return ``value`` as a list (null counts as empty); raise InvalidReport otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidReport(f"{filename}: {what} must be a list, not {json_type(value)}")
    return value


def optional_text(value: Any) -> str | None:
    """Return ``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def finite_number(value: Any) -> float | None:
    """Return ``value`` as a float when it is a finite JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def json_type(value: Any) -> str:
    """Name ``value``'s JSON type for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
