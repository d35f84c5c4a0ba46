"""Conventional Commits 1.0.0: parse_message."""

from __future__ import annotations

import pytest

from relgate.versioning.commits import (
    ConventionalCommit,
    Footer,
    ParseError,
    parse_message,
)


def parsed(message: str) -> ConventionalCommit:
    result = parse_message(message)
    assert isinstance(result, ConventionalCommit), result
    return result


# The examples section of https://www.conventionalcommits.org/en/v1.0.0/ and
# the revert example of its FAQ.
SPEC_EXAMPLES = [
    pytest.param(
        "feat: allow provided config object to extend other configs\n"
        "\n"
        "BREAKING CHANGE: `extends` key in config file is now used for extending "
        "other config files",
        ConventionalCommit(
            type="feat",
            scope=None,
            breaking=True,
            description="allow provided config object to extend other configs",
            body="",
            footers=(
                Footer(
                    "BREAKING CHANGE",
                    "`extends` key in config file is now used for extending other config files",
                ),
            ),
            breaking_notes=(
                "`extends` key in config file is now used for extending other config files",
            ),
        ),
        id="description-and-breaking-footer",
    ),
    pytest.param(
        "feat!: send an email to the customer when a product is shipped",
        ConventionalCommit(
            type="feat",
            scope=None,
            breaking=True,
            description="send an email to the customer when a product is shipped",
            body="",
            footers=(),
            breaking_notes=("send an email to the customer when a product is shipped",),
        ),
        id="bang",
    ),
    pytest.param(
        "feat(api)!: send an email to the customer when a product is shipped",
        ConventionalCommit(
            type="feat",
            scope="api",
            breaking=True,
            description="send an email to the customer when a product is shipped",
            body="",
            footers=(),
            breaking_notes=("send an email to the customer when a product is shipped",),
        ),
        id="scope-and-bang",
    ),
    pytest.param(
        "chore!: drop support for Node 6\n"
        "\n"
        "BREAKING CHANGE: use JavaScript features not available in Node 6.",
        ConventionalCommit(
            type="chore",
            scope=None,
            breaking=True,
            description="drop support for Node 6",
            body="",
            footers=(
                Footer("BREAKING CHANGE", "use JavaScript features not available in Node 6."),
            ),
            breaking_notes=("use JavaScript features not available in Node 6.",),
        ),
        id="bang-and-breaking-footer",
    ),
    pytest.param(
        "docs: correct spelling of CHANGELOG",
        ConventionalCommit(
            type="docs",
            scope=None,
            breaking=False,
            description="correct spelling of CHANGELOG",
            body="",
            footers=(),
            breaking_notes=(),
        ),
        id="no-body",
    ),
    pytest.param(
        "feat(lang): add Polish language",
        ConventionalCommit(
            type="feat",
            scope="lang",
            breaking=False,
            description="add Polish language",
            body="",
            footers=(),
            breaking_notes=(),
        ),
        id="scope",
    ),
    pytest.param(
        "fix: prevent racing of requests\n"
        "\n"
        "Introduce a request id and a reference to latest request. Dismiss\n"
        "incoming responses other than from latest request.\n"
        "\n"
        "Remove timeouts which were used to mitigate the racing issue but are\n"
        "obsolete now.\n"
        "\n"
        "Reviewed-by: Z\n"
        "Refs: #123\n",
        ConventionalCommit(
            type="fix",
            scope=None,
            breaking=False,
            description="prevent racing of requests",
            body="Introduce a request id and a reference to latest request. Dismiss\n"
            "incoming responses other than from latest request.\n"
            "\n"
            "Remove timeouts which were used to mitigate the racing issue but are\n"
            "obsolete now.",
            footers=(Footer("Reviewed-by", "Z"), Footer("Refs", "#123")),
            breaking_notes=(),
        ),
        id="multi-paragraph-body-and-footers",
    ),
    pytest.param(
        "revert: let us never again speak of the noodle incident\n\nRefs: 676104e, a215868",
        ConventionalCommit(
            type="revert",
            scope=None,
            breaking=False,
            description="let us never again speak of the noodle incident",
            body="",
            footers=(Footer("Refs", "676104e, a215868"),),
            breaking_notes=(),
        ),
        id="revert",
    ),
]


@pytest.mark.parametrize(("message", "expected"), SPEC_EXAMPLES)
def test_every_spec_example_parses_as_the_spec_describes(
    message: str, expected: ConventionalCommit
) -> None:
    assert parse_message(message) == expected


def test_breaking_hyphen_change_is_a_synonym_of_breaking_change() -> None:
    commit = parsed("feat: x\n\nBREAKING-CHANGE: the config moved")
    assert commit.breaking
    assert commit.breaking_notes == ("the config moved",)


def test_lowercase_breaking_change_does_not_count() -> None:
    commit = parsed("feat: x\n\nbreaking change: the config moved")
    assert not commit.breaking
    assert commit.breaking_notes == ()
    assert commit.body == "breaking change: the config moved"


def test_lowercase_breaking_hyphen_change_is_an_ordinary_footer() -> None:
    commit = parsed("feat: x\n\nbreaking-change: the config moved")
    assert not commit.breaking
    assert commit.footers == (Footer("breaking-change", "the config moved"),)


def test_a_footer_value_continues_until_the_next_footer_token() -> None:
    commit = parsed(
        "fix: x\n\nBREAKING CHANGE: first line\nsecond line\n  indented third\nRefs: #9"
    )
    assert commit.footers == (
        Footer("BREAKING CHANGE", "first line\nsecond line\n  indented third"),
        Footer("Refs", "#9"),
    )
    assert commit.breaking_notes == ("first line\nsecond line\n  indented third",)


def test_a_breaking_note_keeps_the_paragraphs_that_follow_it() -> None:
    commit = parsed("feat: x\n\nBREAKING CHANGE: the API changed.\n\nMigrate by calling y().")
    assert commit.breaking
    assert commit.breaking_notes == ("the API changed.\n\nMigrate by calling y().",)
    assert commit.body == ""


def test_the_hash_separator_form_is_a_footer() -> None:
    commit = parsed("fix: x\n\nRefs #123\nCloses #7")
    assert commit.footers == (Footer("Refs", "123", " #"), Footer("Closes", "7", " #"))


def test_a_body_paragraph_that_looks_like_a_footer_stays_body_when_prose_follows() -> None:
    commit = parsed("fix: x\n\nNote: we needed this.\n\nMore prose here.\n\nRefs: #1")
    assert commit.body == "Note: we needed this.\n\nMore prose here."
    assert commit.footers == (Footer("Refs", "#1"),)


def test_footers_directly_after_the_header_paragraph_are_read() -> None:
    commit = parsed("fix: x\n\nSigned-off-by: A <a@example.com>")
    assert commit.body == ""
    assert commit.footers == (Footer("Signed-off-by", "A <a@example.com>"),)


def test_a_url_in_the_body_is_not_a_footer() -> None:
    commit = parsed("fix: x\n\nhttps://example.com/issue/1")
    assert commit.body == "https://example.com/issue/1"
    assert commit.footers == ()


def test_type_is_lowercased_and_scope_kept() -> None:
    commit = parsed("FEAT(Parser): Add arrays")
    assert (commit.type, commit.scope, commit.description) == ("feat", "Parser", "Add arrays")


def test_crlf_and_trailing_whitespace_are_tolerated() -> None:
    commit = parsed("fix(io): read files  \r\n\r\nbody line   \r\n\r\nRefs: #4  \r\n")
    assert commit.description == "read files"
    assert commit.body == "body line"
    assert commit.footers == (Footer("Refs", "#4"),)


def test_runs_of_blank_lines_between_paragraphs_are_tolerated() -> None:
    commit = parsed("fix: x\n\n\n\nbody\n\n\n\nRefs: #4\n\n\nReviewed-by: Z")
    assert commit.body == "body"
    assert [f.token for f in commit.footers] == ["Refs", "Reviewed-by"]


def test_a_type_with_digits_and_hyphens_is_accepted() -> None:
    assert parsed("hot-fix2: patch it").type == "hot-fix2"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Update stuff", "header 'Update stuff' is not 'type(scope)!: description'"),
        ("feat:add x", "no space after ':'"),
        ("feat : add x", "space before ':'"),
        ("feat: ", "empty description"),
        ("feat(): add x", "is not 'type(scope)!: description'"),
        ("feat(a)(b): add x", "is not 'type(scope)!: description'"),
        ("fix x: y", "is not 'type(scope)!: description'"),
        ("", "the commit message is empty"),
        ("   \n\n", "the commit message is empty"),
    ],
)
def test_a_header_that_is_not_conventional_gives_a_reason(message: str, reason: str) -> None:
    result = parse_message(message)
    assert isinstance(result, ParseError)
    assert reason in result.reason


def test_a_very_long_bad_header_is_shortened_in_the_reason() -> None:
    result = parse_message("x" * 200)
    assert isinstance(result, ParseError)
    assert "x" * 100 not in result.reason
    assert "..." in result.reason
