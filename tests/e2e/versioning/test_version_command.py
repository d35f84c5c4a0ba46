"""`relgate version` and `relgate changelog` run as CI runs them: a subprocess in a real repo."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import relgate_json, run_relgate
from tests.support.gitrepo import GitRepo


def make_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: start")
    repo.tag("v1.4.2", message="v1.4.2")
    return repo


def test_json_output_has_the_documented_shape(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    fix = repo.commit("fix(cart): empty carts\n\nBody text.\n\nRefs: #12")
    feat = repo.commit("feat(api)!: refunds\n\nBREAKING CHANGE: /v1 is gone")
    odd = repo.commit("Update things")
    doc = relgate_json("version", cwd=repo.path)
    assert {k: doc[k] for k in ("current", "current_tag", "next", "next_tag", "bump")} == {
        "current": "1.4.2",
        "current_tag": "v1.4.2",
        "next": "2.0.0",
        "next_tag": "v2.0.0",
        "bump": "major",
    }
    assert (doc["branch"], doc["channel"]) == ("main", None)
    by_sha = {c["sha"]: c for c in doc["commits"]}
    assert by_sha[fix] == {
        "sha": fix,
        "subject": "fix(cart): empty carts",
        "type": "fix",
        "scope": "cart",
        "breaking": False,
        "description": "empty carts",
        "body": "Body text.",
        "footers": [{"token": "Refs", "value": "#12"}],
        "conventional": True,
        "error": None,
        "from_squash": False,
        "breaking_notes": [],
    }
    assert by_sha[odd]["conventional"] is False
    assert by_sha[odd]["error"]
    assert doc["breaking_changes"] == [
        {
            "sha": feat,
            "scope": "api",
            "description": "refunds",
            "notes": ["/v1 is gone"],
            "conventional": True,
        }
    ]
    assert doc["non_conventional"] == [
        {"sha": odd, "subject": "Update things", "error": by_sha[odd]["error"]}
    ]


def test_human_summary_names_versions_and_warns_about_non_conventional(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    sha = repo.commit("feat: search")
    odd = repo.commit("wip")
    proc = run_relgate("version", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert "v1.4.2 → v1.5.0" in proc.stdout
    assert f"decided by {sha[:7]} feat: search" in proc.stdout
    assert f"warning: {odd[:7]} wip is not a Conventional Commit" in proc.stderr


def test_strict_exits_2_naming_sha_and_subject(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    odd = repo.commit("Fix the thing")
    repo.commit("fix: the other thing")
    proc = run_relgate("version", "--strict", cwd=repo.path)
    assert proc.returncode == 2
    assert f"{odd[:7]} 'Fix the thing'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_nothing_to_release_exits_0_with_next_null(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.commit("docs: readme")
    doc = relgate_json("version", cwd=repo.path)
    assert (doc["next"], doc["next_tag"], doc["nothing_to_release"]) == (None, None, True)
    proc = run_relgate("version", cwd=repo.path)
    assert proc.returncode == 0
    assert "Nothing to release" in proc.stdout


def test_shallow_clone_exits_2_with_the_fetch_depth_advice(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    for index in range(3):
        repo.commit(f"fix: {index}")
    clone = repo.clone(tmp_path / "ci", depth=1)
    proc = run_relgate("version", "--json", cwd=clone.path)
    assert proc.returncode == 2
    assert "shallow clone" in proc.stderr
    assert "fetch-depth: 0" in proc.stderr
    assert "GIT_DEPTH: 0" in proc.stderr
    assert proc.stdout == ""


def test_invalid_relgate_yaml_names_file_line_and_field(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo.path / "relgate.yaml").write_text(
        "service: payments\nversioning:\n  tag_format: 'release-{ver}'\n"
    )
    proc = run_relgate("version", cwd=repo.path)
    assert proc.returncode == 2
    assert "relgate.yaml:3: versioning.tag_format:" in proc.stderr
    assert "{version}" in proc.stderr


def test_explicit_config_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    proc = run_relgate("version", "--config", "nope.yaml", cwd=repo.path)
    assert proc.returncode == 2
    assert "nope.yaml: file not found" in proc.stderr


def test_not_a_git_repository_exits_2(tmp_path: Path) -> None:
    proc = run_relgate("version", "--repo", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{tmp_path} is not in a git repository" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_branch_option_and_ci_variables_choose_the_channel(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.commit("feat: search")
    repo.detach()
    assert relgate_json("version", "--branch", "next", cwd=repo.path)["next"] == "1.5.0-rc.1"
    doc = relgate_json("version", cwd=repo.path, env={"GITHUB_REF_NAME": "beta"})
    assert (doc["branch"], doc["next"]) == ("beta", "1.5.0-beta.1")
    doc = relgate_json("version", cwd=repo.path, env={"CI_COMMIT_REF_NAME": "next"})
    assert doc["channel"] == "rc"


def test_maintenance_line_breaking_commit_exits_2_naming_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.checkout("1.x", create=True)
    sha = repo.commit("fix!: change defaults")
    proc = run_relgate("version", cwd=repo.path)
    assert proc.returncode == 2
    assert sha[:7] in proc.stderr
    assert "1.x" in proc.stderr


def test_changelog_groups_changes_by_section(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.commit("fix(cart): empty carts")
    repo.commit("feat: search")
    repo.commit("docs: readme")
    proc = run_relgate("changelog", "--date", "2025-03-01", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith("## 1.5.0 - 2025-03-01\n")
    assert text.index("### Features") < text.index("- search") < text.index("### Bug fixes")
    assert "- **cart:** empty carts" in text
    assert "readme" not in text


def test_changelog_write_prepends_a_dated_section(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo.path / "CHANGELOG.md").write_text("# Changelog\n\n## 1.4.2 - 2025-01-01\n\n- old\n")
    repo.commit("feat: search")
    proc = run_relgate("changelog", "--write", "--date", "2025-03-01", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    text = (repo.path / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n\n## 1.5.0 - 2025-03-01\n\n### Features\n")
    assert text.endswith("## 1.4.2 - 2025-01-01\n\n- old\n")
    again = run_relgate("changelog", "--write", "--date", "2025-03-01", cwd=repo.path)
    assert again.returncode == 1
    assert "already has a section for 1.5.0" in again.stderr


def test_changelog_rejects_a_malformed_date(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.commit("feat: search")
    proc = run_relgate("changelog", "--date", "01/03/2025", cwd=repo.path)
    assert proc.returncode == 2
    assert "--date '01/03/2025' is not a date in the form YYYY-MM-DD" in proc.stderr


def write_service(repo: GitRepo, *, remote: str = "origin") -> None:
    repo.commit(
        "chore: version files",
        {
            "relgate.yaml": (
                "service: payments\nversioning:\n  remote: " + remote + "\n"
                "  version_files: [pyproject.toml, web/package.json, chart/Chart.yaml]\n"
            ),
            "pyproject.toml": '[project]\nname = "payments"\nversion = "1.4.2"\n',
            "web/package.json": '{\n  "name": "web",\n  "version": "1.4.2"\n}\n',
            "chart/Chart.yaml": 'apiVersion: v2\nversion: 1.4.2\nappVersion: "1.4.2"\n',
        },
    )


def test_tag_writes_version_files_commits_and_creates_an_annotated_tag(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    write_service(repo)
    repo.commit("feat: search")
    doc = relgate_json("version", "--tag", cwd=repo.path)
    assert doc["tag"]["name"] == "v1.5.0"
    assert doc["tag"]["files"] == ["pyproject.toml", "web/package.json", "chart/Chart.yaml"]
    assert repo.git("log", "-1", "--format=%s") == "chore(release): v1.5.0"
    assert repo.git("rev-parse", "v1.5.0^{commit}") == repo.head() == doc["tag"]["commit"]
    assert repo.git("cat-file", "-t", "v1.5.0") == "tag"
    message = repo.git("tag", "-l", "--format=%(contents)", "v1.5.0")
    assert message.startswith("## 1.5.0")
    assert "- search" in message
    assert 'version = "1.5.0"' in (repo.path / "pyproject.toml").read_text()
    assert '"version": "1.5.0"' in (repo.path / "web/package.json").read_text()
    assert 'appVersion: "1.5.0"' in (repo.path / "chart/Chart.yaml").read_text()
    assert repo.git("status", "--porcelain") == ""
    # the release commit is released: the next run has nothing to do
    assert relgate_json("version", cwd=repo.path)["nothing_to_release"] is True


def test_tag_refuses_uncommitted_changes_to_version_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    write_service(repo)
    repo.commit("feat: search")
    (repo.path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "7.0.0"\n')
    proc = run_relgate("version", "--tag", cwd=repo.path)
    assert proc.returncode == 1
    assert "uncommitted changes to pyproject.toml" in proc.stderr
    assert repo.git("tag", "-l", "v1.5.0") == ""


def test_push_sends_the_tag_and_release_commit_to_the_remote(tmp_path: Path) -> None:
    remote = GitRepo.init(tmp_path / "remote.git", bare=True)
    repo = make_repo(tmp_path)
    write_service(repo, remote="upstream")
    repo.git("remote", "add", "upstream", str(remote.path))
    repo.git("push", "--quiet", "upstream", "main", "v1.4.2")
    repo.commit("fix: rounding")
    proc = run_relgate("version", "--tag", "--push", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert "tagged v1.4.3" in proc.stdout
    assert "pushed to upstream" in proc.stdout
    assert remote.git("rev-parse", "v1.4.3^{commit}") == repo.head()
    assert remote.git("rev-parse", "main") == repo.head()


def test_push_without_tag_is_bad_input(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    proc = run_relgate("version", "--push", cwd=repo.path)
    assert proc.returncode == 2
    assert "--push needs --tag" in proc.stderr


def test_help_explains_the_options(tmp_path: Path) -> None:
    proc = run_relgate("version", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    for option in ("--json", "--strict", "--tag", "--push", "--branch", "--repo", "--config"):
        assert option in proc.stdout
    assert json.loads(json.dumps(proc.stdout))


def test_tag_after_changelog_write_commits_the_changelog_too(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    write_service(repo)
    repo.commit("feat: search")
    assert run_relgate("changelog", "--write", cwd=repo.path).returncode == 0
    doc = relgate_json("version", "--tag", cwd=repo.path)
    assert "CHANGELOG.md" in doc["tag"]["files"]
    assert repo.git("status", "--porcelain") == ""
    assert repo.git("show", "v1.5.0:CHANGELOG.md").startswith("# Changelog\n\n## 1.5.0 - ")


def test_tag_that_exists_elsewhere_is_a_conflict(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.checkout("other", create=True)
    repo.commit("feat: elsewhere")
    repo.tag("v1.5.0", message="v1.5.0")
    repo.checkout("main")
    repo.commit("feat: search")
    proc = run_relgate("version", "--tag", cwd=repo.path)
    assert proc.returncode == 1
    assert "tag v1.5.0 already exists" in proc.stderr


def test_tag_from_a_feature_branch_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.checkout("feature/search", create=True)
    repo.commit("feat: search")
    proc = run_relgate("version", "--tag", cwd=repo.path)
    assert proc.returncode == 2
    assert "branch 'feature/search' is not a release branch" in proc.stderr
    assert repo.git("tag", "-l", "v1.5.0") == ""
