"""The git adapter on its own: tag formats, tags, the commit walk, the test repository helper."""

from __future__ import annotations

from pathlib import Path

import pytest

from relgate.errors import BadInput, Conflict
from relgate.versioning.commits import RawCommit
from relgate.versioning.gitlog import GitRepository, TagFormat
from relgate.versioning.semver import Version
from tests.support.gitrepo import GitRepo


def keep(raw: RawCommit) -> list[RawCommit]:
    return [raw]


@pytest.mark.parametrize(
    ("template", "name", "tag", "expected"),
    [
        ("v{version}", None, "v1.2.3", "1.2.3"),
        ("v{version}", None, "v1.2.3-rc.1+build.5", "1.2.3-rc.1+build.5"),
        ("v{version}", None, "v1.2", None),
        ("v{version}", None, "1.2.3", None),
        ("{name}@{version}", "payments", "payments@0.4.0", "0.4.0"),
        ("{name}@{version}", "payments", "billing@0.4.0", None),
        ("{name}-v{version}", "pay.ments", "pay.ments-v2.0.0", "2.0.0"),
        ("{name}-v{version}", "pay.ments", "payXments-v2.0.0", None),
    ],
)
def test_tag_format_reads_versions_only_from_its_own_tags(
    template: str, name: str | None, tag: str, expected: str | None
) -> None:
    version = TagFormat(template, name).parse(tag)
    assert (str(version) if version else None) == expected


def test_tag_format_writes_tags_and_narrows_the_listing() -> None:
    fmt = TagFormat("{name}@{version}", "payments")
    assert fmt.format(Version.parse("1.5.0-rc.2")) == "payments@1.5.0-rc.2"
    assert fmt.ref_glob() == "refs/tags/payments@*"
    assert TagFormat("{version}").ref_glob() == "refs/tags/"


def test_tag_format_without_version_is_bad_input() -> None:
    with pytest.raises(BadInput, match=r"must contain \{version\}"):
        TagFormat("release")


def test_annotated_and_lightweight_tags_give_the_commit(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    first = repo.commit("feat: a")
    repo.tag("v1.0.0", message="annotated")
    second = repo.commit("fix: b")
    repo.tag("v1.0.1")
    git = GitRepository.open(repo.path / ".")
    tags = {t.name: t.sha for t in git.release_tags(TagFormat("v{version}"))}
    assert tags == {"v1.0.0": first, "v1.0.1": second}


def test_open_finds_the_root_from_a_subfolder(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: a", {"deep/file.txt": "x"})
    git = GitRepository.open(repo.path / "deep")
    assert git.root == repo.path.resolve()
    assert (git.branch, git.head, git.is_shallow) == ("main", repo.head(), False)


def test_log_since_reads_thousands_of_commits_in_one_walk(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    base = repo.commit("feat: start")
    messages = [f"fix: change {index}\n\nbody {index}\x1f with separators" for index in range(3000)]
    repo.fast_import(messages)
    log = GitRepository.open(repo.path).log_since(base, keep)
    assert log.reached_base
    assert len(log.changes) == 3000
    assert log.changes[0].message == messages[-1]
    assert log.changes[-1].parents == (base,)


def test_log_since_says_when_the_base_is_not_an_ancestor(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: start")
    repo.checkout("side", create=True)
    side = repo.commit("feat: side")
    repo.checkout("main")
    repo.commit("fix: main")
    git = GitRepository.open(repo.path)
    assert not git.log_since(side, keep).reached_base
    assert not git.log_since(side, keep, path="nothing").reached_base


def test_create_tag_refuses_an_existing_tag(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: start")
    repo.tag("v1.0.0")
    git = GitRepository.open(repo.path)
    with pytest.raises(Conflict, match=r"tag v1\.0\.0 already exists"):
        git.create_tag("v1.0.0", "again")


def test_the_helper_builds_the_same_shas_every_time(tmp_path: Path) -> None:
    shas = []
    for name in ("one", "two"):
        repo = GitRepo.init(tmp_path / name)
        repo.commit("feat: a", {"a.txt": "a"})
        repo.commit("fix: b")
        shas.append(repo.head())
    assert shas[0] == shas[1]
