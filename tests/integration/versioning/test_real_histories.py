"""plan_version on histories shaped like real projects' (issue 10), in real git repositories.

Squash merges are written as GitHub writes them (the PR's commits as a bullet
list, co-author trailers after ``---------``), reverts carry GitHub's (#N).
"""

from __future__ import annotations

from typing import Any

import msgspec

from relgate.manifest.model import Manifest
from relgate.versioning.service import VersionPlan, plan_version
from tests.support.gitrepo import GitRepo


def plan(repo: GitRepo, versioning: dict[str, Any] | None = None) -> VersionPlan:
    manifest = msgspec.convert({"service": "cli", "versioning": versioning or {}}, Manifest)
    return plan_version(repo.path, manifest)


def started(repo: GitRepo, tag: str = "v3.4.0") -> None:
    repo.commit("feat: initial import")
    repo.tag(tag, message=tag)


def test_a_breaking_paragraph_under_a_squash_bullet_makes_it_major(repo: GitRepo) -> None:
    started(repo)
    repo.commit("fix(parser): trailing commas (#186)\n\n* fix(parser): trailing commas\n")
    sha = repo.commit(
        "feat(config): read relgate.toml (#190)\n\n"
        "* feat(config): read relgate.toml\n\n"
        "BREAKING CHANGE: config.json is no longer read; rename it\n\n"
        "* fix(config): error message for a missing file\n\n"
        "* test(config): cover toml\n\n"
        "Closes #188\n\n"
        "---------\n\n"
        "Co-authored-by: Grace Hopper <grace@example.com>\n"
    )
    result = plan(repo)
    assert (str(result.next), result.bump.label) == ("4.0.0", "major")
    assert result.decisive is not None and result.decisive.sha == sha
    assert [e.notes for e in result.breaking] == [("config.json is no longer read; rename it",)]


def test_a_non_conventional_header_with_breaking_footers_is_major_and_reported(
    repo: GitRepo,
) -> None:
    started(repo, "v8.3.1")
    repo.commit("fix: last 8.x fix")
    sha = repo.commit(
        "v9 (#639)\n\n"
        "BREAKING CHANGE: Node.js 12 and 14 are no longer supported\n"
        "BREAKING CHANGE: the package is ESM only\n"
    )
    result = plan(repo)
    assert (str(result.next), result.bump.label) == ("9.0.0", "major")
    assert [e.sha for e in result.non_conventional] == [sha]
    assert [e.sha for e in result.breaking] == [sha]
    assert result.breaking[0].breaking_notes == (
        "Node.js 12 and 14 are no longer supported",
        "the package is ESM only",
    )


def test_a_revert_with_githubs_pr_number_is_a_revert(repo: GitRepo) -> None:
    started(repo, "v16.2.0")
    repo.commit("fix(deps): update dependency yargs to v17 (#2530)")
    repo.tag("v16.2.1", message="v16.2.1")
    sha = repo.commit(
        'Revert "fix(deps): update dependency yargs to v17" (#2534)\n\n'
        "This reverts commit 9b1c2d3e4f.\n"
    )
    result = plan(repo)
    [entry] = result.entries
    assert entry.sha == sha and entry.conventional is not None
    assert entry.conventional.type == "revert"
    assert entry.conventional.description == "fix(deps): update dependency yargs to v17"
    assert result.non_conventional == ()
    assert str(result.next) == "16.2.2"


SQUASH_FIX = (
    "fix(parser): accept an empty document (#77)\n\n"
    "* feat: parse empty documents\n\n"
    "* feat!: return None for them\n\n"
    "* fix: the test\n"
)


def test_a_conventional_squash_header_decides_the_type(repo: GitRepo) -> None:
    started(repo)
    repo.commit(
        "build(deps): bump the toolchain (#81)\n\n* feat: new compiler flags\n\n* chore: lockfile\n"
    )
    result = plan(repo)
    assert (str(result.next), result.bump.label) == ("3.4.1", "patch")
    assert [e.subject for e in result.entries] == ["build(deps): bump the toolchain (#81)"]


def test_a_bullets_bang_is_breaking_unless_configured_otherwise(repo: GitRepo) -> None:
    started(repo)
    repo.commit(SQUASH_FIX)
    assert str(plan(repo).next) == "4.0.0"
    assert str(plan(repo, {"squash": {"breaking_in_bullets": False}}).next) == "3.4.1"
    assert str(
        plan(repo, {"squash": {"bullets": "always", "breaking_in_bullets": False}}).next
    ) == ("3.5.0")


def test_bullets_always_keeps_the_old_reading(repo: GitRepo) -> None:
    started(repo)
    repo.commit("fix(parser): accept an empty document (#77)\n\n* feat: parse empty documents\n")
    assert str(plan(repo).next) == "3.4.1"
    result = plan(repo, {"squash": {"bullets": "always"}})
    assert str(result.next) == "3.5.0"
    assert [e.subject for e in result.entries if e.from_squash] == ["feat: parse empty documents"]


def test_an_unprefixed_tag_among_v_tags_is_the_base_and_is_named(repo: GitRepo) -> None:
    repo.commit("feat: start")
    repo.tag("v8.0.0", message="v8.0.0")
    repo.commit("fix: a")
    repo.tag("8.0.1", message="8.0.1")
    repo.commit("fix: b")
    result = plan(repo)
    assert (result.current_tag, str(result.next), result.next_tag) == ("8.0.1", "8.0.2", "v8.0.2")
    assert result.base is not None and result.base_unprefixed
    assert [e.subject for e in result.entries] == ["fix: b"]


def test_unprefixed_tags_can_be_turned_off(repo: GitRepo) -> None:
    repo.commit("feat: start")
    repo.tag("v8.0.0", message="v8.0.0")
    repo.commit("fix: a")
    repo.tag("8.0.1", message="8.0.1")
    repo.commit("fix: b")
    result = plan(repo, {"accept_unprefixed_tags": False})
    assert (result.current_tag, str(result.next)) == ("v8.0.0", "8.0.1")
    assert not result.base_unprefixed


def test_the_v_tag_wins_when_both_spellings_tag_a_version(repo: GitRepo) -> None:
    repo.commit("feat: start")
    repo.tag("8.0.1", message="8.0.1")
    repo.tag("v8.0.1", message="v8.0.1")
    repo.commit("fix: b")
    result = plan(repo)
    assert result.current_tag == "v8.0.1" and not result.base_unprefixed


def test_a_named_tag_format_ignores_bare_versions(repo: GitRepo) -> None:
    repo.commit("feat: start")
    repo.tag("cli@1.0.0", message="cli@1.0.0")
    repo.commit("fix: a")
    repo.tag("1.0.1", message="1.0.1")
    repo.commit("fix: b")
    result = plan(repo, {"tag_format": "{name}@{version}"})
    assert (result.current_tag, str(result.next)) == ("cli@1.0.0", "1.0.1")
