"""Variant weights and order, fixed when a flag is saved (not at evaluation).

Unleash stores variants with weights that add up to 1000 and sorted by name
with JavaScript's ``localeCompare``; evaluation then walks them in that order,
so a relgate server must store them the same way for every SDK to place a
user in the same variant. ``fix_variant_weights`` does both.

``locale_sort_key`` reproduces ICU's root collation (what ``localeCompare``
uses) for printable ASCII: letters compare case-insensitively first, then
lowercase before uppercase; punctuation and symbols sort before digits, digits
before letters, in ICU's order of punctuation (``_ - , ; : ! ? . ' " ( ) [ ] {
} @ * / \\ & # % ` ^ + < = > | ~ $``). Other characters sort after ASCII by
code point, which is not what ICU does; relgate's variant names are ASCII.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Final

from relgate.errors import InvalidFlagDefinition

TOTAL_WEIGHT: Final = 1000

# Printable ASCII in ICU root collation order; a letter's two cases share a
# primary weight and differ at the tertiary level (lowercase first).
_ICU_ASCII_ORDER: Final = (
    " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789"
    "aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ"
)


def _build_weights() -> dict[str, tuple[int, int]]:
    weights: dict[str, tuple[int, int]] = {}
    primary = 0
    for ch in _ICU_ASCII_ORDER:
        if ch.isupper():
            weights[ch] = (weights[ch.lower()][0], 1)
            continue
        primary += 1
        weights[ch] = (primary, 0)
    # TAB, LF, VT, FF and CR are whitespace that sorts before the space
    for offset, ch in enumerate("\t\n\x0b\x0c\r"):
        weights[ch] = (-5 + offset, 0)
    return weights


_WEIGHTS: Final = _build_weights()
_NON_ASCII_BASE: Final = 1000


def locale_sort_key(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return a key that sorts names as JavaScript's ``a.localeCompare(b)`` does.

    Exact for printable ASCII; ASCII control characters are ignored, as ICU
    ignores them.
    """
    primaries: list[int] = []
    tertiaries: list[int] = []
    for ch in name:
        weight = _WEIGHTS.get(ch)
        if weight is None:
            if ord(ch) < 0x20 or ch == "\x7f":
                continue  # completely ignorable in ICU
            weight = (_NON_ASCII_BASE + ord(ch), 0)
        primaries.append(weight[0])
        tertiaries.append(weight[1])
    return tuple(primaries), tuple(tertiaries)


def locale_compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as ``Math.sign(a.localeCompare(b))`` does in JavaScript."""
    key_a = locale_sort_key(a)
    key_b = locale_sort_key(b)
    return (key_a > key_b) - (key_a < key_b)


class WeightType(StrEnum):
    """How a variant's weight is set: split evenly (``variable``) or kept (``fix``)."""

    VARIABLE = "variable"
    FIX = "fix"


def fix_variant_weights(variants: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return copies of ``variants`` with weights that add up to 1000, sorted by name.

    Variants with ``weightType: "fix"`` keep their weight; the rest of 1000 is
    split evenly among the ``variable`` ones (the default), the remainder going
    one each to the first variable variants in entry order. The result is
    ordered as Unleash orders it (``localeCompare`` on names, stable).

    Raises ``InvalidFlagDefinition`` when a variant has no name, an unknown
    weight type or a fixed weight that is not an integer from 0 to 1000, when
    there are variants but none is variable, or when fixed weights add up to
    more than 1000.
    """
    variable: list[dict[str, Any]] = []
    fixed: list[dict[str, Any]] = []
    for index, raw in enumerate(variants):
        where = f"variants[{index}]"
        if not isinstance(raw, Mapping):
            raise InvalidFlagDefinition(f"{where}: expected an object, got {type(raw).__name__}")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidFlagDefinition(f"{where}.name: required, a non-empty string")
        try:
            weight_type = WeightType(raw.get("weightType") or WeightType.VARIABLE)
        except ValueError:
            raise InvalidFlagDefinition(
                f"{where}.weightType: {raw.get('weightType')!r} is not one of variable, fix"
            ) from None
        variant = dict(raw)
        variant["weightType"] = weight_type.value
        if weight_type is WeightType.FIX:
            weight = raw.get("weight")
            if isinstance(weight, bool) or not isinstance(weight, int):
                raise InvalidFlagDefinition(
                    f"{where}.weight: a fixed weight must be an integer from 0 to 1000"
                )
            if not 0 <= weight <= TOTAL_WEIGHT:
                raise InvalidFlagDefinition(f"{where}.weight: {weight} is not from 0 to 1000")
            fixed.append(variant)
        else:
            variable.append(variant)
    if not variable:
        if fixed:
            raise InvalidFlagDefinition('variants: there must be at least one "variable" variant')
        return []
    fixed_total = sum(int(v["weight"]) for v in fixed)
    if fixed_total > TOTAL_WEIGHT:
        raise InvalidFlagDefinition(
            f"variants: fixed weights add up to {fixed_total}, more than {TOTAL_WEIGHT} (100%)"
        )
    share, remainder = divmod(TOTAL_WEIGHT - fixed_total, len(variable))
    for position, variant in enumerate(variable):
        variant["weight"] = share + 1 if position < remainder else share
    # Unleash concatenates variable then fixed variants before its stable sort
    return sorted(variable + fixed, key=lambda v: locale_sort_key(v["name"]))
