"""Server-sent events as the pages' streams write them."""

from __future__ import annotations


def event(name: str, data: str, event_id: int | None = None) -> str:
    """One server-sent event; every line of ``data`` its own ``data:`` field."""
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    # CR is a line end to an EventSource too: a stray one must not end a field early
    lines.extend(f"data: {line}" for line in data.replace("\r", "").split("\n"))
    return "\n".join(lines) + "\n\n"
