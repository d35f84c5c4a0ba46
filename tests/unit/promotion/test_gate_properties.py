"""Properties that hold for any moment and window, checked with Hypothesis; and purity."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from relgate.promotion.gates import FreezeGate, evaluate_gate
from tests.unit.promotion.builders import context, gate

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")

day_times = st.tuples(st.sampled_from(DAYS), st.integers(0, 23), st.integers(0, 59)).map(
    lambda parts: f"{parts[0]} {parts[1]:02d}:{parts[2]:02d}"
)
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


def _until(reason: str, spec: FreezeGate, now: datetime) -> datetime:
    """Parse the end out of 'production is frozen until Mon 08:00 Europe/Berlin'."""
    from zoneinfo import ZoneInfo

    shown = reason.removeprefix("production is frozen until ").removesuffix(f" {spec.timezone}")
    zone = ZoneInfo(spec.timezone)
    local_now = now.astimezone(zone)
    parts = shown.split()
    if len(parts) == 3:  # far ends carry their date: "Thu 2028-12-07 00:00"
        return datetime.fromisoformat(f"{parts[1]}T{parts[2]}").replace(tzinfo=zone).astimezone(UTC)
    day_name, clock = parts
    hours, minutes = (int(part) for part in clock.split(":"))
    for ahead in range(8):
        day = local_now.date() + timedelta(days=ahead)
        candidate = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=zone)
        if DAYS[day.weekday()] == day_name and candidate > now:
            # arithmetic on zone-aware datetimes is wall-clock arithmetic: work in UTC
            return candidate.astimezone(UTC)
    raise AssertionError(f"no end found in {reason!r}")


@settings(max_examples=300, deadline=None)
@given(start=day_times, end=day_times, zone=st.sampled_from(ZONES), now=moments)
# the open minute Sun 02:00-02:01 is jumped over on 2026-03-29: two weeks of freeze
@example(
    start="Sun 02:01",
    end="Sun 02:00",
    zone="Europe/Berlin",
    now=datetime(2026, 3, 22, 1, 7, tzinfo=UTC),
)
def test_a_frozen_gate_passes_when_its_freeze_ends_and_not_a_minute_before(
    start: str, end: str, zone: str, now: datetime
) -> None:
    if start == end:
        return
    spec = gate(type="freeze", timezone=zone, windows=[{"start": start, "end": end}])
    assert isinstance(spec, FreezeGate)

    result = evaluate_gate(spec, context(now=now))
    if result.passed:
        assert result.reason == "production is not frozen"
        return

    until = _until(result.reason, spec, now)
    # A week's freeze plus DST; two weeks when the open minutes between two weekly windows
    # are wall times the clocks jump over (Sun 02:01 to Sun 02:00 in Europe/Berlin on the
    # last Sunday of March): the window closes at the jump, and the next is open at once.
    assert now < until <= now + timedelta(days=14, hours=2)
    assert evaluate_gate(spec, context(now=until)).passed
    # DST can make the last local minute skip; a minute before the end is still inside
    assert not evaluate_gate(spec, context(now=until - timedelta(minutes=1))).passed


def test_the_policy_core_imports_no_framework() -> None:
    code = (
        "import sys, relgate.promotion.gates, relgate.promotion.reports\n"
        "print(','.join(sorted(m for m in ('sqlalchemy', 'fastapi', 'typer', 'httpx') "
        "if m in sys.modules)))"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == ""
