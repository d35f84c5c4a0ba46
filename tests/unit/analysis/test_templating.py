"""Queries templated safely: values escaped inside PromQL strings, placement checked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relgate.analysis.durations import parse_duration, promql_duration
from relgate.analysis.model import AnalysisContext, MetricQuery, Side
from relgate.analysis.templating import (
    check_promql,
    promql_string_escape,
    render_plain,
    render_promql,
    variables,
)

VALUES = {
    "service": "shop",
    "environment": "production",
    "stable_version": "1.1.0",
    "canary_version": "1.2.0",
    "version": "1.2.0",
    "window": "30s",
}


def test_a_query_renders_the_rollouts_values() -> None:
    query = 'sum(rate(x{service="{{service}}",version="{{ canary_version }}"}[{{window}}]))'
    assert render_promql(query, VALUES) == 'sum(rate(x{service="shop",version="1.2.0"}[30s]))'


def test_a_hostile_version_stays_inside_its_string() -> None:
    hostile = {**VALUES, "version": '1.0"} or vector(1) # \\ \n'}
    rendered = render_promql('x{version="{{version}}"}', hostile)
    assert rendered == 'x{version="1.0\\"} or vector(1) # \\\\ \\n"}'


def test_single_quotes_escape_their_own_quote_and_control_characters_become_escapes() -> None:
    assert promql_string_escape('it\'s "x"\t\x01', "'") == 'it\\\'s "x"\\t\\x01'
    assert render_promql("x{v='{{version}}'}", {**VALUES, "version": "a'b"}) == "x{v='a\\'b'}"


def test_a_regex_matcher_gets_the_value_as_literal_text() -> None:
    rendered = render_promql('x{version=~"{{version}}"}', {**VALUES, "version": "1.2.*"})
    # RE2 `\.` and `\*`, each backslash doubled for the PromQL string
    assert rendered == 'x{version=~"1\\\\.2\\\\.\\\\*"}'
    assert render_promql('x{version!~ "{{version}}"}', {**VALUES, "version": "a|b"}) == (
        'x{version!~ "a\\\\|b"}'
    )


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("x{version={{version}}}", "{{version}} must stand inside a quoted label value"),
        ("x{version=`{{version}}`}", "cannot stand in a `raw string`"),
        ('x[{{window}}] + y{v="{{window}}"}', "{{window}} is a duration and goes outside quotes"),
        ('x{v="{{release}}"}', "{{release}} is not a variable"),
        # a quote in a comment opens no string: the placeholder after it is outside one
        ('x # a "comment\n + y{v={{version}}}', "must stand inside a quoted label value"),
        # an escaped quote does not close the string
        ('x{v="a\\"{{version}}"}', None),
        ('x{v="{{version}}"}[{{window}}] # {{version}} "', None),
    ],
)
def test_check_promql_finds_unsafe_placements(query: str, problem: str | None) -> None:
    found = check_promql(query)
    assert (found is None) if problem is None else (problem in (found or "")), found


def test_render_refuses_an_unsafe_template() -> None:
    with pytest.raises(ValueError, match="must stand inside a quoted label value"):
        render_promql("x{version={{version}}}", VALUES)


def test_variables_of_a_reading_name_the_side_read_as_version() -> None:
    context = AnalysisContext("shop", "production", "1.1.0", "1.2.0")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    stable = variables(MetricQuery(context, Side.STABLE, 90, at))
    canary = variables(MetricQuery(context, Side.CANARY, 1.5, at))
    assert (stable["version"], stable["window"]) == ("1.1.0", "90s")
    assert (canary["version"], canary["window"]) == ("1.2.0", "1500ms")
    assert render_plain("--version={{version}} {{x}}", {"version": "$(x)", "x": "y"}) == (
        "--version=$(x) y"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("1m", 60), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), (45, 45), (1.5, 1.5)],
)
def test_durations_read_as_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30", "is not a duration"),
        ("1m 30s", "is not a duration"),
        ("-1s", "is not a duration"),
        (0, "longer than zero"),
        ("8d", "at most a week"),
        (True, "must be a duration"),
    ],
)
def test_durations_refuse_the_rest(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_promql_durations_are_whole_seconds_or_milliseconds() -> None:
    assert [promql_duration(s) for s in (30, 60.0, 0.25, 0.0001)] == ["30s", "60s", "250ms", "1ms"]
