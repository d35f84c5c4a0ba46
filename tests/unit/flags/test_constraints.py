"""Constraint operators, one by one, with inverted and caseInsensitive."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from relgate.clock import FixedClock
from relgate.flags import Context, Snapshot, is_enabled
from relgate.flags.regex import RegexRefusal, compile_rust_regex, translate_rust_regex


def _on(constraint: dict[str, Any], context: Context, **kwargs: Any) -> bool:
    snapshot = Snapshot.from_unleash_features(
        {
            "version": 2,
            "features": [
                {
                    "name": "f",
                    "enabled": True,
                    "strategies": [{"name": "default", "constraints": [constraint]}],
                }
            ],
        }
    )
    return is_enabled(snapshot, "f", context, **kwargs)


def _props(**properties: str) -> Context:
    return Context(properties=properties)


@pytest.mark.parametrize(
    ("operator", "values", "value", "expected"),
    [
        ("IN", ["a", "b"], "b", True),
        ("IN", ["a", "b"], "c", False),
        ("NOT_IN", ["a", "b"], "c", True),
        ("NOT_IN", ["a", "b"], "a", False),
        ("STR_STARTS_WITH", ["pre"], "prefix", True),
        ("STR_STARTS_WITH", ["pre"], "apre", False),
        ("STR_ENDS_WITH", [".io", ".com"], "relgate.io", True),
        ("STR_ENDS_WITH", [".io"], "relgate.org", False),
        ("STR_CONTAINS", ["gate"], "relgate", True),
        ("STR_CONTAINS", ["gate"], "release", False),
    ],
)
def test_list_operators_compare_the_context_field_with_each_value(
    operator: str, values: list[str], value: str, expected: bool
) -> None:
    constraint = {"contextName": "tier", "operator": operator, "values": values}
    assert _on(constraint, _props(tier=value)) is expected
    inverted = {**constraint, "inverted": True}
    assert _on(inverted, _props(tier=value)) is (not expected)


def test_in_list_values_are_trimmed_and_empty_values_dropped() -> None:
    constraint = {"contextName": "environment", "operator": "IN", "values": [" prod ", ""]}
    assert _on(constraint, Context(environment="prod")) is True
    assert _on(constraint, Context(environment="")) is False


def test_in_is_case_sensitive_even_when_case_insensitive_is_set() -> None:
    constraint = {
        "contextName": "environment",
        "operator": "IN",
        "values": ["prod"],
        "caseInsensitive": True,
    }
    assert _on(constraint, Context(environment="PROD")) is False


@pytest.mark.parametrize("operator", ["STR_STARTS_WITH", "STR_ENDS_WITH", "STR_CONTAINS"])
def test_string_operators_ignore_case_only_when_asked(operator: str) -> None:
    constraint = {"contextName": "email", "operator": operator, "values": ["ACME.COM"]}
    context = _props(email="acme.com")
    assert _on(constraint, context) is False
    assert _on({**constraint, "caseInsensitive": True}, context) is True


def test_string_operator_on_a_missing_field_is_false_and_inverted_true() -> None:
    constraint = {"contextName": "email", "operator": "STR_CONTAINS", "values": ["a"]}
    assert _on(constraint, Context()) is False
    assert _on({**constraint, "inverted": True}, Context()) is True


def test_not_in_holds_when_the_field_is_missing() -> None:
    constraint = {"contextName": "plan", "operator": "NOT_IN", "values": ["free"]}
    assert _on(constraint, Context()) is True


@pytest.mark.parametrize(
    ("operator", "context_value", "expected"),
    [
        ("NUM_EQ", "10.0", True),
        ("NUM_EQ", "1e1", True),
        ("NUM_EQ", "+10", True),
        ("NUM_EQ", "11", False),
        ("NUM_GT", "10.5", True),
        ("NUM_GT", "10", False),
        ("NUM_GTE", "10", True),
        ("NUM_LT", "-3", True),
        ("NUM_LT", "10", False),
        ("NUM_LTE", "10", True),
        ("NUM_LTE", "not a number", False),
    ],
)
def test_number_operators_compare_as_numbers(
    operator: str, context_value: str, expected: bool
) -> None:
    constraint = {"contextName": "seats", "operator": operator, "value": "10"}
    assert _on(constraint, _props(seats=context_value)) is expected


def test_number_operator_with_a_non_numeric_value_never_holds_even_inverted() -> None:
    constraint = {"contextName": "seats", "operator": "NUM_EQ", "value": "ten", "inverted": True}
    assert _on(constraint, _props(seats="3")) is False


def test_date_operators_compare_with_the_context_time() -> None:
    after = {
        "contextName": "currentTime",
        "operator": "DATE_AFTER",
        "value": "2026-01-01T00:00:00Z",
    }
    before = {**after, "operator": "DATE_BEFORE"}
    january = Context(current_time=datetime(2026, 1, 15, tzinfo=UTC))
    assert _on(after, january) is True
    assert _on(before, january) is False
    assert _on({**after, "inverted": True}, january) is False


def test_date_operators_use_the_clock_when_the_context_has_no_time() -> None:
    after = {
        "contextName": "currentTime",
        "operator": "DATE_AFTER",
        "value": "2026-01-01T00:00:00Z",
    }
    december = FixedClock(datetime(2025, 12, 31, 23, 0, tzinfo=UTC))
    february = FixedClock(datetime(2026, 2, 1, tzinfo=UTC))
    assert _on(after, Context(), clock=december) is False
    assert _on(after, Context(), clock=february) is True


def test_date_with_an_offset_is_compared_as_an_instant() -> None:
    before = {
        "contextName": "currentTime",
        "operator": "DATE_BEFORE",
        "value": "2026-01-01T02:00:00+02:00",
    }
    assert _on(before, Context(current_time=datetime(2025, 12, 31, 23, 59, tzinfo=UTC))) is True
    assert _on(before, Context(current_time=datetime(2026, 1, 1, 0, 1, tzinfo=UTC))) is False


@pytest.mark.parametrize(
    ("operator", "context_value", "expected"),
    [
        ("SEMVER_EQ", "1.4.0", True),
        ("SEMVER_EQ", "1.4.0+build.7", True),
        ("SEMVER_GT", "1.10.0", True),
        ("SEMVER_GT", "1.4.0-rc.1", False),
        ("SEMVER_LT", "1.4.0-rc.1", True),
        ("SEMVER_GTE", "1.4.0", True),
        ("SEMVER_GTE", "1.3.9", False),
        ("SEMVER_LTE", "1.4.0", True),
        ("SEMVER_LTE", "1.4.1", False),
        ("SEMVER_EQ", "v1.4.0", False),
        ("SEMVER_GT", "banana", False),
    ],
)
def test_semver_operators_follow_semver_precedence(
    operator: str, context_value: str, expected: bool
) -> None:
    constraint = {"contextName": "version", "operator": operator, "value": "1.4.0"}
    assert _on(constraint, _props(version=context_value)) is expected


def test_invalid_semver_value_never_holds_even_inverted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="relgate.flags.model")
    constraint = {
        "contextName": "version",
        "operator": "SEMVER_GT",
        "value": "one",
        "inverted": True,
    }
    assert _on(constraint, _props(version="1.0.0")) is False
    assert "is not a SemVer version" in caplog.text


def test_unknown_operator_never_holds_even_inverted() -> None:
    constraint = {"contextName": "a", "operator": "SOUNDS_LIKE", "values": ["x"], "inverted": True}
    assert _on(constraint, _props(a="x")) is False


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        (r"^user-\d+$", "user-42", True),
        (r"^user-\d+$", "user-42\n", False),
        (r"^[[:upper:]][[:digit:]]$", "A1", True),
        (r"^[[:upper:]][[:digit:]]$", "a1", False),
        (r"a(?i)b|c", "C", True),
        (r"a(?i)b|c", "aB", True),
        (r"(?m)^x$", "w\nx\ny", True),
        (r"x|y", "zzy", True),
        (r"^[[:^digit:]]+$", "abc", True),
        (r"^[[:^digit:]]+$", "ab1", False),
        (r"(?U)^a+b$", "aab", True),
        (r"^\x{41}$", "A", True),
    ],
)
def test_regex_matches_as_rust_regex_does(pattern: str, value: str, expected: bool) -> None:
    constraint = {"contextName": "userId", "operator": "REGEX", "value": pattern}
    assert _on(constraint, Context(user_id=value)) is expected


def test_regex_case_insensitive_flag_applies_to_the_whole_pattern() -> None:
    constraint = {"contextName": "userId", "operator": "REGEX", "value": "^ADMIN"}
    assert _on(constraint, Context(user_id="admin-1")) is False
    assert _on({**constraint, "caseInsensitive": True}, Context(user_id="admin-1")) is True


@pytest.mark.parametrize("pattern", ["(unclosed", r"(?=a)a", r"(a)\1", r"(?<!a)b"])
def test_regex_that_rust_rejects_matches_nothing(pattern: str) -> None:
    constraint = {"contextName": "userId", "operator": "REGEX", "value": pattern}
    assert _on(constraint, Context(user_id="a")) is False
    # as in Unleash's engine, inverting "matches nothing" holds
    assert _on({**constraint, "inverted": True}, Context(user_id="a")) is True


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"[a-c&&b-d]", "class set operations (&& inside [...]) are not supported"),
        (r"[[ab]]", "a nested class ('[' inside [...]) is not supported; escape it as \\["),
        (r"(?x)a b", "the x (verbose) flag is not supported"),
        (r"(?-u)\w", "(?-u), ASCII-only classes, is not supported"),
        (r"[\W_]", "\\W inside a bracket class has no linear-time spelling; write the class out"),
        (r"(?=a)a", "invalid perl operator: (?="),
        (r"(a)\1", "invalid escape sequence: \\1"),
        ("(unclosed", "missing ): (unclosed"),
    ],
)
def test_rust_regex_syntax_the_linear_engine_cannot_take_is_refused_with_the_reason(
    pattern: str, reason: str
) -> None:
    assert compile_rust_regex(pattern) == RegexRefusal(reason)
    # Unleash would match "b" for some of these; relgate refuses rather than guess
    constraint = {"contextName": "userId", "operator": "REGEX", "value": pattern}
    assert _on(constraint, Context(user_id="b")) is False


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        (r"^\d+$", "٣٤", True),
        (r"^\w+$", "café", True),
        (r"^\W$", "é", False),
        (r"^\s$", "\u3000", True),
        (r"^[\d.]+$", "1.٣", True),
        (r"\p{Greek}", "λ", True),
        (r"(?u)^\w$", "é", True),
        (r"^(?P<a>x)(?<b>y)$", "xy", True),
        (r"^a$", "a\n", False),
        (r"^a\z", "a", True),
    ],
)
def test_perl_classes_are_unicode_as_in_rust(pattern: str, value: str, expected: bool) -> None:
    constraint = {"contextName": "userId", "operator": "REGEX", "value": pattern}
    assert _on(constraint, Context(user_id=value)) is expected


def test_unicode_perl_classes_become_unicode_property_classes_for_re2() -> None:
    assert translate_rust_regex(r"^\d[\d-]$") == r"^\p{Nd}[\p{Nd}-]$"


def test_a_catastrophic_pattern_against_a_crafted_value_answers() -> None:
    # ^(a+)+$ backtracks exponentially in Python's re: RE2 answers in linear time
    constraint = {"contextName": "userId", "operator": "REGEX", "value": "^(a+)+$"}
    assert _on(constraint, Context(user_id="a" * 30_000 + "!")) is False
    assert _on(constraint, Context(user_id="a" * 30_000)) is True


@pytest.mark.parametrize(
    ("values", "address", "expected"),
    [
        (["10.0.0.0/8"], "10.20.30.40", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["192.168.1.7"], "192.168.1.7", True),
        (["2001:db8::/48"], "2001:db8:0:ffff::1", True),
        (["2001:db8::/48"], "2001:db9::1", False),
        (["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", True),
        (["not-an-ip", "10.0.0.0/8"], "10.0.0.1", True),
        (["10.0.0.0/8"], "garbage", False),
    ],
)
def test_in_cidr_matches_ipv4_and_ipv6_ranges(
    values: list[str], address: str, expected: bool
) -> None:
    constraint = {"contextName": "remoteAddress", "operator": "IN_CIDR", "values": values}
    assert _on(constraint, Context(remote_address=address)) is expected


def test_in_cidr_with_only_invalid_ranges_matches_nothing() -> None:
    constraint = {"contextName": "remoteAddress", "operator": "IN_CIDR", "values": ["10.0.0.0/33"]}
    assert _on(constraint, Context(remote_address="10.0.0.1")) is False
    assert _on({**constraint, "inverted": True}, Context(remote_address="10.0.0.1")) is True


@pytest.mark.parametrize(
    "value", ["2026-01-01", "2026-01-01T00:00:00", "2026-01-01 00:00:00Z", "2026-01-01T00:00Z"]
)
def test_date_value_must_be_rfc3339_with_an_offset_or_never_holds(value: str) -> None:
    after = {"contextName": "currentTime", "operator": "DATE_AFTER", "value": value}
    february = Context(current_time=datetime(2026, 2, 1, tzinfo=UTC))
    assert _on(after, february) is False
    assert _on({**after, "inverted": True}, february) is False


def test_date_value_may_have_nanoseconds() -> None:
    after = {
        "contextName": "currentTime",
        "operator": "DATE_AFTER",
        "value": "2026-01-01T00:00:00.123456789+00:00",
    }
    assert _on(after, Context(current_time=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))) is True


@pytest.mark.parametrize("value", ["0x10", ".5", "Infinity", "", "ten"])
def test_number_value_must_be_a_plain_decimal_or_never_holds(value: str) -> None:
    constraint = {"contextName": "n", "operator": "NUM_GTE", "value": value}
    assert _on(constraint, _props(n="100")) is False
    assert _on({**constraint, "inverted": True}, _props(n="100")) is False


@pytest.mark.parametrize(
    ("context_value", "expected"), [("1e2", True), (" 100", False), ("0x64", False)]
)
def test_context_numbers_are_read_without_blanks_or_hex(context_value: str, expected: bool) -> None:
    constraint = {"contextName": "n", "operator": "NUM_GTE", "value": " 10 "}
    assert _on(constraint, _props(n=context_value)) is expected


def test_constraints_read_standard_fields_and_properties() -> None:
    on_app = {"contextName": "appName", "operator": "IN", "values": ["web"]}
    on_session = {"contextName": "sessionId", "operator": "IN", "values": ["s1"]}
    on_property = {"contextName": "country", "operator": "IN", "values": ["NO"]}
    assert _on(on_app, Context(app_name="web")) is True
    assert _on(on_session, Context(session_id="s1")) is True
    assert _on(on_property, _props(country="NO")) is True
    assert _on(on_property, Context(app_name="NO")) is False


def test_every_constraint_of_a_strategy_must_hold() -> None:
    snapshot = Snapshot.from_unleash_features(
        {
            "features": [
                {
                    "name": "f",
                    "enabled": True,
                    "strategies": [
                        {
                            "name": "default",
                            "constraints": [
                                {
                                    "contextName": "environment",
                                    "operator": "IN",
                                    "values": ["prod"],
                                },
                                {"contextName": "userId", "operator": "IN", "values": ["7"]},
                            ],
                        }
                    ],
                }
            ]
        }
    )
    assert is_enabled(snapshot, "f", Context(environment="prod", user_id="7")) is True
    assert is_enabled(snapshot, "f", Context(environment="prod", user_id="8")) is False
    assert is_enabled(snapshot, "f", Context(environment="dev", user_id="7")) is False
