"""Reading who wrote a commit: 'Name <email>' and Co-authored-by trailers."""

from __future__ import annotations

import pytest

from relgate.errors import BadInput
from relgate.releases.authorship import Person, co_authors_in, parse_person


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Alice Smith <alice@example.com>", Person("Alice Smith", "alice@example.com")),
        ("  <alice@example.com> ", Person("", "alice@example.com")),
        ("alice@example.com", Person("", "alice@example.com")),
        ("Alice", Person("Alice", "")),
    ],
)
def test_a_person_is_read_from_the_forms_git_writes(text: str, expected: Person) -> None:
    assert parse_person(text) == expected


def test_an_email_that_is_not_an_address_is_refused_naming_it() -> None:
    with pytest.raises(BadInput, match=r"author email 'not an email'"):
        parse_person("Alice <not an email>")


def test_co_authors_are_read_from_the_trailers_in_any_case_once_each() -> None:
    message = (
        "feat: pay by card\n\nBody text.\n\n"
        "Co-authored-by: Bob <bob@example.com>\n"
        "co-authored-by:Carol <carol@example.com>\n"
        "Co-Authored-By: Bob <bob@example.com>\n"
        "Signed-off-by: Dan <dan@example.com>\n"
    )
    assert co_authors_in(message) == [
        Person("Bob", "bob@example.com"),
        Person("Carol", "carol@example.com"),
    ]


def test_a_person_prints_as_git_writes_it() -> None:
    assert str(Person("Bob", "bob@example.com")) == "Bob <bob@example.com>"
    assert str(Person("", "bob@example.com")) == "<bob@example.com>"
