"""The constraint text of `--constraint` (``parse_constraint_text``) and its rendering."""

from __future__ import annotations

import pytest

from relgate.errors import InvalidFlagDefinition
from relgate.flags.unleash_format import (
    OPERATORS,
    constraint_text,
    normalize_constraint,
    parse_constraint_text,
)


def test_a_list_operator_splits_its_values_on_commas() -> None:
    assert parse_constraint_text("appName IN web, ios,,android") == {
        "contextName": "appName",
        "operator": "IN",
        "values": ["web", "ios", "android"],
        "inverted": False,
        "caseInsensitive": False,
    }


def test_other_operators_take_the_rest_of_the_text_as_one_value() -> None:
    constraint = parse_constraint_text("appVersion semver_gte 2.0.0")

    assert (constraint["operator"], constraint["value"], constraint["values"]) == (
        "SEMVER_GTE",
        "2.0.0",
        [],
    )
    assert parse_constraint_text("email REGEX ^a b+$")["value"] == "^a b+$"


def test_not_before_the_operator_inverts_it() -> None:
    constraint = parse_constraint_text("email NOT STR_ENDS_WITH @example.com")

    assert constraint["inverted"] is True
    assert (constraint["operator"], constraint["values"]) == ("STR_ENDS_WITH", ["@example.com"])


@pytest.mark.parametrize("text", ["", "appName", "appName IN", "appName NOT IN"])
def test_text_with_a_missing_part_is_refused_with_the_form_to_use(text: str) -> None:
    with pytest.raises(InvalidFlagDefinition, match=r"write it as 'FIELD OPERATOR VALUE"):
        parse_constraint_text(text)


@pytest.mark.parametrize("operator", ["INN", "BETWEEN", "EQ", "NOT_CONTAINS"])
def test_an_unknown_operator_is_refused_naming_it_and_the_known_ones(operator: str) -> None:
    with pytest.raises(InvalidFlagDefinition) as refused:
        parse_constraint_text(f"plan {operator} a")

    assert f"unknown operator {operator!r}" in refused.value.message
    assert "SEMVER_GTE" in refused.value.message


def test_a_list_operator_without_a_value_is_refused() -> None:
    with pytest.raises(InvalidFlagDefinition, match=r"IN needs at least one value"):
        parse_constraint_text("appName IN ,,")


def test_every_known_operator_reads_back_what_it_writes() -> None:
    for operator in sorted(OPERATORS):
        value = "^a$" if operator == "REGEX" else "x"
        text = f"field NOT {operator} {value}"
        parsed = normalize_constraint(parse_constraint_text(text), "c")

        assert constraint_text(parsed) == text
        assert parse_constraint_text(constraint_text(parsed)) == parse_constraint_text(text)
