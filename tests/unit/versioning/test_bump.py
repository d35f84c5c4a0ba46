"""Bump rules and next_version."""

from __future__ import annotations

import re

import pytest

from relgate.errors import InvalidVersion, MaintenanceLineExceeded
from relgate.versioning.bump import (
    BumpKind,
    BumpRules,
    Line,
    NextVersion,
    bump_of,
    line_from_branch,
    next_version,
)
from relgate.versioning.commits import CommitEntry, ConventionalCommit, RawCommit, read_changes
from relgate.versioning.config import VersioningConfig
from relgate.versioning.semver import Version

RULES = BumpRules.default()


def entry(message: str, sha: str = "abcdef0123456789abcdef0123456789abcdef01") -> CommitEntry:
    [result] = read_changes(RawCommit(sha, ("f" * 40,), "Dev", "dev@example.com", 0, message))
    return result


def commit(message: str) -> ConventionalCommit:
    conventional = entry(message).conventional
    assert conventional is not None
    return conventional


def v(text: str) -> Version:
    return Version.parse(text)


def test_bump_kinds_print_as_lowercase_labels_and_order_by_size() -> None:
    assert [str(kind) for kind in BumpKind] == ["none", "patch", "minor", "major"]
    assert BumpKind.MINOR.label == "minor"
    assert f"{BumpKind.PATCH}" == "patch"
    assert max(BumpKind.PATCH, BumpKind.MAJOR, BumpKind.MINOR) is BumpKind.MAJOR
    assert BumpKind.from_label("Minor") is BumpKind.MINOR
    with pytest.raises(ValueError, match="unknown bump 'huge'"):
        BumpKind.from_label("huge")


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("feat: x", BumpKind.MINOR),
        ("fix: x", BumpKind.PATCH),
        ("perf: x", BumpKind.PATCH),
        ("revert: x", BumpKind.PATCH),
        ("docs: x", BumpKind.NONE),
        ("chore: x", BumpKind.NONE),
        ("refactor(core): x", BumpKind.NONE),
        ("feat!: x", BumpKind.MAJOR),
        ("docs: x\n\nBREAKING CHANGE: the docs site moved", BumpKind.MAJOR),
        ("chore(deps): bump a from 1 to 2", BumpKind.PATCH),
        ("build(deps): bump a from 1 to 2", BumpKind.PATCH),
        ("build(deps-dev): bump b from 1 to 2", BumpKind.PATCH),
        ("fix(deps): bump c", BumpKind.PATCH),
        ("chore(ci): bump actions", BumpKind.NONE),
        ("chore(deps)!: drop python 3.8", BumpKind.MAJOR),
    ],
)
def test_each_commit_asks_for_its_bump(message: str, kind: BumpKind) -> None:
    assert bump_of(commit(message), RULES) is kind


def test_dependency_updates_follow_their_own_rule() -> None:
    rules = BumpRules(dependency_updates=BumpKind.NONE)
    assert bump_of(commit("chore(deps): bump a"), rules) is BumpKind.NONE
    assert bump_of(commit("fix(deps): bump a"), rules) is BumpKind.NONE
    assert bump_of(commit("fix(api): a"), rules) is BumpKind.PATCH


def test_rules_are_read_from_the_versioning_config() -> None:
    config = VersioningConfig(
        types={"feat": "minor", "docs": "patch"},
        dependency_updates="none",
        breaking_below_1="major",
        initial_version="1.0.0",
    )
    rules = BumpRules.from_config(config)
    assert dict(rules.types) == {"feat": BumpKind.MINOR, "docs": BumpKind.PATCH}
    assert rules.dependency_updates is BumpKind.NONE
    assert rules.breaking_below_1 is BumpKind.MAJOR
    assert rules.initial_version == Version(1, 0, 0)
    assert bump_of(commit("fix: x"), rules) is BumpKind.NONE


def test_default_rules_equal_the_default_config() -> None:
    assert BumpRules.from_config(VersioningConfig()) == BumpRules.default()


def test_the_largest_bump_wins_and_names_the_first_entry_needing_it() -> None:
    entries = [
        entry("fix: a", "1" * 40),
        entry("feat: b", "2" * 40),
        entry("docs: c", "3" * 40),
        entry("feat: d", "4" * 40),
    ]
    result = next_version(v("1.4.2"), entries, RULES)
    assert result == NextVersion(v("1.4.2"), v("1.5.0"), BumpKind.MINOR, entries[1])


def test_order_of_entries_does_not_change_the_version() -> None:
    entries = [entry("fix: a"), entry("feat!: b"), entry("feat: c")]
    forward = next_version(v("2.0.0"), entries, RULES)
    backward = next_version(v("2.0.0"), list(reversed(entries)), RULES)
    assert forward.next == backward.next == v("3.0.0")


def test_patch_bump() -> None:
    assert next_version(v("1.2.3"), [entry("fix: a")], RULES).next == v("1.2.4")


def test_breaking_change_bumps_major_from_1_0_0_on() -> None:
    result = next_version(v("1.2.3"), [entry("fix!: a")], RULES)
    assert (result.next, result.bump) == (v("2.0.0"), BumpKind.MAJOR)


def test_breaking_change_below_1_bumps_minor() -> None:
    result = next_version(v("0.3.1"), [entry("feat!: a"), entry("fix: b")], RULES)
    assert (result.next, result.bump) == (v("0.4.0"), BumpKind.MINOR)


def test_breaking_change_below_1_bumps_major_when_configured() -> None:
    rules = BumpRules(breaking_below_1=BumpKind.MAJOR)
    assert next_version(v("0.3.1"), [entry("feat!: a")], rules).next == v("1.0.0")


def test_feature_below_1_still_bumps_minor() -> None:
    assert next_version(v("0.3.1"), [entry("feat: a")], RULES).next == v("0.4.0")


def test_no_entries_means_nothing_to_release() -> None:
    result = next_version(v("1.2.3"), [], RULES)
    assert result == NextVersion(v("1.2.3"), None, BumpKind.NONE, None)


def test_entries_that_do_not_bump_mean_nothing_to_release() -> None:
    result = next_version(v("1.2.3"), [entry("docs: a"), entry("chore: b")], RULES)
    assert result.next is None
    assert result.bump is BumpKind.NONE


def test_non_conventional_entries_never_change_the_bump() -> None:
    entries = [entry("Update stuff"), entry("BREAKING: everything"), entry("fix: a")]
    result = next_version(v("1.2.3"), entries, RULES)
    assert (result.next, result.decisive) == (v("1.2.4"), entries[2])
    assert next_version(v("1.2.3"), [entry("Update stuff")], RULES).next is None


def test_first_release_is_the_initial_version() -> None:
    result = next_version(None, [entry("docs: a"), entry("feat: b")], RULES)
    assert (result.current, result.next) == (None, v("0.1.0"))


def test_first_release_happens_even_without_a_bumping_commit() -> None:
    result = next_version(None, [entry("chore: initial commit")], RULES)
    assert result.next == v("0.1.0")


def test_first_release_uses_the_configured_initial_version() -> None:
    rules = BumpRules(initial_version=v("1.0.0"))
    assert next_version(None, [entry("feat!: a")], rules).next == v("1.0.0")


def test_no_release_and_no_entries_means_nothing_to_release() -> None:
    assert next_version(None, [], RULES).next is None


def test_first_release_on_a_channel_is_a_prerelease_of_the_initial_version() -> None:
    result = next_version(None, [entry("feat: a")], RULES, channel="beta")
    assert result.next == v("0.1.0-beta.1")


def test_channel_starts_counting_at_1() -> None:
    result = next_version(v("1.4.0"), [entry("feat: a")], RULES, channel="rc")
    assert result.next == v("1.5.0-rc.1")


def test_channel_counts_on_from_existing_prereleases_of_the_same_version() -> None:
    existing = [
        v("1.4.0"),
        v("1.5.0-rc.1"),
        v("1.5.0-rc.2+build.7"),
        v("1.5.0-beta.9"),
        v("1.6.0-rc.5"),
        v("1.5.0-rc.x"),
        v("1.5.0-rc.1.1"),
    ]
    result = next_version(v("1.4.0"), [entry("feat: a")], RULES, channel="rc", existing=existing)
    assert result.next == v("1.5.0-rc.3")


def test_channel_counting_restarts_when_the_bump_grows() -> None:
    existing = [v("1.5.0-rc.1"), v("1.5.0-rc.2")]
    entries = [entry("feat: a"), entry("feat!: b")]
    result = next_version(v("1.4.0"), entries, RULES, channel="rc", existing=existing)
    assert result.next == v("2.0.0-rc.1")


def test_final_release_after_a_prerelease_series_is_the_plain_bump() -> None:
    existing = [v("1.4.0"), v("1.5.0-rc.1"), v("1.5.0-rc.2")]
    result = next_version(v("1.4.0"), [entry("feat: a")], RULES, existing=existing)
    assert result.next == v("1.5.0")


def test_a_bad_channel_is_refused() -> None:
    with pytest.raises(InvalidVersion, match="channel 'r c'"):
        next_version(v("1.4.0"), [entry("feat: a")], RULES, channel="r c")


@pytest.mark.parametrize(
    ("branch", "line"),
    [
        ("1.x", Line(1)),
        ("1.2.x", Line(1, 2)),
        ("release/1.x", Line(1)),
        ("release/0.3.x", Line(0, 3)),
        ("maint/v2/10.x", Line(10)),
        ("main", None),
        ("1.2", None),
        ("01.x", None),
        ("feature/1.x-backport", None),
        ("x", None),
    ],
)
def test_maintenance_lines_are_read_from_branch_names(branch: str, line: Line | None) -> None:
    assert line_from_branch(branch) == line


def test_a_major_line_takes_minor_and_patch_bumps() -> None:
    entries = [entry("fix: a"), entry("feat: b")]
    assert next_version(v("1.4.2"), entries, RULES, line=Line(1)).next == v("1.5.0")


def test_a_major_line_refuses_a_breaking_change_naming_the_commit() -> None:
    entries = [
        entry("fix: a", "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        entry("feat(api)!: drop v1", "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
    ]
    with pytest.raises(MaintenanceLineExceeded) as caught:
        next_version(v("1.4.2"), entries, RULES, line=Line(1))
    message = str(caught.value)
    assert "1.x" in message
    assert "2222222" in message
    assert "2222222b" not in message
    assert "'feat(api)!: drop v1'" in message
    assert "major" in message


def test_a_minor_line_refuses_a_feature_naming_the_commit() -> None:
    entries = [entry("fix: a", "1" * 40), entry("feat: b", "2" * 40)]
    with pytest.raises(MaintenanceLineExceeded) as caught:
        next_version(v("1.2.5"), entries, RULES, line=Line(1, 2))
    message = str(caught.value)
    assert "1.2.x" in message
    assert "2222222 'feat: b'" in message
    assert "minor" in message


def test_a_minor_line_takes_patches() -> None:
    result = next_version(v("1.2.5"), [entry("fix: a")], RULES, line=Line(1, 2), channel="rc")
    assert result.next == v("1.2.6-rc.1")


def test_a_zero_line_takes_breaking_changes_as_minor_bumps() -> None:
    assert next_version(v("0.3.1"), [entry("feat!: a")], RULES, line=Line(0)).next == v("0.4.0")


def test_a_release_outside_the_line_is_refused() -> None:
    with pytest.raises(
        MaintenanceLineExceeded, match=re.escape("last release 2.0.0 is not on this line")
    ):
        next_version(v("2.0.0"), [entry("fix: a")], RULES, line=Line(1))


def test_a_first_release_outside_the_line_is_refused() -> None:
    with pytest.raises(MaintenanceLineExceeded, match=re.escape("1.x: the next version 0.1.0")):
        next_version(None, [entry("fix: a")], RULES, line=Line(1))


def test_nothing_to_release_on_a_line_is_not_an_error() -> None:
    assert next_version(v("1.2.5"), [entry("docs: a")], RULES, line=Line(1, 2)).next is None
