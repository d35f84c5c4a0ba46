"""Freeze windows: weekly ones that wrap the week, absolute dates, time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from relgate.promotion.gates import GateResult, GateSpec, GateStatus, evaluate_gate
from tests.unit.promotion.builders import context, gate

WEEKEND = {"start": "Fri 16:00", "end": "Mon 08:00"}


def weekend_freeze(**extra: object) -> GateSpec:
    return gate(type="freeze", timezone="Europe/Berlin", windows=[WEEKEND], **extra)


def at(*moment: int) -> datetime:
    return datetime(*moment, tzinfo=UTC)  # type: ignore[misc]


def freeze_at(spec: GateSpec, moment: datetime) -> GateResult:
    return evaluate_gate(spec, context(now=moment))


def test_a_weekend_freeze_that_wraps_the_week_holds_on_saturday() -> None:
    result = freeze_at(weekend_freeze(), at(2026, 11, 28, 12, 0))

    assert result == GateResult(
        "freeze", GateStatus.FAILED, "production is frozen until Mon 08:00 Europe/Berlin"
    )


@pytest.mark.parametrize(
    ("moment", "frozen"),
    [
        (at(2026, 11, 27, 14, 59), False),  # Fri 15:59 in Berlin (CET, UTC+1)
        (at(2026, 11, 27, 15, 0), True),  # Fri 16:00
        (at(2026, 11, 29, 23, 0), True),  # Mon 00:00, after the week wrapped
        (at(2026, 11, 30, 6, 59), True),  # Mon 07:59
        (at(2026, 11, 30, 7, 0), False),  # Mon 08:00: the end is exclusive
        (at(2026, 11, 25, 10, 0), False),  # Wednesday
    ],
)
def test_a_weekend_freeze_starts_and_ends_at_local_time(moment: datetime, frozen: bool) -> None:
    assert freeze_at(weekend_freeze(), moment).passed is not frozen


def test_the_same_local_time_is_another_utc_time_in_summer() -> None:
    # 14:30 UTC on a Friday is 15:30 in Berlin in winter but 16:30 in summer (CEST)
    assert freeze_at(weekend_freeze(), at(2026, 11, 27, 14, 30)).passed
    assert not freeze_at(weekend_freeze(), at(2026, 7, 3, 14, 30)).passed
    assert freeze_at(weekend_freeze(), at(2026, 7, 3, 13, 59)).passed


def test_a_window_across_the_spring_forward_night_follows_the_wall_clock() -> None:
    spec = gate(
        type="freeze",
        timezone="Europe/Berlin",
        windows=[{"start": "Sun 01:00", "end": "Sun 04:00", "reason": "maintenance"}],
    )

    # on 2026-03-29 Berlin clocks jump from 02:00 to 03:00
    before_jump = freeze_at(spec, at(2026, 3, 29, 0, 30))  # 01:30 CET
    after_jump = freeze_at(spec, at(2026, 3, 29, 1, 30))  # 03:30 CEST
    ended = freeze_at(spec, at(2026, 3, 29, 2, 0))  # 04:00 CEST

    assert before_jump.reason == (
        "production is frozen until Sun 04:00 Europe/Berlin (maintenance)"
    )
    assert not after_jump.passed
    assert ended == GateResult("freeze", GateStatus.PASSED, "production is not frozen")


def test_a_window_within_one_day_does_not_wrap() -> None:
    spec = gate(type="freeze", windows=[{"start": "wed 12:00", "end": "WED 13:00"}])

    assert freeze_at(spec, at(2026, 11, 25, 11, 59)).passed
    assert freeze_at(spec, at(2026, 11, 25, 12, 30)).reason == (
        "production is frozen until Wed 13:00 UTC"
    )
    assert freeze_at(spec, at(2026, 11, 26, 12, 30)).passed


def test_full_day_names_in_any_case_are_accepted() -> None:
    spec = gate(type="freeze", windows=[{"start": "friday 16:00", "end": "MONDAY 08:00"}])

    assert spec.windows[0].start == "Fri 16:00"  # type: ignore[union-attr]
    assert spec.windows[0].end == "Mon 08:00"  # type: ignore[union-attr]


def test_an_absolute_window_names_the_date_it_ends() -> None:
    spec = gate(
        type="freeze",
        timezone="Europe/Berlin",
        dates=[{"start": "2026-12-20T00:00", "end": "2027-01-02T00:00", "reason": "year end"}],
    )

    result = freeze_at(spec, at(2026, 12, 24, 12, 0))

    assert result == GateResult(
        "freeze",
        GateStatus.FAILED,
        "production is frozen until Sat 2027-01-02 00:00 Europe/Berlin (year end)",
    )
    assert freeze_at(spec, at(2027, 1, 1, 23, 0)).passed  # 00:00 on Jan 2 in Berlin


def test_back_to_back_windows_make_one_longer_freeze() -> None:
    spec = weekend_freeze(dates=[{"start": "2026-12-20T00:00", "end": "2027-01-02T00:00"}])

    result = freeze_at(spec, at(2026, 12, 24, 12, 0))

    assert result.reason == "production is frozen until Mon 2027-01-04 08:00 Europe/Berlin"


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"start": "Fry 16:00", "end": "Mon 08:00"}, "'Fry' is not a day"),
        ({"start": "Fri 25:00", "end": "Mon 08:00"}, "'25:00' is not a time of day"),
        ({"start": "Fri 4pm", "end": "Mon 08:00"}, "'4pm' is not a time HH:MM"),
        ({"start": "Fri", "end": "Mon 08:00"}, "is not a day and a time"),
        ({"start": "Fri 16:00", "end": "friday 16:00"}, "start and end are the same moment"),
    ],
)
def test_a_malformed_weekly_window_is_a_config_error(window: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        gate(type="freeze", windows=[window])


def test_an_unknown_time_zone_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        gate(type="freeze", timezone="Mars/Olympus", windows=[WEEKEND])


def test_a_freeze_without_windows_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="declare at least one window"):
        gate(type="freeze", timezone="UTC")


def test_an_absolute_window_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="end must be after start"):
        gate(type="freeze", dates=[{"start": "2027-01-02T00:00", "end": "2026-12-20T00:00"}])


def test_a_window_ending_in_the_skipped_spring_hour_ends_at_the_jump() -> None:
    spec = gate(
        type="freeze",
        timezone="Europe/Berlin",
        windows=[{"start": "Sun 01:00", "end": "Sun 02:30"}],
    )

    # 2026-03-29 01:00 UTC: Berlin jumps from 02:00 CET to 03:00 CEST; 02:30 never happens
    frozen = freeze_at(spec, at(2026, 3, 29, 0, 30))

    assert frozen.reason == "production is frozen until Sun 03:00 Europe/Berlin"
    assert not freeze_at(spec, at(2026, 3, 29, 0, 59)).passed
    assert freeze_at(spec, at(2026, 3, 29, 1, 0)).passed


def test_a_window_in_the_repeated_autumn_hour_holds_on_each_pass_of_the_wall_clock() -> None:
    spec = gate(
        type="freeze",
        timezone="Europe/Berlin",
        windows=[{"start": "Sun 02:00", "end": "Sun 02:30"}],
    )

    # 2026-10-25 01:00 UTC: Berlin goes back from 03:00 CEST to 02:00 CET
    assert not freeze_at(spec, at(2026, 10, 25, 0, 10)).passed  # 02:10 CEST
    assert freeze_at(spec, at(2026, 10, 25, 0, 30)).passed  # 02:30 CEST
    second_pass = freeze_at(spec, at(2026, 10, 25, 1, 10))  # 02:10 CET

    assert second_pass.reason == "production is frozen until Sun 02:30 Europe/Berlin"
    assert freeze_at(spec, at(2026, 10, 25, 1, 30)).passed  # 02:30 CET
