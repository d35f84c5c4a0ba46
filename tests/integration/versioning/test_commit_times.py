"""The commits a release brings, with their times, read from a real git repository."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from relgate.versioning.commit_times import release_commits
from tests.support.gitrepo import EPOCH, GitRepo


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_the_commits_since_the_previous_tag_newest_first_with_their_times(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "r")
    repo.commit("feat: one", date=EPOCH + 10)
    repo.tag("v1.0.0")
    repo.tag("not-a-release")  # matched out by the tag glob
    two = repo.commit("fix: two", date=EPOCH + 20)
    three = repo.commit("fix: three", {"docs/x.md": "x"}, date=EPOCH + 30)

    found = release_commits(repo.path, three, match="v*")

    assert found is not None
    assert found.base == "v1.0.0"
    assert found.commits == [(three, _at(EPOCH + 30)), (two, _at(EPOCH + 20))]
    assert found.count == 2 and found.committed_at == _at(EPOCH + 30)
    only_docs = release_commits(repo.path, three, match="v*", path="docs")
    assert only_docs is not None and [sha for sha, _ in only_docs.commits] == [three]
    cut = release_commits(repo.path, three, match="v*", limit=1)
    assert cut is not None and len(cut.commits) == 1 and cut.count == 2


def test_the_first_release_brings_the_whole_history_and_a_given_base_is_used(
    tmp_path: Path,
) -> None:
    repo = GitRepo.init(tmp_path / "r")
    shas = repo.commits(["feat: a", "feat: b", "feat: c"])

    whole = release_commits(repo.path, shas[-1])
    assert whole is not None and whole.base is None and whole.count == 3
    from_base = release_commits(repo.path, shas[-1], base=shas[0])
    assert from_base is not None and from_base.count == 2
    no_search = release_commits(repo.path, shas[-1], find_base=False)
    assert no_search is not None and no_search.count == 3


def test_no_repository_or_an_unknown_commit_gives_nothing(tmp_path: Path) -> None:
    assert release_commits(tmp_path, "abc123") is None
    repo = GitRepo.init(tmp_path / "r")
    repo.commit("feat: a")
    assert release_commits(repo.path, "0" * 40) is None
    assert release_commits(repo.path, "--all") is None


def test_an_unprefixed_release_tag_is_a_base_when_the_tag_format_takes_it(tmp_path: Path) -> None:
    # v8.0.0, then 8.0.1 (no "v"): as `relgate version` reads them, 8.0.1 is the base
    repo = GitRepo.init(tmp_path / "r")
    repo.commit("feat: one", date=EPOCH + 10)
    repo.tag("v8.0.0")
    repo.commit("fix: two", date=EPOCH + 20)
    repo.tag("8.0.1")
    three = repo.commit("fix: three", date=EPOCH + 30)

    only_prefixed = release_commits(repo.path, three, match="v*")
    both = release_commits(repo.path, three, match=["v*", "[0-9]*"])

    assert only_prefixed is not None and only_prefixed.base == "v8.0.0"
    assert both is not None and both.base == "8.0.1"
    assert [sha for sha, _ in both.commits] == [three]
