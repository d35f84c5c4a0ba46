"""read_changes: the changes one commit carries (merges, git reverts, squash merges)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relgate.versioning.commits import (
    CommitEntry,
    ConventionalCommit,
    Footer,
    RawCommit,
    SquashOptions,
    read_changes,
)

# The bullets of a squash body read as commits of their own, whatever its header.
ALWAYS = SquashOptions(bullets="always")

# Machines running the suite may be busy: no per-example deadline (no timing
# assertions), and no failure when generating examples is slow.
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

SHA = "0123456789abcdef0123456789abcdef01234567"


def raw(
    message: str,
    *,
    parents: tuple[str, ...] = ("f" * 40,),
    author_name: str = "Ada Lovelace",
    author_email: str = "ada@example.com",
) -> RawCommit:
    return RawCommit(SHA, parents, author_name, author_email, 1_700_000_000, message)


def summary(entries: list[CommitEntry]) -> list[tuple[str, str | None, str, bool, bool]]:
    return [
        (
            e.subject,
            e.conventional.type if e.conventional else None,
            e.conventional.description if e.conventional else "",
            e.conventional.breaking if e.conventional else False,
            e.from_squash,
        )
        for e in entries
    ]


def test_an_ordinary_commit_gives_one_entry() -> None:
    [entry] = read_changes(raw("fix(api): handle empty payload\n\nDetails."))
    assert entry.sha == SHA
    assert entry.subject == "fix(api): handle empty payload"
    assert entry.conventional is not None
    assert entry.conventional.body == "Details."
    assert entry.error is None
    assert not entry.from_squash


def test_a_merge_commit_gives_nothing() -> None:
    merge = raw("feat: merged branch title\n\n* feat!: big", parents=("a" * 40, "b" * 40))
    assert read_changes(merge) == []


def test_a_non_conventional_commit_gives_an_entry_with_the_reason() -> None:
    [entry] = read_changes(raw("Update stuff"))
    assert entry.conventional is None
    assert entry.error == "header 'Update stuff' is not 'type(scope)!: description'"


def test_a_git_revert_is_a_revert_of_the_reverted_header() -> None:
    [entry] = read_changes(raw(f'Revert "feat(ui): add x"\n\nThis reverts commit {SHA}.'))
    assert entry.subject == 'Revert "feat(ui): add x"'
    assert entry.conventional is not None
    assert entry.conventional.type == "revert"
    assert entry.conventional.description == "feat(ui): add x"
    assert entry.conventional.scope is None
    assert not entry.conventional.breaking
    assert entry.conventional.body == f"This reverts commit {SHA}."


def test_a_git_revert_of_a_breaking_change_is_not_breaking() -> None:
    [entry] = read_changes(raw('Revert "feat!: drop x"'))
    assert entry.conventional is not None
    assert (entry.conventional.type, entry.conventional.breaking) == ("revert", False)


def test_a_git_revert_of_a_non_conventional_commit_is_still_a_revert() -> None:
    [entry] = read_changes(raw('Revert "Update stuff"'))
    assert entry.conventional is not None
    assert entry.conventional.type == "revert"
    assert entry.conventional.description == "Update stuff"


def test_reverting_a_revert_puts_the_original_change_back() -> None:
    [entry] = read_changes(raw('Revert "Revert "feat(ui): add x""\n\nThis reverts commit 1.'))
    assert entry.conventional is not None
    assert (entry.conventional.type, entry.conventional.description) == ("feat", "add x")


def test_reverting_a_revert_three_times_is_a_revert() -> None:
    [entry] = read_changes(raw('Revert "Revert "Revert "fix: y"""'))
    assert entry.conventional is not None
    assert (entry.conventional.type, entry.conventional.description) == ("revert", "fix: y")


def test_git_reapply_puts_the_original_change_back() -> None:
    [entry] = read_changes(raw('Reapply "fix: y"'))
    assert entry.conventional is not None
    assert entry.conventional.type == "fix"


GITHUB_SQUASH = """feat(api): add search (#42)

* feat(api): add search

* fix(api): escape the query

Quotes broke the SQL.

* feat(api)!: rename the endpoint

Clients must call /find.

BREAKING CHANGE: /search is now /find

* wip

* docs: explain search

---------

Co-authored-by: Grace Hopper <grace@example.com>
"""


def test_with_bullets_always_a_squash_body_gives_one_entry_per_conventional_bullet() -> None:
    entries = read_changes(raw(GITHUB_SQUASH), ALWAYS)
    assert summary(entries) == [
        ("feat(api): add search (#42)", "feat", "add search (#42)", False, False),
        ("fix(api): escape the query", "fix", "escape the query", False, True),
        ("feat(api)!: rename the endpoint", "feat", "rename the endpoint", True, True),
        ("docs: explain search", "docs", "explain search", False, True),
    ]


def test_a_squashed_commit_keeps_its_body_and_breaking_footer() -> None:
    entries = read_changes(raw(GITHUB_SQUASH), ALWAYS)
    renamed = entries[2].conventional
    assert renamed is not None
    assert renamed.body == "Clients must call /find."
    assert renamed.breaking_notes == ("/search is now /find",)


def test_the_co_author_trailer_belongs_to_the_squash_header() -> None:
    header = read_changes(raw(GITHUB_SQUASH), ALWAYS)[0].conventional
    assert header is not None
    assert [(f.token, f.value) for f in header.footers] == [
        ("Co-authored-by", "Grace Hopper <grace@example.com>")
    ]
    assert not header.breaking


def test_indented_bullet_bodies_with_dash_markers_are_read() -> None:
    message = (
        "feat: release train (!7)\n\n"
        "- fix: a\n"
        "  more about a\n"
        "- feat: b\n"
        "\n"
        "  BREAKING CHANGE: b replaces c\n"
    )
    entries = read_changes(raw(message), ALWAYS)
    assert summary(entries)[1:] == [
        ("fix: a", "fix", "a", False, True),
        ("feat: b", "feat", "b", True, True),
    ]
    second = entries[2].conventional
    assert second is not None
    assert second.breaking_notes == ("b replaces c",)


def test_a_bullet_identical_to_the_header_is_skipped() -> None:
    entries = read_changes(raw("fix: one\n\n* fix: one\n* fix: two"), ALWAYS)
    assert [e.subject for e in entries] == ["fix: one", "fix: two"]


def test_a_body_with_prose_before_the_bullets_is_not_split() -> None:
    message = "feat: add x\n\nThis change:\n\n* feat!: would be breaking\n* fix: y"
    entries = read_changes(raw(message))
    assert len(entries) == 1
    assert entries[0].conventional is not None
    assert not entries[0].conventional.breaking


def test_a_bullet_list_of_prose_is_not_split() -> None:
    entries = read_changes(raw("fix: x\n\n- handles a\n- handles b: with colon"))
    assert len(entries) == 1


def test_a_dependabot_body_is_never_split() -> None:
    message = (
        "chore(deps): bump lib from 1.0 to 2.0\n\n"
        "- feat!: lib 2.0 drops python 3.8\n"
        "- fix: lib 2.0 fixes things\n"
    )
    for name, email in [
        ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
        ("renovate[bot]", "bot@renovateapp.com"),
        ("Some CI[bot]", "ci@example.com"),
        ("Release bot", "dependabot@example.com"),
    ]:
        entries = read_changes(raw(message, author_name=name, author_email=email))
        assert len(entries) == 1, name
        assert entries[0].conventional is not None
        assert not entries[0].conventional.breaking


def test_a_non_conventional_squash_header_still_gives_its_bullets() -> None:
    entries = read_changes(raw("Big batch (#3)\n\n* feat: a\n* fix: b"))
    assert summary(entries) == [
        ("Big batch (#3)", None, "", False, False),
        ("feat: a", "feat", "a", False, True),
        ("fix: b", "fix", "b", False, True),
    ]
    assert entries[0].error is not None


def test_an_empty_message_gives_an_entry_saying_so() -> None:
    [entry] = read_changes(raw("  \n"))
    assert entry.conventional is None
    assert entry.error == "the commit message is empty"


def test_crlf_messages_are_read_like_lf_ones() -> None:
    [entry] = read_changes(raw("feat(x): a  \r\n\r\nbody\r\n\r\nBREAKING CHANGE: b\r\n"))
    assert entry.subject == "feat(x): a"
    assert entry.conventional is not None
    assert entry.conventional.breaking_notes == ("b",)


def test_read_entries_are_immutable_and_hashable_like_constructed_ones() -> None:
    [entry] = read_changes(raw("fix(api): a\n\nRefs #1"))
    assert entry.conventional is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.subject = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.conventional.breaking = True  # type: ignore[misc]
    rebuilt = CommitEntry(
        SHA,
        "fix(api): a",
        ConventionalCommit("fix", "api", False, "a", "", (Footer("Refs", "1", " #"),), ()),
        None,
    )
    assert entry == rebuilt
    assert hash(entry) == hash(rebuilt)
    assert repr(entry) == repr(rebuilt)


@PROPERTY
@given(st.text(alphabet=st.sampled_from(list('ab:!() #*-\n\r\t"RevtBKINGCHAE')), max_size=80))
def test_any_message_is_read_without_raising(message: str) -> None:
    for entry in read_changes(raw(message)):
        assert (entry.conventional is None) != (entry.error is None)
