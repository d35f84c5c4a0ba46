"""How the measures read for people: durations, rates, counts (pure formatting, no rules)."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """``"45 s"``, ``"12 min"``, ``"3 h 05 min"``, ``"2 d 4 h"``; ``"—"`` for none."""
    if seconds is None:
        return "—"
    value = round(seconds)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value < 60:
        return f"{sign}{value} s"
    minutes, _ = divmod(value, 60)
    if minutes < 60:
        return f"{sign}{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{sign}{days} d {hours} h"


def rate(value: float | None) -> str:
    """``"42.9 %"``; ``"—"`` when there was nothing to divide by."""
    return "—" if value is None else f"{value * 100:.1f} %"


def per_week(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
