"""A bare `on:`, `yes:`, `off:` key stays the word it is (YAML 1.1 reads a boolean)."""

from __future__ import annotations

from relgate.manifest.loader import parse_yaml


def test_bare_boolean_words_as_keys_stay_text_and_values_stay_booleans() -> None:
    data, lines = parse_yaml("on: {fail: pause}\nyes: 1\n'true': 2\nflag: on\n", "relgate.yaml")
    assert data == {"on": {"fail": "pause"}, "yes": 1, "true": 2, "flag": True}
    assert lines[("on", "fail")] == 1


def test_true_and_false_keys_stay_booleans_as_in_yaml_1_2() -> None:
    data, _ = parse_yaml("true: 1\nFalse: 0\n", "relgate.yaml")
    assert data == {True: 1, False: 0}
