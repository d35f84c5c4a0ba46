"""Changelog rendering and prepending."""

from __future__ import annotations

import datetime
import re

import pytest

from relgate.errors import Conflict
from relgate.versioning.changelog import SECTIONS, prepend, render_section
from relgate.versioning.commits import CommitEntry, RawCommit, read_changes
from relgate.versioning.semver import Version

DATE = datetime.date(2026, 11, 26)
REPO = "https://github.com/acme/payments"


def entries(*messages: str) -> list[CommitEntry]:
    result: list[CommitEntry] = []
    for index, message in enumerate(messages):
        sha = f"{index + 1:x}" * 40
        raw = RawCommit(sha, ("f" * 40,), "Dev", "dev@example.com", 0, message)
        result.extend(read_changes(raw))
    return result


CHANGES = entries(
    "feat(api): add search",
    "fix: escape the query",
    "docs: explain search",
    "perf(db): index the orders table",
    "Update stuff",
    "feat!: drop the v1 endpoint\n\nBREAKING CHANGE: /v1 is gone.\nCall /v2 instead.",
    'Revert "fix(ui): flicker"',
    "chore(deps)!: require Python 3.12",
)


def test_sections_are_in_the_documented_order() -> None:
    assert SECTIONS == ("Breaking changes", "Features", "Bug fixes", "Performance", "Reverts")


def test_a_section_without_repository_lists_changes_by_section() -> None:
    text = render_section(Version(1, 5, 0), CHANGES, date=DATE)
    assert text == (
        "## 1.5.0 - 2026-11-26\n"
        "\n"
        "### Breaking changes\n"
        "\n"
        "- /v1 is gone.\n"
        "  Call /v2 instead. (6666666)\n"
        "- **deps:** require Python 3.12 (8888888)\n"
        "\n"
        "### Features\n"
        "\n"
        "- **api:** add search (1111111)\n"
        "- drop the v1 endpoint (6666666)\n"
        "\n"
        "### Bug fixes\n"
        "\n"
        "- escape the query (2222222)\n"
        "\n"
        "### Performance\n"
        "\n"
        "- **db:** index the orders table (4444444)\n"
        "\n"
        "### Reverts\n"
        "\n"
        "- fix(ui): flicker (7777777)\n"
    )


def test_a_section_with_repository_and_tags_links_the_comparison_and_commits() -> None:
    text = render_section(
        Version(1, 5, 0),
        entries("feat(api): add search"),
        date=DATE,
        repository_url=REPO + ".git/",
        tag="v1.5.0",
        previous_tag="v1.4.0",
    )
    assert text == (
        f"## [1.5.0]({REPO}/compare/v1.4.0...v1.5.0) - 2026-11-26\n"
        "\n"
        "### Features\n"
        "\n"
        f"- **api:** add search ([1111111]({REPO}/commit/{'1' * 40}))\n"
    )


def test_the_heading_has_no_link_without_a_previous_tag_and_no_date_without_one() -> None:
    text = render_section(Version(0, 1, 0), [], repository_url=REPO, tag="v0.1.0")
    assert text == "## 0.1.0\n"


def test_only_a_trailing_git_suffix_is_stripped_from_the_repository_url() -> None:
    text = render_section(
        Version(1, 0, 0),
        entries("fix: a"),
        repository_url="https://git.example.com/team/app.github/",
        tag="v1",
        previous_tag="v0",
    )
    assert "(https://git.example.com/team/app.github/compare/v0...v1)" in text


def test_a_prerelease_heading_shows_the_full_version() -> None:
    assert render_section(Version.parse("2.0.0-rc.1"), []).startswith("## 2.0.0-rc.1\n")


OLDER = (
    "# Changelog\n\nAll notable changes.\n\n"
    "## 1.4.0 - 2026-10-01\n\n### Features\n\n- a (1234567)\n"
)


def test_prepend_puts_the_new_section_above_older_ones_under_the_title() -> None:
    section = render_section(Version(1, 5, 0), entries("fix: b"), date=DATE)
    assert prepend(OLDER, section) == (
        "# Changelog\n"
        "\n"
        "All notable changes.\n"
        "\n"
        "## 1.5.0 - 2026-11-26\n"
        "\n"
        "### Bug fixes\n"
        "\n"
        "- b (1111111)\n"
        "\n"
        "## 1.4.0 - 2026-10-01\n"
        "\n"
        "### Features\n"
        "\n"
        "- a (1234567)\n"
    )


def test_prepend_to_an_empty_file_adds_the_title() -> None:
    section = render_section(Version(0, 1, 0), entries("feat: a"))
    assert prepend("", section) == "# Changelog\n\n## 0.1.0\n\n### Features\n\n- a (1111111)\n"
    assert prepend("\n  \n", section).startswith("# Changelog\n\n## 0.1.0\n")


def test_prepend_to_a_title_only_file_appends_after_the_title() -> None:
    section = render_section(Version(0, 1, 0), [])
    assert prepend("# Changelog\n", section) == "# Changelog\n\n## 0.1.0\n"


def test_prepend_to_a_file_without_title_puts_the_section_first() -> None:
    section = render_section(Version(1, 5, 0), [])
    assert prepend("## 1.4.0\n\n- a\n", section) == "## 1.5.0\n\n## 1.4.0\n\n- a\n"


@pytest.mark.parametrize(
    "heading",
    ["## 1.5.0 - 2026-11-25", "## [1.5.0](https://x/compare/v1.4.0...v1.5.0)", "## v1.5.0"],
)
def test_prepending_the_same_version_twice_is_a_conflict(heading: str) -> None:
    existing = f"# Changelog\n\n{heading}\n\n- a\n"
    section = render_section(Version(1, 5, 0), [], repository_url=REPO, tag="v", previous_tag="p")
    with pytest.raises(Conflict, match=re.escape("already has a section for 1.5.0")):
        prepend(existing, section)


def test_a_prerelease_section_does_not_conflict_with_its_final_release() -> None:
    existing = prepend("", render_section(Version.parse("1.5.0-rc.1"), []))
    result = prepend(existing, render_section(Version(1, 5, 0), []))
    assert result == "# Changelog\n\n## 1.5.0\n\n## 1.5.0-rc.1\n"


def test_prepend_keeps_an_unreleased_section_above_the_new_release() -> None:
    existing = "# Changelog\n\n## [Unreleased]\n\n- soon\n\n## [1.4.0] - 2026-10-01\n"
    result = prepend(existing, render_section(Version(1, 5, 0), []))
    assert result == (
        "# Changelog\n\n## [Unreleased]\n\n- soon\n\n## 1.5.0\n\n## [1.4.0] - 2026-10-01\n"
    )
