"""Weights and order of variants fixed at save time, and the localeCompare order."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from relgate.errors import InvalidFlagDefinition
from relgate.flags.variants import fix_variant_weights, locale_compare, locale_sort_key

TABLE = Path(__file__).parents[2] / "fixtures" / "flags-locale-compare" / "locale-compare.json"


def _table() -> dict[str, Any]:
    return dict(json.loads(TABLE.read_text(encoding="utf-8")))


def test_names_sort_as_javascript_locale_compare_sorts_them() -> None:
    expected = _table()["sorted"]
    shuffled = list(expected)
    random.Random(3).shuffle(shuffled)
    assert len(expected) > 400
    assert sorted(shuffled, key=locale_sort_key) == expected


def test_pairwise_comparisons_match_locale_compare() -> None:
    pairs = _table()["pairs"]
    mismatches = [(a, b, sign) for a, b, sign in pairs if locale_compare(a, b) != sign]
    assert len(pairs) > 700
    assert mismatches == []


def test_locale_order_is_case_insensitive_first_then_lowercase_first() -> None:
    names = ["Zeta", "green", "Blue", "beta", "alpha", "B", "b"]
    assert sorted(names, key=locale_sort_key) == [
        "alpha",
        "b",
        "B",
        "beta",
        "Blue",
        "green",
        "Zeta",
    ]
    assert sorted(names) != sorted(names, key=locale_sort_key)


def test_locale_order_puts_punctuation_before_digits_before_letters() -> None:
    assert sorted(["a", "1", "_", "-", "~"], key=locale_sort_key) == ["_", "-", "~", "1", "a"]
    assert locale_compare("a10", "a2") == -1
    assert locale_compare("same", "same") == 0


def _variant(name: str, weight: int = 0, weight_type: str = "variable") -> dict[str, Any]:
    return {"name": name, "weight": weight, "weightType": weight_type, "stickiness": "default"}


def test_variable_variants_split_1000_evenly_with_the_remainder_to_the_first() -> None:
    fixed = fix_variant_weights([_variant("c"), _variant("a"), _variant("b")])
    assert [(v["name"], v["weight"]) for v in fixed] == [("a", 333), ("b", 333), ("c", 334)]


def test_fixed_weights_are_kept_and_the_rest_is_split() -> None:
    fixed = fix_variant_weights(
        [_variant("blue", 100, "fix"), _variant("red"), _variant("green"), _variant("Gold")]
    )
    weights = {v["name"]: v["weight"] for v in fixed}
    assert weights == {"blue": 100, "red": 300, "green": 300, "Gold": 300}
    assert [v["name"] for v in fixed] == ["blue", "Gold", "green", "red"]
    assert sum(weights.values()) == 1000


def test_remainder_goes_to_variable_variants_in_entry_order_not_name_order() -> None:
    fixed = fix_variant_weights([_variant("z"), _variant("y"), _variant("x", 1, "fix")])
    assert {v["name"]: v["weight"] for v in fixed} == {"x": 1, "y": 499, "z": 500}


def test_fixing_weights_keeps_other_fields_and_does_not_touch_the_input() -> None:
    original = [{**_variant("a"), "payload": {"type": "string", "value": "v"}}]
    fixed = fix_variant_weights(original)
    assert fixed[0]["payload"] == {"type": "string", "value": "v"}
    assert fixed[0]["weight"] == 1000
    assert original[0]["weight"] == 0


def test_missing_weight_type_means_variable() -> None:
    assert fix_variant_weights([{"name": "solo"}])[0]["weight"] == 1000


def test_no_variants_stay_no_variants() -> None:
    assert fix_variant_weights([]) == []


def test_only_fixed_variants_are_refused() -> None:
    with pytest.raises(InvalidFlagDefinition, match='at least one "variable" variant'):
        fix_variant_weights([_variant("a", 1000, "fix")])


def test_fixed_weights_above_1000_are_refused() -> None:
    with pytest.raises(InvalidFlagDefinition, match="add up to 1100"):
        fix_variant_weights([_variant("a", 600, "fix"), _variant("b", 500, "fix"), _variant("c")])


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ({"weight": 1}, r"variants\[0\]\.name: required"),
        ({"name": "a", "weightType": "heavy"}, r"variants\[0\]\.weightType: 'heavy'"),
        ({"name": "a", "weightType": "fix", "weight": "10"}, r"variants\[0\]\.weight"),
        ({"name": "a", "weightType": "fix", "weight": -1}, r"variants\[0\]\.weight: -1"),
    ],
)
def test_malformed_variants_are_refused_naming_the_field(
    variant: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidFlagDefinition, match=message):
        fix_variant_weights([variant, _variant("ok")])
