"""plan_version against real git repositories: one test per versioning rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from relgate.errors import (
    BadInput,
    MaintenanceLineExceeded,
    NonConventionalCommit,
    NotAGitRepository,
    ShallowClone,
)
from relgate.manifest.model import Manifest
from relgate.versioning.service import VersionPlan, plan_version
from tests.support.gitrepo import GitRepo


def plan(repo: GitRepo, versioning: dict[str, Any] | None = None, **kwargs: Any) -> VersionPlan:
    manifest = msgspec.convert(
        {"service": kwargs.pop("service", "payments"), "versioning": versioning or {}}, Manifest
    )
    return plan_version(repo.path, manifest, **kwargs)


def released(repo: GitRepo, tag: str) -> None:
    repo.tag(tag, message=f"release {tag}")


def test_first_release_is_the_initial_version(repo: GitRepo) -> None:
    repo.commit("feat: first feature")
    result = plan(repo)
    assert (result.current, str(result.next), result.next_tag) == (None, "0.1.0", "v0.1.0")


def test_first_release_uses_the_configured_initial_version(repo: GitRepo) -> None:
    repo.commit("chore: start")
    assert str(plan(repo, {"initial_version": "1.0.0"}).next) == "1.0.0"


def test_fix_bumps_patch(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.4.2")
    repo.commit("fix: handle empty carts")
    result = plan(repo)
    assert (str(result.current), str(result.next), result.bump.label) == ("1.4.2", "1.4.3", "patch")
    assert result.current_tag == "v1.4.2"


def test_feat_bumps_minor_and_is_the_decisive_commit(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.4.2")
    repo.commit("fix: a")
    sha = repo.commit("feat(api): add refunds")
    repo.commit("docs: explain refunds")
    result = plan(repo)
    assert str(result.next) == "1.5.0"
    assert result.decisive is not None and result.decisive.sha == sha
    assert [e.subject for e in result.entries] == [
        "docs: explain refunds",
        "feat(api): add refunds",
        "fix: a",
    ]


def test_bang_bumps_major(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.4.2")
    repo.commit("feat(api)!: drop v1 endpoints")
    result = plan(repo)
    assert str(result.next) == "2.0.0"
    assert [e.subject for e in result.breaking] == ["feat(api)!: drop v1 endpoints"]


def test_breaking_change_footer_bumps_major(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.4.2")
    repo.commit("fix: rename field\n\nBREAKING CHANGE: `amount` is now `total`")
    result = plan(repo)
    assert str(result.next) == "2.0.0"
    assert result.breaking[0].conventional is not None
    assert result.breaking[0].conventional.breaking_notes == ("`amount` is now `total`",)


def test_breaking_change_below_1_bumps_minor(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v0.3.1")
    repo.commit("feat!: new storage format")
    assert str(plan(repo).next) == "0.4.0"


def test_breaking_change_below_1_bumps_major_when_configured(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v0.3.1")
    repo.commit("feat!: new storage format")
    assert str(plan(repo, {"breaking_below_1": "major"}).next) == "1.0.0"


def test_dependency_update_commits_bump_patch(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v2.0.0")
    repo.commit(
        "chore(deps): bump requests from 2.31.0 to 2.32.0",
        author=("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
    )
    result = plan(repo)
    assert (str(result.next), result.bump.label) == ("2.0.1", "patch")


def test_commits_that_do_not_bump_mean_nothing_to_release(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.0.0")
    repo.commit("docs: typo")
    repo.commit("chore: tidy")
    result = plan(repo)
    assert result.nothing_to_release
    assert result.next is None
    assert len(result.entries) == 2


def test_head_at_the_release_tag_is_nothing_to_release(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.0.0")
    result = plan(repo)
    assert result.nothing_to_release
    assert result.entries == ()
    assert result.current_tag == "v1.0.0"


def test_non_conventional_commits_are_reported_but_do_not_fail(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.0.0")
    sha = repo.commit("Update README")
    repo.commit("fix: crash")
    result = plan(repo)
    assert str(result.next) == "1.0.1"
    assert [(e.sha, e.subject) for e in result.non_conventional] == [(sha, "Update README")]
    assert result.non_conventional[0].error


def test_strict_rejects_non_conventional_commits_naming_sha_and_subject(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.0.0")
    first = repo.commit("Update README")
    second = repo.commit("wip")
    repo.commit("fix: crash")
    with pytest.raises(NonConventionalCommit) as caught:
        plan(repo, strict=True)
    message = str(caught.value)
    assert f"{first[:7]} 'Update README'" in message
    assert f"{second[:7]} 'wip'" in message
    assert caught.value.exit_code == 2


def test_merged_commits_count_and_the_merge_subject_does_not(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.0.0")
    repo.checkout("feature/refunds", create=True)
    repo.commit("feat: refunds")
    repo.commit("test: refunds")
    repo.checkout("main")
    repo.commit("fix: unrelated")
    repo.merge("feature/refunds", "Merge pull request #12 from org/feature/refunds")
    result = plan(repo)
    assert str(result.next) == "1.1.0"
    subjects = {e.subject for e in result.entries}
    assert subjects == {"feat: refunds", "test: refunds", "fix: unrelated"}
    assert result.non_conventional == ()


def test_squash_merge_body_counts_each_squashed_commit(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.0.0")
    repo.commit("Refunds (#31)\n\n* fix: rounding of refunds\n\n* feat(api)!: refunds endpoint\n")
    result = plan(repo)
    assert str(result.next) == "2.0.0"
    squashed = [e.subject for e in result.entries if e.from_squash]
    assert squashed == ["fix: rounding of refunds", "feat(api)!: refunds endpoint"]


def test_highest_precedence_tag_wins_not_the_newest(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.10.0")
    repo.commit("fix: a")
    # a lightweight tag, put later on an older version line: still not the last release
    repo.tag("v1.9.3")
    repo.commit("fix: b")
    result = plan(repo)
    assert result.current_tag == "v1.10.0"
    assert str(result.next) == "1.10.1"
    assert len(result.entries) == 2


def test_tags_that_are_not_semver_or_not_reachable_are_ignored(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.0.0")
    repo.checkout("experiment", create=True)
    repo.commit("feat: experiment")
    released(repo, "v9.0.0")
    repo.checkout("main")
    repo.tag("v2")
    repo.tag("vnext")
    repo.tag("release-3.0.0")
    repo.commit("fix: a")
    result = plan(repo)
    assert result.current_tag == "v1.0.0"
    assert str(result.next) == "1.0.1"


def test_prerelease_tags_are_not_the_last_release_on_main(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.4.2")
    repo.commit("feat: x")
    released(repo, "v1.5.0-rc.1")
    repo.commit("fix: y")
    result = plan(repo)
    assert result.current_tag == "v1.4.2"
    assert str(result.next) == "1.5.0"


def test_rc_series_on_next_then_final_release_on_main(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.4.2")
    repo.checkout("next", create=True)
    repo.commit("feat: search")
    first = plan(repo)
    assert (first.channel, str(first.next), first.next_tag) == ("rc", "1.5.0-rc.1", "v1.5.0-rc.1")
    released(repo, "v1.5.0-rc.1")
    assert plan(repo).nothing_to_release
    repo.commit("fix: search paging")
    second = plan(repo)
    assert str(second.next) == "1.5.0-rc.2"
    assert second.current_tag == "v1.4.2"
    released(repo, "v1.5.0-rc.2")
    repo.checkout("main")
    repo.merge("next")
    final = plan(repo)
    assert (final.channel, str(final.next)) == (None, "1.5.0")


def test_rc_numbers_count_tags_that_are_not_reachable(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.4.2")
    repo.checkout("next", create=True)
    repo.commit("feat: search")
    released(repo, "v1.5.0-rc.1")
    repo.checkout("main")
    repo.checkout("next2", create=True)
    repo.commit("feat: other")
    result = plan(repo, {"channels": {"next2": "rc"}})
    assert str(result.next) == "1.5.0-rc.2"


def test_maintenance_line_stays_in_its_major(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.3.0")
    repo.branch("1.x")
    repo.commit("feat!: new api")
    released(repo, "v2.0.0")
    repo.checkout("1.x")
    repo.commit("fix: backported fix")
    result = plan(repo)
    assert result.line is not None and str(result.line) == "1.x"
    assert result.current_tag == "v1.3.0"
    assert str(result.next) == "1.3.1"


def test_breaking_change_on_a_maintenance_line_names_the_commit(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.3.0")
    repo.checkout("1.x", create=True)
    sha = repo.commit("feat!: drop python 3.8")
    with pytest.raises(MaintenanceLineExceeded) as caught:
        plan(repo)
    assert sha[:7] in str(caught.value)
    assert "feat!: drop python 3.8" in str(caught.value)


def test_detached_head_takes_the_branch_the_ci_names(repo: GitRepo) -> None:
    repo.commit("feat: start")
    released(repo, "v1.4.2")
    repo.commit("feat: search")
    repo.detach()
    assert plan(repo).branch is None
    result = plan(repo, ci_branch="next")
    assert (result.branch, str(result.next)) == ("next", "1.5.0-rc.1")
    assert plan(repo, branch="main", ci_branch="next").channel is None


def test_monorepo_counts_only_commits_under_its_path(repo: GitRepo) -> None:
    versioning = {"tag_format": "{name}@{version}", "path": "services/payments"}
    repo.commit("feat: payments", {"services/payments/app.py": "1"})
    released(repo, "payments@1.0.0")
    released(repo, "v7.0.0")
    repo.commit("feat: billing", {"services/billing/app.py": "1"})
    repo.commit("fix: payments rounding", {"services/payments/app.py": "2"})
    repo.commit("feat!: billing api", {"services/billing/app.py": "2"})
    result = plan(repo, versioning)
    assert result.current_tag == "payments@1.0.0"
    assert (str(result.next), result.next_tag) == ("1.0.1", "payments@1.0.1")
    assert [e.subject for e in result.entries] == ["fix: payments rounding"]


def test_monorepo_dash_v_tag_format(repo: GitRepo) -> None:
    repo.commit("feat: payments")
    released(repo, "payments-v0.2.0")
    repo.commit("feat: more")
    result = plan(repo, {"tag_format": "{name}-v{version}"})
    assert result.next_tag == "payments-v0.3.0"


def test_name_in_tag_format_without_a_service_is_bad_input(repo: GitRepo) -> None:
    repo.commit("feat: a")
    with pytest.raises(BadInput, match=r"uses \{name\}"):
        plan(repo, {"tag_format": "{name}@{version}"}, service=None)


def test_shallow_clone_that_misses_the_tag_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit("feat: start")
    released(repo, "v1.0.0")
    for index in range(5):
        repo.commit(f"fix: {index}")
    clone = repo.clone(tmp_path / "shallow", depth=2)
    with pytest.raises(ShallowClone) as caught:
        plan(clone)
    assert "fetch-depth: 0" in str(caught.value)
    assert "git fetch --unshallow" in str(caught.value)


def test_shallow_clone_that_reaches_the_tag_works(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit("feat: start")
    repo.commit("feat: more")
    released(repo, "v1.0.0")
    repo.commit("fix: a")
    repo.commit("fix: b")
    clone = repo.clone(tmp_path / "shallow", depth=4)
    assert clone.git("rev-parse", "--is-shallow-repository") == "true"
    result = plan(clone)
    assert (result.current_tag, str(result.next)) == ("v1.0.0", "1.0.1")


def test_shallow_clone_whose_merged_branch_is_cut_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit("feat: start")
    repo.checkout("topic", create=True)
    for index in range(4):
        repo.commit(f"feat: topic {index}")
    repo.checkout("main")
    repo.commit("fix: a")
    released(repo, "v1.0.0")
    repo.merge("topic")
    clone = repo.clone(tmp_path / "shallow", depth=2)
    with pytest.raises(ShallowClone, match="history stops at"):
        plan(clone)


def test_a_folder_outside_git_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(NotAGitRepository, match="is not in a git repository"):
        plan_version(tmp_path, Manifest())


def test_a_repository_without_commits_has_nothing_to_release(repo: GitRepo) -> None:
    result = plan(repo)
    assert result.nothing_to_release
    assert result.branch == "main"
