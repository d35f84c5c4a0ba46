"""The period a person types, and how durations and rates read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relgate.delivery.period import period
from relgate.delivery.text import duration, per_week, rate
from relgate.errors import BadInput
from relgate.web.charts import bars

NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)


def test_dates_start_at_midnight_and_an_until_date_is_included_whole() -> None:
    assert period("2026-10-01", "2026-10-31", NOW) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_without_dates_the_period_is_the_28_days_before_now() -> None:
    start, end = period(None, None, NOW)
    assert end == NOW and (end - start).days == 28


def test_times_with_an_offset_are_taken_in_utc() -> None:
    start, end = period("2026-10-01T12:00:00+02:00", "2026-10-02T00:00:00Z", NOW)
    assert start == datetime(2026, 10, 1, 10, tzinfo=UTC)
    assert end == datetime(2026, 10, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("yesterday", None, "since 'yesterday'"),
        ("2026-10-01T12:00:00", None, "offset"),
        ("2026-10-05", "2026-10-01", "end after it starts"),
        ("2020-01-01", "2026-01-01", "longer than 1000 days"),
        ("9999-12-31", None, "before 9999-12-30"),
        ("x" * 500, None, "a date like"),
        ("0001-01-01T00:00:00+01:00", None, "out of range"),
    ],
)
def test_an_unreadable_or_empty_period_is_bad_input(
    since: str, until: str | None, message: str
) -> None:
    with pytest.raises(BadInput, match=message):
        period(since, until, NOW)


def test_durations_rates_and_weekly_figures_read_for_people() -> None:
    assert [duration(s) for s in (None, 0, 59.6, 61, 3600 + 5 * 60, 86400 * 2 + 3600 * 4)] == [
        "—",
        "0 s",
        "1 min",
        "1 min",
        "1 h 05 min",
        "2 d 4 h",
    ]
    assert (rate(None), rate(3 / 7), per_week(1.25)) == ("—", "42.9 %", "1.25")


def test_bars_scale_to_the_largest_value_and_zero_draws_nothing() -> None:
    chart = bars([("a", 0.0, "a: 0", False), ("b", 4.0, "b: 4", False), ("c", 2.0, "c", True)])

    heights = [b.height for b in chart.bars]
    assert heights[0] == 0 and heights[1] == 2 * heights[2]
    assert chart.bars[1].y + chart.bars[1].height == chart.baseline
    assert chart.top_label == "4"
    assert bars([]).bars == []
