"""Parsing rules found by replaying real release histories (issue 10).

Each message is written as GitHub writes it: a squash merge's body is the
bullet list of the pull request's commits, a revert carries the PR number.
"""

from __future__ import annotations

import pytest

from relgate.versioning.bump import BumpKind, BumpRules, next_version
from relgate.versioning.commits import CommitEntry, RawCommit, SquashOptions, read_changes
from relgate.versioning.gitlog import TagFormat
from relgate.versioning.semver import Version

SHA = "0123456789abcdef0123456789abcdef01234567"


def read(message: str, squash: SquashOptions | None = None) -> list[CommitEntry]:
    raw = RawCommit(SHA, ("f" * 40,), "Ada Lovelace", "ada@example.com", 1_700_000_000, message)
    return read_changes(raw) if squash is None else read_changes(raw, squash)


def bump(message: str, squash: SquashOptions | None = None) -> BumpKind:
    return next_version(Version(3, 4, 0), read(message, squash), BumpRules.default()).bump


# --- 1. a BREAKING CHANGE paragraph under one of a squash's bullets ---------------------

SQUASH_BREAKING_THEN_BULLETS = """\
feat(cli): print tables by default (#190)

* feat(cli): print tables by default

BREAKING CHANGE: `--format` defaults to `table`; scripts must pass `--format json`

* fix(cli): align the columns

* test: cover the table output
"""

SQUASH_BREAKING_THEN_CLOSES = """\
feat(config): read relgate.toml (#201)

* feat(config): read relgate.toml

  BREAKING CHANGE: config.json is no longer read

Closes #188
"""

SQUASH_BREAKING_UNDER_A_LATER_BULLET = """\
feat: new loader (#203)

* wip

* refactor: split the loader
BREAKING-CHANGE: load() is now async

* docs: loader

---------

Co-authored-by: Grace Hopper <grace@example.com>
"""


@pytest.mark.parametrize(
    "message",
    [
        SQUASH_BREAKING_THEN_BULLETS,
        SQUASH_BREAKING_THEN_CLOSES,
        SQUASH_BREAKING_UNDER_A_LATER_BULLET,
    ],
)
def test_a_breaking_paragraph_under_a_squash_bullet_makes_the_release_major(message: str) -> None:
    assert bump(message) is BumpKind.MAJOR


def test_the_breaking_note_under_a_bullet_is_the_headers_note() -> None:
    [entry] = read(SQUASH_BREAKING_THEN_CLOSES)
    assert entry.conventional is not None
    assert entry.conventional.type == "feat"
    assert entry.conventional.breaking_notes == ("config.json is no longer read",)
    assert entry.notes == ("config.json is no longer read",)


def test_breaking_in_bullets_false_ignores_a_paragraph_under_a_bullet() -> None:
    options = SquashOptions(breaking_in_bullets=False)
    assert bump(SQUASH_BREAKING_THEN_BULLETS, options) is BumpKind.MINOR


# --- 2. a header that is not conventional, with BREAKING CHANGE footers ------------------

NON_CONVENTIONAL_BREAKING = """\
v9 (#639)

BREAKING CHANGE: drop Node.js 12 and 14
BREAKING CHANGE: the package is ESM only
"""


def test_breaking_footers_under_a_non_conventional_header_make_it_major() -> None:
    [entry] = read(NON_CONVENTIONAL_BREAKING)
    assert entry.conventional is None
    assert entry.error is not None and "'v9 (#639)'" in entry.error
    assert entry.breaking
    assert entry.breaking_notes == ("drop Node.js 12 and 14", "the package is ESM only")
    assert bump(NON_CONVENTIONAL_BREAKING) is BumpKind.MAJOR


def test_a_breaking_line_inside_a_paragraph_still_counts() -> None:
    message = "Release 9 (#640)\n\nA big one.\nBREAKING CHANGE: drop the v1 API\nThanks all."
    [entry] = read(message)
    assert entry.breaking_notes == ("drop the v1 API",)


def test_an_indented_example_of_a_footer_is_not_breaking() -> None:
    message = "docs: explain footers\n\nWrite them like this:\n\n    BREAKING CHANGE: x\n"
    [entry] = read(message)
    assert not entry.breaking
    [odd] = read("Update the guide\n\nExample:\n    BREAKING CHANGE: x\n")
    assert not odd.breaking


def test_a_non_conventional_commit_without_footers_stays_non_breaking() -> None:
    [entry] = read("Update README.md\n\nbreaking change: lower case is prose")
    assert not entry.breaking
    assert bump("Update README.md") is BumpKind.NONE


def test_a_bots_body_is_not_searched_for_breaking_lines() -> None:
    message = "Bump yargs from 16 to 17\n\nRelease notes\n  BREAKING CHANGE: node 10 dropped"
    raw = RawCommit(SHA, ("f" * 40,), "dependabot[bot]", "bot@github.com", 0, message)
    [entry] = read_changes(raw)
    assert not entry.breaking


# --- 3. git's revert form with GitHub's PR number ---------------------------------------


def test_a_revert_with_a_pr_number_is_a_revert_of_that_commit() -> None:
    message = (
        'Revert "fix(deps): update dependency yargs to v17" (#2534)\n\n'
        "This reverts commit 1f2e3d4c5b6a.\n"
    )
    [entry] = read(message)
    assert entry.conventional is not None
    assert entry.conventional.type == "revert"
    assert entry.conventional.description == "fix(deps): update dependency yargs to v17"
    assert entry.error is None
    assert bump(message) is BumpKind.PATCH


def test_a_revert_of_a_revert_with_pr_numbers_puts_the_change_back() -> None:
    [entry] = read('Revert "Revert "feat: search (#10)" (#11)" (#12)')
    assert entry.conventional is not None
    assert entry.conventional.type == "feat"
    assert entry.conventional.description == "search (#10)"


# --- 4. squash bodies do not over-bump ---------------------------------------------------

SQUASH_FIX_WITH_FEAT_BULLETS = """\
fix(parser): accept an empty document (#77)

* feat: parse empty documents

* feat: return None for them

* fix: the test
"""

SQUASH_DEPS_WITH_FEAT_BULLETS = """\
build(deps): bump the toolchain (#81)

* feat: new compiler flags

* chore: update lockfile
"""

SQUASH_FIX_WITH_BANG_BULLET = """\
fix(api): reject empty ids (#90)

* feat(api)!: ids are required

* fix: message
"""


def test_the_conventional_header_decides_the_type_of_a_squash() -> None:
    [entry] = read(SQUASH_FIX_WITH_FEAT_BULLETS)
    assert entry.conventional is not None
    assert entry.conventional.type == "fix"
    assert bump(SQUASH_FIX_WITH_FEAT_BULLETS) is BumpKind.PATCH
    assert bump(SQUASH_DEPS_WITH_FEAT_BULLETS) is BumpKind.PATCH


def test_a_bullets_bang_still_makes_the_squash_breaking() -> None:
    [entry] = read(SQUASH_FIX_WITH_BANG_BULLET)
    assert entry.conventional is not None
    assert entry.conventional.type == "fix"
    assert entry.conventional.breaking_notes == ("ids are required",)
    assert bump(SQUASH_FIX_WITH_BANG_BULLET) is BumpKind.MAJOR
    assert bump(SQUASH_FIX_WITH_BANG_BULLET, SquashOptions(breaking_in_bullets=False)) is (
        BumpKind.PATCH
    )


def test_bullets_always_reads_them_as_commits_as_before() -> None:
    always = SquashOptions(bullets="always")
    assert bump(SQUASH_FIX_WITH_FEAT_BULLETS, always) is BumpKind.MINOR
    subjects = [e.subject for e in read(SQUASH_FIX_WITH_FEAT_BULLETS, always)]
    assert subjects[1:] == [
        "feat: parse empty documents",
        "feat: return None for them",
        "fix: the test",
    ]


def test_bullets_always_with_breaking_in_bullets_false_drops_a_bullets_bang() -> None:
    options = SquashOptions(bullets="always", breaking_in_bullets=False)
    entries = read(SQUASH_FIX_WITH_BANG_BULLET, options)
    assert not any(e.breaking for e in entries)
    assert bump(SQUASH_FIX_WITH_BANG_BULLET, options) is BumpKind.MINOR


def test_a_non_conventional_header_reads_its_bullets_as_commits() -> None:
    message = "Parser work (#95)\n\n* feat: parse empty documents\n\n* fix: the test\n"
    entries = read(message)
    assert [e.subject for e in entries] == [
        "Parser work (#95)",
        "feat: parse empty documents",
        "fix: the test",
    ]
    assert bump(message) is BumpKind.MINOR
    assert bump(message, SquashOptions(bullets="never")) is BumpKind.NONE


def test_bullets_never_keeps_a_bullets_breaking_marker() -> None:
    message = "Parser work (#96)\n\n* feat!: parse empty documents\n"
    [entry] = read(message, SquashOptions(bullets="never"))
    assert entry.conventional is None
    assert entry.breaking_notes == ("parse empty documents",)


# --- 5. tags without the v prefix --------------------------------------------------------


def test_the_default_format_accepts_unprefixed_tags_when_asked() -> None:
    both = TagFormat("v{version}", accept_unprefixed=True)
    assert both.parse("8.0.1") == Version(8, 0, 1)
    assert both.parse("v8.0.2") == Version(8, 0, 2)
    assert both.is_unprefixed("8.0.1") and not both.is_unprefixed("v8.0.2")
    assert both.parse("release-8") is None
    assert both.ref_globs() == ["refs/tags/v*", "refs/tags/[0-9]*"]
    assert TagFormat("v{version}").parse("8.0.1") is None


def test_other_formats_never_take_bare_versions() -> None:
    named = TagFormat("{name}@{version}", "api", accept_unprefixed=True)
    assert named.parse("8.0.1") is None
    assert named.parse("api@8.0.1") == Version(8, 0, 1)
    assert named.ref_globs() == ["refs/tags/api@*"]


def test_the_changelog_lists_a_non_conventional_breaking_commits_notes() -> None:
    from relgate.versioning.changelog import render_section

    section = render_section(Version(9, 0, 0), read(NON_CONVENTIONAL_BREAKING))
    assert section == (
        "## 9.0.0\n\n### Breaking changes\n\n"
        "- drop Node.js 12 and 14 (0123456)\n"
        "- the package is ESM only (0123456)\n"
    )
