"""Durations as relgate.yaml writes them: ``30s``, ``1m``, ``1m30s``, ``500ms``, or seconds.

Also the reverse, :func:`promql_duration`, for the ``{{window}}`` of a query.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# a week: longer than any analysis interval, window or timeout has a reason to be
MAX_SECONDS = 7 * 86400.0


def parse_duration(value: Any) -> float:
    """Return the seconds of ``30s``, ``1m30s``, ``500ms``, ``2h`` or a plain number of seconds.

    Raises ValueError (pydantic shows it under the field) for anything else, for
    zero or less, and past a week.
    """
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30s, 1m or 1m30s")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        parts = _PART.findall(text)
        if not parts or "".join(number + unit for number, unit in parts) != text:
            raise ValueError(f"{value!r} is not a duration: write e.g. 30s, 1m, 1m30s or 500ms")
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    else:
        raise ValueError("must be a duration such as 30s, 1m or 1m30s")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("must be longer than zero")
    if seconds > MAX_SECONDS:
        raise ValueError("must be at most a week (7d)")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A pydantic field type: a duration in relgate.yaml, held as seconds (float)."""


def promql_duration(seconds: float) -> str:
    """Return a PromQL duration literal for ``seconds``: ``30s``, ``90s``, ``1500ms``."""
    # PromQL durations are whole milliseconds at least; never 0s, which no range takes
    millis = max(round(seconds * 1000), 1)
    if millis % 1000 == 0:
        return f"{millis // 1000}s"
    return f"{millis}ms"
