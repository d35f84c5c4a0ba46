"""What a command provider's program may print, read as a reading (pure)."""

from __future__ import annotations

import pytest

from relgate.analysis.model import Reading
from relgate.analysis.providers.command import parse_output
from relgate.analysis.providers.ports import ProviderError


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("0.012\n", Reading(value=0.012)),
        ("  7 ", Reading(value=7.0)),
        ("NaN", Reading()),
        ("", Reading()),
        ("null", Reading()),
        ("[1, 2.5, 3]", Reading(samples=(1.0, 2.5, 3.0))),
        ('{"value": 0.01, "requests": 250}', Reading(value=0.01, requests=250.0)),
        ('{"values": [1, 2], "requests": 2}', Reading(samples=(1.0, 2.0), requests=2.0)),
        ('{"value": null}', Reading()),
    ],
)
def test_a_number_samples_or_json_are_read(text: str, reading: Reading) -> None:
    assert parse_output(text) == reading


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("high", "printed 'high': not a number nor JSON"),
        ('{"value": "1"}', "the command's value is '1', not a number"),
        ('{"valeu": 1}', "unknown keys: valeu"),
        ("[1, true]", "the command's sample is True, not a number"),
        ('"1"', "the command's output is '1', not a number"),
    ],
)
def test_anything_else_raises_saying_what_was_printed(text: str, message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        parse_output(text)
