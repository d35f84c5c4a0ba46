"""A 'billion laughs' relgate.yaml is refused fast by the CLI and by the server."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.control.conftest import RelgateServer, run_cli
from tests.support.cli import run_relgate
from tests.support.gitrepo import GitRepo
from tests.unit.manifest.test_yaml_limits import billion_laughs

REFUSAL = "more than 100000 values once YAML aliases are expanded"


def test_relgate_apply_refuses_an_alias_bomb_naming_the_file_and_line(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    (tmp_path / "relgate.yaml").write_text(billion_laughs())
    proc = run_cli("apply", url=relgate_server[0], token=relgate_server[1], cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"relgate.yaml:6: {REFUSAL}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_server_refuses_an_alias_bomb_sent_as_a_pipeline(
    relgate_server: RelgateServer,
) -> None:
    url, admin, _ = relgate_server
    response = httpx.post(
        f"{url}/api/v1/pipelines",
        headers={"Authorization": f"Bearer {admin}"},
        json={"source": billion_laughs(), "file": "bomb/relgate.yaml"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert REFUSAL in response.json()["error"]["message"]
    # the server still answers
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200


def test_relgate_version_refuses_an_alias_bomb_in_the_repository(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: start")
    (repo.path / "relgate.yaml").write_text(billion_laughs())
    proc = run_relgate("version", cwd=repo.path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"relgate.yaml:6: {REFUSAL}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_relgate_apply_words_a_nested_error_as_a_top_level_one(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    (tmp_path / "relgate.yaml").write_text(
        "service: pay\nenvironments:\n  - name: dev\n    protected: false\n    notify: x\n"
    )
    proc = run_cli("apply", url=relgate_server[0], token=relgate_server[1], cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "relgate.yaml:5: environments[0].notify: unknown key (a typo?)" in proc.stderr
    assert "Extra inputs" not in proc.stderr
    assert "Traceback" not in proc.stderr
