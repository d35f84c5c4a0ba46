"""YAML alias bombs and deep nesting are refused before anything is built from them."""

from __future__ import annotations

import pytest

from relgate.errors import InvalidConfig
from relgate.manifest.loader import MAX_DEPTH, parse_yaml


def billion_laughs() -> str:
    """The classic: nine levels of nine aliases, 9**9 strings from under 400 bytes."""
    lines = ['service: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_is_refused_naming_the_file_and_the_line_of_the_alias() -> None:
    text = billion_laughs()
    assert len(text.encode()) < 400
    with pytest.raises(InvalidConfig) as caught:
        parse_yaml(text, "ops/relgate.yaml")
    assert str(caught.value) == (
        "ops/relgate.yaml:6: more than 100000 values once YAML aliases are expanded "
        "(the alias *e passes the limit): refused as an alias bomb"
    )


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_yaml("service: x\nloop: &a [1, *a]\n", "relgate.yaml")
    assert str(caught.value) == "relgate.yaml:2: the alias *a is inside its own anchor"


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    deep = "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"
    with pytest.raises(InvalidConfig, match=f"relgate.yaml:1: nested more than {MAX_DEPTH}"):
        parse_yaml(deep, "relgate.yaml")


def test_a_few_ordinary_aliases_still_load_with_their_lines() -> None:
    text = "defaults: &d {timeout: 5}\nstaging: *d\nproduction: *d\n"
    data, lines = parse_yaml(text, "relgate.yaml")
    assert data == {
        "defaults": {"timeout": 5},
        "staging": {"timeout": 5},
        "production": {"timeout": 5},
    }
    assert lines[("production",)] == 1
