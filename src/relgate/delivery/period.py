"""The period a report covers, from what a person types (pure).

``since`` and ``until`` are dates (``2026-10-01``) or times with an offset
(``2026-10-01T12:00:00Z``). A date ``since`` starts at 00:00 UTC; a date
``until`` is included whole (the period ends at 00:00 UTC the day after). Without
``until`` the period ends now; without ``since`` it starts 28 days before its end.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from relgate.errors import BadInput

DEFAULT_DAYS = 28
MAX_DAYS = 1000


def _parse(name: str, text: str, *, end: bool) -> datetime:
    text = text.strip()
    if len(text) > 40:
        raise BadInput(f"{name}: a date like 2026-10-01 or a time like 2026-10-01T12:00:00Z")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        start = datetime.combine(day, time(), UTC)
        if day >= date.max - timedelta(days=1):
            raise BadInput(f"{name} {text!r}: a date before 9999-12-30")
        return start + timedelta(days=1) if end else start
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"{name} {text[:40]!r}: a date like 2026-10-01 or a time like 2026-10-01T12:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise BadInput(f"{name} {text!r}: give the time's offset (Z for UTC)")
    return utc(name, value)


def utc(name: str, value: datetime) -> datetime:
    """``value`` in UTC; BadInput for a naive time or one UTC cannot hold (year 0 or 10000)."""
    if value.tzinfo is None:
        raise BadInput(f"{name}: give the time's offset (e.g. 2026-10-01T12:00:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadInput(f"{name}: {value.isoformat()} is out of range") from None


def period(since: str | None, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """Return [since, until) in UTC; raises BadInput for an unreadable or empty period."""
    end = _parse("until", until, end=True) if until else now
    start = _parse("since", since, end=False) if since else end - timedelta(days=DEFAULT_DAYS)
    if end <= start:
        raise BadInput(f"the period must end after it starts ({start:%Y-%m-%d} .. {end:%Y-%m-%d})")
    if end - start > timedelta(days=MAX_DAYS):
        raise BadInput(f"the period is longer than {MAX_DAYS} days: choose a shorter one")
    return start, end
