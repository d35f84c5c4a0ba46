"""relgate.yaml errors read the same at every depth, in relgate's words, with file:line:field."""

from __future__ import annotations

import pytest

from relgate.errors import InvalidConfig
from relgate.manifest.pipeline import parse_pipeline

HEAD = "service: pay\nenvironments:\n  - name: dev\n    protected: false\n"


def refusal(text: str) -> str:
    with pytest.raises(InvalidConfig) as caught:
        parse_pipeline(text, "relgate.yaml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an unknown key: at the top (msgspec), one level down, two levels down (pydantic)
        (
            "service: pay\nnotifications: {}\n",
            "relgate.yaml:2: notifications: unknown key (a typo?)",
        ),
        (HEAD + "    notify: x\n", "relgate.yaml:5: environments[0].notify: unknown key (a typo?)"),
        (
            HEAD + "    deployer: {type: command, command: x, bogus: 1}\n",
            "relgate.yaml:5: environments[0].deployer.bogus: unknown key (a typo?)",
        ),
        (
            HEAD + "    gates:\n      - {type: coverage, min: 80, skip: true}\n",
            "relgate.yaml:6: environments[0].gates[0].skip: unknown key (a typo?)",
        ),
        # a required key
        (
            "service: pay\nenvironments:\n  - protected: false\n",
            "relgate.yaml:3: environments[0].name: required, but missing",
        ),
        (
            HEAD + "    verify: {type: http}\n",
            "relgate.yaml:5: environments[0].verify.url: required, but missing",
        ),
        (
            HEAD + "    deployer: {type: command}\n",
            "relgate.yaml:5: environments[0].deployer.command: required, but missing",
        ),
        # a tagged union: no tag, an unknown tag
        (
            HEAD + "    gates:\n      - {min: 3}\n",
            "relgate.yaml:6: environments[0].gates[0].type: required, but missing",
        ),
        (
            HEAD + "    gates:\n      - {type: wat}\n",
            "relgate.yaml:6: environments[0].gates[0].type: must be one of 'tests_passed', ",
        ),
        # types, at several depths
        (
            "service: pay\nenvironments: {dev: 1}\n",
            "relgate.yaml:2: environments: must be a list (got a mapping (key: value))",
        ),
        (
            HEAD + "    auto_rollback: maybe\n",
            "relgate.yaml:5: environments[0].auto_rollback: must be true or false (got 'maybe')",
        ),
        (
            HEAD + "    gates:\n      - {type: coverage, min: abc}\n",
            "relgate.yaml:6: environments[0].gates[0].min: must be a number (got 'abc')",
        ),
        (
            HEAD + "    deployer: {type: command, command: x, timeout_seconds: -1}\n",
            "relgate.yaml:5: environments[0].deployer.timeout_seconds: "
            "must be greater than 0 (got -1)",
        ),
        # a plain union (str | list[str]): one message naming each allowed form
        (
            HEAD + "    deployer: {type: command, command: [1]}\n",
            "relgate.yaml:5: environments[0].deployer.command: matches none of its allowed "
            "forms: must be a string (got a list); or item 0 must be a string (got 1)",
        ),
        # a value error of relgate's own validator keeps its words, without pydantic's prefix
        (
            HEAD + "    deployer: {type: command, command: x, env: {'1A': b}}\n",
            "relgate.yaml:5: environments[0].deployer.env: '1A' is not a valid environment",
        ),
    ],
)
def test_errors_read_the_same_at_every_depth(text: str, expected: str) -> None:
    message = refusal(text)
    assert message.startswith(expected), message
    for pydantic_words in ("Input should", "Extra inputs", "Field required", "Value error"):
        assert pydantic_words not in message


def test_more_errors_are_counted_after_the_first() -> None:
    message = refusal(HEAD + "    notify: x\n    auto_rollback: maybe\n")
    assert message.endswith("(got 'maybe') (and 1 more error)"), message
