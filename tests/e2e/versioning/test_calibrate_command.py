"""`relgate version --calibrate` as a user runs it: a subprocess in a real repository."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import relgate_json, run_relgate
from tests.support.gitrepo import GitRepo


def make_repo(tmp_path: Path) -> GitRepo:
    """A project that releases refactors as patches, and tagged one release without its v."""
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: initial import")
    repo.tag("v1.0.0", message="v1.0.0")
    for messages, tag in [
        (["refactor: split the parser"], "v1.0.1"),
        (["fix: a"], "1.0.2"),
        (["feat: b", "docs: b"], "v1.1.0"),
        (["refactor(cli): options"], "v1.1.1"),
    ]:
        repo.commits(messages)
        repo.tag(tag, message=tag)
    return repo


def test_json_reports_the_rates_the_disagreements_and_the_proposal(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    proc = run_relgate("version", "--calibrate", "--json", cwd=repo.path)
    assert proc.returncode == 0 and proc.stderr == ""
    doc = json.loads(proc.stdout)
    assert (doc["tags"], doc["replayed"]) == (5, 4)
    assert doc["current"]["matched"] == 2 and doc["current"]["rate"] == 0.5
    assert [(d["tag"], d["expected"], d["computed"]) for d in doc["current"]["disagreements"]] == [
        ("v1.0.1", "1.0.1", None),
        ("v1.1.1", "1.1.1", None),
    ]
    assert doc["current"]["disagreements"][0]["why"].startswith("no commit asks for a release")
    assert doc["proposal"]["rate"] == 1.0
    assert doc["proposal"]["changes"] == ["types.refactor: none -> patch"]
    assert doc["proposal"]["rules"]["types"]["refactor"] == "patch"
    assert doc["written"] is None


def test_human_output_and_write_then_a_second_run_agrees(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo.path / "relgate.yaml").write_text(
        "service: cli  # ours\nversioning:\n  changelog_file: CHANGES.md\n", encoding="utf-8"
    )
    proc = run_relgate("version", "--calibrate", "--write", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert "5 release tag(s), v1.0.0 to v1.1.1: replaying" in proc.stderr
    assert "Current rules: 2/4 releases (50%)" in proc.stdout
    assert "Proposed rules: 4/4 releases (100%)" in proc.stdout
    assert "types.refactor: none -> patch" in proc.stdout
    assert "wrote the proposed rules" in proc.stdout
    text = (repo.path / "relgate.yaml").read_text(encoding="utf-8")
    assert text.startswith("service: cli  # ours\nversioning:\n  changelog_file: CHANGES.md\n")
    assert "    refactor: patch\n" in text
    again = relgate_json("version", "--calibrate", cwd=repo.path)
    assert again["current"]["rate"] == 1.0 and again["proposal"]["changes"] == []


def test_no_release_tags_exits_2_with_a_hint(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: start")
    proc = run_relgate("version", "--calibrate", cwd=repo.path)
    assert proc.returncode == 2
    assert "no release tags matching versioning.tag_format 'v{version}'" in proc.stderr
    assert "git fetch --tags" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_write_without_calibrate_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    proc = run_relgate("version", "--write", cwd=repo.path)
    assert proc.returncode == 2
    assert "--write needs --calibrate" in proc.stderr


def test_the_base_tag_is_named_when_it_has_no_v(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: start")
    repo.tag("v8.0.0", message="v8.0.0")
    repo.commit("fix: a")
    repo.tag("8.0.1", message="8.0.1")
    repo.commit("fix: b")
    proc = run_relgate("version", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert "8.0.1 → v8.0.2" in proc.stdout
    assert "base: tag 8.0.1" in proc.stdout and "no 'v'" in proc.stdout
    doc = json.loads(run_relgate("version", "--json", cwd=repo.path).stdout)
    assert doc["base"]["tag"] == "8.0.1" and doc["base"]["unprefixed"] is True
