"""calibrate: replay a real repository's release tags and fit the rules to them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from relgate.errors import BadInput
from relgate.manifest.model import Manifest, load_manifest
from relgate.versioning.bump import BumpKind
from relgate.versioning.calibrate import Calibration, calibrate, default_rules
from relgate.versioning.calibrate_write import write_rules
from tests.support.gitrepo import GitRepo


def manifest(versioning: dict[str, Any] | None = None) -> Manifest:
    return msgspec.convert({"service": "cli", "versioning": versioning or {}}, Manifest)


def run(repo: GitRepo, versioning: dict[str, Any] | None = None) -> Calibration:
    return calibrate(repo.path, manifest(versioning))


def history(repo: GitRepo, releases: list[tuple[list[str], str]]) -> None:
    """Commit each release's messages, then tag it (annotated, as release tools do)."""
    repo.commit("feat: initial import")
    repo.tag("v1.0.0", message="v1.0.0")
    for messages, tag in releases:
        repo.commits(messages)
        repo.tag(tag, message=tag)


def test_the_current_rules_are_scored_and_each_disagreement_explained(repo: GitRepo) -> None:
    history(
        repo,
        [
            (["fix: a"], "v1.0.1"),
            (["refactor: split the parser"], "v1.0.2"),
            (["feat: b", "docs: b"], "v1.1.0"),
            (["refactor(cli): options", "chore: tidy"], "v1.1.1"),
        ],
    )
    result = run(repo)
    assert result.tags == 5
    assert result.skipped == (("v1.0.0", "first release: no earlier release tag in its history"),)
    assert (result.current.matched, len(result.current.replays)) == (2, 4)
    wrong = {r.tag: r for r in result.current.disagreements}
    assert set(wrong) == {"v1.0.2", "v1.1.1"}
    assert wrong["v1.0.2"].computed is None
    assert wrong["v1.0.2"].base_tag == "v1.0.1"
    assert "refactor" in wrong["v1.0.2"].why and "patch release" in wrong["v1.0.2"].why


def test_the_proposal_maps_refactor_to_patch_and_matches_everything(repo: GitRepo) -> None:
    history(
        repo,
        [
            (["refactor: split the parser"], "v1.0.1"),
            (["docs: typo"], "v1.0.2"),
            (["feat: b", "docs: b"], "v1.1.0"),
            (["refactor(cli): options"], "v1.1.1"),
        ],
    )
    result = run(repo)
    assert result.current.matched == 1
    proposal = result.proposal
    assert proposal.matched == 4 and proposal.rate == 1.0
    assert proposal.rules.types["refactor"] is BumpKind.PATCH
    assert proposal.rules.types["docs"] is BumpKind.PATCH
    # the specification's types keep their bumps; nothing else is invented
    assert proposal.rules.types["feat"] is BumpKind.MINOR
    assert "chore" not in proposal.rules.types
    assert proposal.rules.squash == default_rules().squash


def test_a_history_the_defaults_reproduce_proposes_the_defaults(repo: GitRepo) -> None:
    history(repo, [(["fix: a", "chore: b"], "v1.0.1"), (["feat: c", "test: c"], "v1.1.0")])
    result = run(repo)
    assert result.current.rate == 1.0
    assert result.proposal.rules.as_config() == default_rules().as_config()


def test_a_project_that_releases_squash_bullets_gets_bullets_always(repo: GitRepo) -> None:
    history(
        repo,
        [
            (["Parser work (#5)\n\n* fix: a\n"], "v1.0.1"),
            (["fix(api): ids (#8)\n\n* feat: ids are generated\n\n* fix: test\n"], "v1.1.0"),
            (["fix(ui): colors (#9)\n\n* feat: themes\n"], "v1.2.0"),
        ],
    )
    result = run(repo)
    assert result.current.matched == 1
    assert result.proposal.matched == 3
    assert result.proposal.rules.squash.bullets == "always"


def test_a_breaking_disagreement_names_the_commit_and_its_note(repo: GitRepo) -> None:
    history(
        repo,
        [(["fix(api): ids (#90)\n\n* feat(api)!: ids are required\n\n* fix: x\n"], "v1.0.1")],
    )
    [wrong] = run(repo).current.disagreements
    assert (str(wrong.computed), str(wrong.expected)) == ("2.0.0", "1.0.1")
    assert "'fix(api): ids (#90)' (breaking: ids are required) gives 2.0.0" in wrong.why
    assert wrong.why.endswith("the project made a patch release")


def test_a_maintenance_release_is_replayed_from_its_own_line(repo: GitRepo) -> None:
    repo.commit("feat: start")
    repo.tag("v1.2.0", message="v1.2.0")
    repo.checkout("1.x", create=True)
    repo.commit("fix: backport")
    repo.tag("v1.2.1", message="v1.2.1")
    repo.checkout("main")
    repo.commit("feat!: new api")
    repo.tag("v2.0.0", message="v2.0.0")
    result = run(repo)
    by_tag = {r.tag: r for r in result.current.replays}
    assert by_tag["v1.2.1"].base_tag == "v1.2.0"
    assert by_tag["v2.0.0"].base_tag == "v1.2.0"
    assert result.current.rate == 1.0


def test_no_release_tag_is_refused_with_a_hint(repo: GitRepo) -> None:
    repo.commit("feat: start")
    repo.tag("release-1", message="not semver")
    with pytest.raises(BadInput, match=r"no release tags matching .*git fetch --tags"):
        run(repo)


def test_a_single_release_cannot_be_replayed(repo: GitRepo) -> None:
    repo.commit("feat: start")
    repo.tag("v1.0.0", message="v1.0.0")
    repo.commit("fix: a")
    with pytest.raises(BadInput, match="at least two releases"):
        run(repo)


def test_write_edits_only_the_versioning_section(repo: GitRepo, tmp_path: Path) -> None:
    history(repo, [(["refactor: a"], "v1.0.1"), (["feat: b"], "v1.1.0")])
    config = tmp_path / "relgate.yaml"
    original_head = (
        "# relgate configuration of the cli\n"
        "service: cli   # the name in the control plane\n"
        "environments:\n"
        "    - name: dev\n"
        "versioning:\n"
        "    tag_format: 'v{version}'   # as the project tags\n"
        "    types:\n"
        "        feat: minor   # features\n"
        "        fix: patch\n"
        "        perf: patch\n"
        "        revert: patch\n"
    )
    tail = "repository_url: https://github.com/acme/cli\n"
    config.write_text(original_head + tail, encoding="utf-8")
    result = run(repo)
    assert write_rules(config, result.proposal.rules)
    text = config.read_text(encoding="utf-8")
    assert text.startswith(
        "# relgate configuration of the cli\n"
        "service: cli   # the name in the control plane\n"
        "environments:\n"
        "    - name: dev\n"
        "versioning:\n"
        "    tag_format: 'v{version}'   # as the project tags\n"
        "    types:\n"
        "        feat: minor   # features\n"
    )
    assert "        refactor: patch\n" in text
    assert text.endswith(tail)
    # squash and dependency_updates keep their defaults, so they are not written
    assert "squash" not in text and "dependency_updates" not in text
    loaded = load_manifest(config, required=True)
    assert loaded.versioning.types["refactor"] == "patch"
    assert not write_rules(config, result.proposal.rules)


def test_write_creates_the_section_when_missing(repo: GitRepo, tmp_path: Path) -> None:
    history(
        repo,
        [
            (["Parser work (#5)\n\n* fix: a\n"], "v1.0.1"),
            (["fix: x (#8)\n\n* feat: y\n"], "v1.1.0"),
        ],
    )
    config = tmp_path / "relgate.yaml"
    config.write_text("service: cli\n", encoding="utf-8")
    write_rules(config, run(repo).proposal.rules)
    loaded = load_manifest(config, required=True)
    assert loaded.service == "cli"
    assert loaded.versioning.squash.bullets == "always"


def test_write_refuses_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    config = tmp_path / "relgate.yaml"
    config.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(BadInput, match="must hold a mapping"):
        write_rules(config, default_rules())


def test_a_custom_type_of_relgate_yaml_is_kept_in_the_proposal(repo: GitRepo) -> None:
    history(
        repo,
        [(["security: pin tls"], "v1.0.1"), (["refactor: a"], "v1.0.2"), (["feat: b"], "v1.1.0")],
    )
    result = run(repo, {"types": {"feat": "minor", "fix": "patch", "security": "patch"}})
    assert result.current.matched == 2
    assert result.proposal.matched == 3
    assert result.proposal.rules.types["security"] is BumpKind.PATCH
    assert result.proposal.rules.types["refactor"] is BumpKind.PATCH
    # perf and revert never occur: they keep the current rules' value (absent: none)
    assert "perf" not in result.proposal.rules.types


def test_a_monorepo_path_replays_only_the_commits_touching_it(repo: GitRepo) -> None:
    repo.commit("feat: start", {"api/a.txt": "1", "web/a.txt": "1"})
    repo.tag("api@1.0.0", message="api@1.0.0")
    repo.commit("feat(web): big", {"web/a.txt": "2"})
    repo.commit("fix(api): small", {"api/a.txt": "2"})
    repo.tag("api@1.0.1", message="api@1.0.1")
    result = calibrate(
        repo.path,
        msgspec.convert(
            {"service": "api", "versioning": {"tag_format": "{name}@{version}", "path": "api"}},
            Manifest,
        ),
    )
    [replay] = result.current.replays
    assert (replay.tag, replay.base_tag, replay.commits, replay.matched) == (
        "api@1.0.1",
        "api@1.0.0",
        1,
        True,
    )


def test_a_shallow_clone_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    history(repo, [(["fix: a"], "v1.0.1"), (["fix: b"], "v1.0.2")])
    shallow = repo.clone(tmp_path / "shallow", depth=1)
    with pytest.raises(BadInput, match="shallow clone"):
        calibrate(shallow.path, manifest())


def test_only_the_newest_release_tags_are_replayed(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import relgate.versioning.calibrate as module

    monkeypatch.setattr(module, "MAX_REPLAYED", 2)
    history(repo, [(["fix: a"], "v1.0.1"), (["fix: b"], "v1.0.2"), (["feat: c"], "v1.1.0")])
    result = run(repo)
    assert [r.tag for r in result.current.replays] == ["v1.0.2", "v1.1.0"]
    assert result.current.replays[0].base_tag == "v1.0.1"
    assert result.skipped == (
        ("v1.0.0 … v1.0.1", "2 older release tags not replayed: at most 2 are"),
    )
