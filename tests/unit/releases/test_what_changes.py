"""What a promotion changes, from the changelogs the releases were registered with."""

from __future__ import annotations

import datetime

from relgate.releases.changes import (
    Direction,
    ReleaseText,
    parse_changelog,
    what_changes,
)
from relgate.versioning.changelog import render_section
from relgate.versioning.commits import CommitEntry, RawCommit, read_changes
from relgate.versioning.semver import Version

REPO = "https://github.com/acme/payments"


def entries(*messages: str, start: int = 1) -> list[CommitEntry]:
    result: list[CommitEntry] = []
    for index, message in enumerate(messages, start=start):
        sha = f"{index:x}" * 40
        raw = RawCommit(sha, ("f" * 40,), "Dev", "dev@example.com", 0, message)
        result.extend(read_changes(raw))
    return result


def release(version: str, *messages: str, start: int = 1, repo: str | None = None) -> ReleaseText:
    text = render_section(
        Version.parse(version),
        entries(*messages, start=start),
        date=datetime.date(2026, 11, 26),
        repository_url=repo,
    )
    return ReleaseText(version=version, changelog=text, commit=f"{start:x}" * 40)


V100 = release("1.0.0", "feat: first screen", start=1)
V110 = release("1.1.0", "feat(api): add search", "fix: escape the query", start=2)
V200 = release(
    "2.0.0",
    "feat!: drop the v1 endpoint\n\nBREAKING CHANGE: /v1 is gone.\nCall /v2 instead.",
    start=4,
)
V210 = release("2.1.0", "fix(ui): flicker", "perf(db): index the orders table", start=5)
ALL = [V210, V100, V200, V110]


def titles(changes: object) -> list[str]:
    return [s.title for s in changes.sections]  # type: ignore[attr-defined]


def texts(changes: object, title: str) -> list[str]:
    section = next(s for s in changes.sections if s.title == title)  # type: ignore[attr-defined]
    return [i.text for i in section.items]


def test_a_rendered_section_is_read_back_with_scope_and_commit() -> None:
    parsed = parse_changelog(V110.changelog, "1.1.0")

    assert parsed is not None
    features = parsed.sections[0]
    assert features.title == "Features"
    assert features.items[0].text == "add search"
    assert features.items[0].scope == "api"
    assert features.items[0].commit == "2222222"
    assert [s.title for s in parsed.sections] == ["Features", "Bug fixes"]


def test_several_releases_in_range_are_gathered_by_section_breaking_first() -> None:
    changes = what_changes(V210, V100, ALL)

    assert changes.direction is Direction.UPGRADE
    assert [r.version for r in changes.releases] == ["1.1.0", "2.0.0", "2.1.0"]
    # the breaking change of the middle release comes first
    assert titles(changes) == ["Breaking changes", "Features", "Bug fixes", "Performance"]
    assert texts(changes, "Breaking changes") == ["/v1 is gone.\nCall /v2 instead."]
    assert changes.sections[0].items[0].version == "2.0.0"
    assert texts(changes, "Features") == ["add search", "drop the v1 endpoint"]
    assert texts(changes, "Bug fixes") == ["escape the query", "flicker"]
    assert changes.breaking
    assert "From 1.0.0 to 2.1.0: 3 releases" in changes.summary
    # what runs already (1.0.0) is not a change
    assert "first screen" not in [i.text for s in changes.sections for i in s.items]


def test_the_range_is_by_semver_precedence_not_by_registration_order() -> None:
    changes = what_changes(V200, V110, ALL)

    assert [r.version for r in changes.releases] == ["2.0.0"]
    assert titles(changes) == ["Breaking changes", "Features"]


def test_a_candidate_older_than_what_runs_is_a_rollback_taking_changes_out() -> None:
    changes = what_changes(V110, V210, ALL)

    assert changes.direction is Direction.ROLLBACK
    assert [r.version for r in changes.releases] == ["2.0.0", "2.1.0"]
    assert "older than the running 2.1.0" in changes.summary
    assert "goes back" in changes.summary
    assert texts(changes, "Breaking changes") == ["/v1 is gone.\nCall /v2 instead."]
    # 1.1.0's own changes stay: it is what will run
    assert "add search" not in texts(changes, "Features")


def test_nothing_running_is_the_first_deployment_with_the_candidates_changelog() -> None:
    changes = what_changes(V110, None, ALL)

    assert changes.direction is Direction.FIRST
    assert "First deployment" in changes.summary
    assert [r.version for r in changes.releases] == ["1.1.0"]
    assert texts(changes, "Features") == ["add search"]


def test_the_same_version_is_a_redeploy_without_changes() -> None:
    changes = what_changes(V110, V110, ALL)

    assert changes.direction is Direction.SAME
    assert changes.releases == ()
    assert changes.sections == ()


def test_an_unparseable_changelog_is_kept_raw_and_the_others_still_grouped() -> None:
    prose = ReleaseText(version="1.5.0", changelog="We made search faster.\n\nEnjoy!")
    changes = what_changes(V200, V110, [*ALL, prose])

    assert [r.version for r in changes.releases] == ["1.5.0", "2.0.0"]
    assert [r.version for r in changes.unparsed] == ["1.5.0"]
    assert changes.unparsed[0].changelog == "We made search faster.\n\nEnjoy!"
    assert titles(changes) == ["Breaking changes", "Features"]
    assert parse_changelog("- an item outside any section") is None
    assert parse_changelog("### Features\n\n| a | table |") is None


def test_a_release_without_changelog_is_listed_but_not_raw() -> None:
    bare = ReleaseText(version="1.2.0")
    changes = what_changes(bare, V110, [*ALL, bare])

    assert [r.version for r in changes.releases] == ["1.2.0"]
    assert changes.releases[0].missing
    assert changes.unparsed == ()
    assert changes.sections == ()


def test_entries_repeated_by_prereleases_and_their_final_release_are_listed_once() -> None:
    # relgate's changelog of a release lists every commit since the last final release
    rc1 = release("2.0.0-rc.1", "feat: a", start=7)
    rc2 = release("2.0.0-rc.2", "feat: a", "fix: b", start=7)
    final = release("2.0.0", "feat: a", "fix: b", "fix: c", start=7)
    changes = what_changes(final, V110, [V110, rc1, rc2, final])

    assert [r.version for r in changes.releases] == ["2.0.0-rc.1", "2.0.0-rc.2", "2.0.0"]
    assert texts(changes, "Features") == ["a"]
    assert texts(changes, "Bug fixes") == ["b", "c"]
    assert [i.version for i in changes.sections[1].items] == ["2.0.0-rc.2", "2.0.0"]

    # from rc.1 running, rc.1's entries are not news
    upgrade = what_changes(final, rc1, [V110, rc1, rc2, final])
    assert titles(upgrade) == ["Bug fixes"]


def test_a_whole_changelog_file_is_read_for_the_releases_own_section() -> None:
    whole = "# Changelog\n\n" + V210.changelog + "\n" + V200.changelog  # type: ignore[operator]
    parsed = parse_changelog(whole, "2.0.0")

    assert parsed is not None
    assert [s.title for s in parsed.sections] == ["Breaking changes", "Features"]


def test_other_sections_follow_in_the_order_seen_and_links_are_http_only() -> None:
    text = (
        "## 3.0.0\n\n### Security\n\n- patch the parser ([abcdef1](javascript:alert(1)))\n\n"
        "### Bug fixes\n\n- **ui:** fix ([1234567](https://example.com/c/1234567))\n"
    )
    candidate = ReleaseText(version="3.0.0", changelog=text)
    changes = what_changes(candidate, None, [candidate])

    assert titles(changes) == ["Bug fixes", "Security"]
    fix = changes.sections[0].items[0]
    assert (fix.scope, fix.commit, fix.commit_url) == (
        "ui",
        "1234567",
        "https://example.com/c/1234567",
    )
    security = changes.sections[1].items[0]
    assert security.commit_url is None


def test_links_of_a_rendered_changelog_are_kept() -> None:
    linked = release("1.2.0", "fix: x", start=9, repo=REPO)
    changes = what_changes(linked, V110, [V110, linked])

    item = changes.sections[0].items[0]
    assert item.commit == "9999999"
    assert item.commit_url == f"{REPO}/commit/{'9' * 40}"


def test_a_long_range_lists_the_newest_releases_and_counts_the_others() -> None:
    many = [ReleaseText(version=f"1.{n}.0", changelog=f"### Features\n\n- f{n}") for n in range(30)]
    changes = what_changes(many[-1], many[0], many, limit=10)

    assert len(changes.releases) == 10
    assert changes.more == 19
    assert changes.releases[-1].version == "1.29.0"
    assert "29 releases" in changes.summary
