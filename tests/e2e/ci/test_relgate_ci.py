"""The GitHub Action and the GitLab CI template, run as their CI systems run them.

The action's steps (action.yml) are run with bash as a runner does: `${{ … }}`
expressions resolved in their `env:` (the only place action.yml may use one),
GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and GITHUB_PATH as files. The template's
`script:` lines are run in one bash with the variables its job would have. The
inputs are those of the README's examples (examples/ci/), against a real
`relgate serve` and a real git repository with Conventional Commits.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.gitrepo import GitRepo
from tests.support.server import ServerProcess, start_server

ROOT = Path(__file__).resolve().parents[3]
ACTION = ROOT / "action.yml"
TEMPLATE = ROOT / "ci" / "gitlab" / "relgate.gitlab-ci.yml"
GITHUB_EXAMPLE = ROOT / "examples" / "ci" / "github-workflow.yml"
GITLAB_EXAMPLE = ROOT / "examples" / "ci" / "gitlab-ci.yml"
EXAMPLES = ROOT / "examples" / "payments-service" / "reports"
STEP_TIMEOUT_SECONDS = 180
INSTALL_TIMEOUT_SECONDS = 600
DIGEST = "sha256:" + "7" * 64

PIPELINE = """\
service: {service}
environments:
  - name: staging
    gates:
      - type: tests_passed
      - type: coverage
        min: 80
    deployer: {{type: command, command: 'echo "deploying $RELGATE_VERSION to staging"'}}
  - name: production
    gates:
      - type: verified_in
      - type: smoke_tests
      - type: approval
    deployer: {{ref: {service}-production}}
"""

JUNIT_FAILED = """\
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="unit" tests="2" failures="1" errors="0" skipped="0">
  <testcase classname="shop" name="test_a"/>
  <testcase classname="shop" name="test_b"><failure message="boom">boom</failure></testcase>
</testsuite>
"""


@dataclass
class Server:
    url: str
    admin: str
    ci: str
    approver: str

    def api(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        response = httpx.request(
            method,
            self.url + path,
            headers={"Authorization": f"Bearer {token or self.admin}"},
            timeout=30,
            **kw,
        )
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def service(self, name: str) -> None:
        """Register the production deployer of ``name`` and apply its pipeline (as ci)."""
        self.api("POST", "/api/v1/deployers", json={"name": f"{name}-production",
                                                    "command": "echo deployed"})  # fmt: skip
        source = PIPELINE.format(service=name)
        self.api("POST", "/api/v1/pipelines", token=self.ci, json={"source": source})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("relgate-ci-server")
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELGATE_")}
    process: ServerProcess = start_server(workdir, env=env, timeout=60)
    try:
        admin = process.admin_token()
        assert admin, process.stderr()
        made = Server(process.url, admin, "", "")
        for name, role in (("ci", "ci"), ("alice", "approver")):
            token = made.api("POST", "/api/v1/tokens", json={"name": name, "role": role})["token"]
            setattr(made, "approver" if name == "alice" else "ci", token)
        yield made
    finally:
        process.stop()


def _repository(path: Path, reports: Mapping[str, Path] | None = None) -> GitRepo:
    """A service repository: v1.0.0 tagged, then a fix and a feature (next: 1.1.0)."""
    repo = GitRepo.init(path)
    repo.commit("feat: checkout")
    repo.tag("v1.0.0", message="v1.0.0")
    repo.commit("fix: round the totals")
    repo.commit("feat(cart): coupons")
    repo.detach()  # as CI systems check out
    target = path / "reports"
    target.mkdir()
    for name, source in (reports or {}).items():
        shutil.copy(source, target / name)
    return repo


def _reports() -> dict[str, Path]:
    return {
        "junit.xml": EXAMPLES / "junit.xml",
        "coverage.json": EXAMPLES / "coverage.json",
        "smoke.xml": EXAMPLES / "smoke.xml",
    }


def _environment(**extra: str) -> dict[str, str]:
    """The job's environment: this test's, less RELGATE_*, with the test's relgate on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELGATE_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # the annotated release tag needs an identity; CI systems set one too
    env.update(GIT_COMMITTER_NAME="ci", GIT_COMMITTER_EMAIL="ci@example.com",
               GIT_AUTHOR_NAME="ci", GIT_AUTHOR_EMAIL="ci@example.com")  # fmt: skip
    env.update(extra)
    return env


# ---------------------------------------------------------------------------- GitHub Actions

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _resolve(text: str, context: Mapping[str, str]) -> str:
    """Replace each `${{ name }}` by its value in ``context``; an unknown one fails the test."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in context, f"expression {name!r} has no value in this test"
        return context[name]

    return EXPRESSION.sub(value, text)


@dataclass
class ActionRun:
    returncode: int
    log: str
    outputs: dict[str, str]
    summary: str


def run_action(
    with_: Mapping[str, str], *, cwd: Path, tmp: Path, action_path: Path = ROOT
) -> ActionRun:
    """Run action.yml's steps with these inputs as a GitHub runner does; return what it gave."""
    action = yaml.safe_load(ACTION.read_text())
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    assert set(with_) <= set(inputs), f"inputs the action does not have: {set(with_) - set(inputs)}"
    inputs.update(with_)
    for name, spec in action["inputs"].items():
        assert not spec.get("required") or inputs[name], f"required input {name} not given"
    tmp.mkdir(parents=True, exist_ok=True)
    files = {name: tmp / name for name in ("output", "summary", "path")}
    for file in files.values():
        file.write_text("")
    env = _environment(
        GITHUB_ACTIONS="true",
        GITHUB_OUTPUT=str(files["output"]),
        GITHUB_STEP_SUMMARY=str(files["summary"]),
        GITHUB_PATH=str(files["path"]),
        GITHUB_ACTION_PATH=str(action_path),
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_REPOSITORY="acme/payments-service",
        GITHUB_RUN_ID="4242",
        GITHUB_REF_NAME="main",
        RUNNER_TEMP=str(tmp),
    )
    context = {f"inputs.{name}": value for name, value in inputs.items()}
    log, returncode = [], 0
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "an expression inside run: is an injection point"
        step_env = dict(env)
        step_env.update({k: _resolve(str(v), context) for k, v in step.get("env", {}).items()})
        added = [line for line in files["path"].read_text().splitlines() if line]
        step_env["PATH"] = os.pathsep.join([*reversed(added), env["PATH"]])
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=cwd, env=step_env, capture_output=True, text=True,
            timeout=INSTALL_TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
        log.append(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            returncode = proc.returncode
            break
    step_outputs = dict(
        line.split("=", 1) for line in files["output"].read_text().splitlines() if line
    )
    context.update({f"steps.relgate.outputs.{k}": v for k, v in step_outputs.items()})
    outputs = {
        name: _resolve(spec["value"], {**{k: "" for k in _step_output_names(action)}, **context})
        for name, spec in action["outputs"].items()
    }
    return ActionRun(returncode, "".join(log), outputs, files["summary"].read_text())


def _step_output_names(action: dict[str, Any]) -> list[str]:
    return [EXPRESSION.search(spec["value"]).group(1) for spec in action["outputs"].values()]  # type: ignore[union-attr]


def _example_step(job: str, server: Server, service: str, **outputs: str) -> dict[str, str]:
    """The `with:` of the example workflow's relgate step in ``job``, its expressions resolved."""
    workflow = yaml.safe_load(GITHUB_EXAMPLE.read_text())
    steps = [s for s in workflow["jobs"][job]["steps"] if "acme/relgate@" in s.get("uses", "")]
    assert len(steps) == 1
    context = {
        "vars.RELGATE_URL": server.url,
        "secrets.RELGATE_TOKEN": server.ci,
        "needs.build.outputs.digest": DIGEST,
        **outputs,
    }
    with_ = {k: _resolve(str(v), context) for k, v in steps[0]["with"].items()}
    with_["service"] = service  # the server is shared by this module's tests
    with_["relgate-spec"] = "none"  # no pip install: the relgate under test is on PATH
    return with_


def _approve_when_waiting(server: Server, service: str) -> threading.Thread:
    """Approve the production deployment of ``service`` as alice once it waits (a thread)."""

    def approve() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            history = server.api("GET", f"/api/v1/services/{service}/history")
            waiting = [d for d in history if d["state"] == "waiting_for_approval"]
            if waiting:
                body = {
                    "service": service,
                    "version": waiting[0]["version"],
                    "environment": "production",
                    "decision": "approve",
                }
                server.api("POST", "/api/v1/approvals", token=server.approver, json=body)
                return
            time.sleep(0.1)

    thread = threading.Thread(target=approve, daemon=True)
    thread.start()
    return thread


def test_the_example_workflow_releases_to_staging_then_production_through_the_action(
    server: Server, tmp_path: Path
) -> None:
    service = "gh-payments"
    server.service(service)
    repo = _repository(tmp_path / "repo", _reports())

    staging = run_action(
        _example_step("staging", server, service), cwd=repo.path, tmp=tmp_path / "staging"
    )

    assert staging.returncode == 0, staging.log
    assert staging.outputs["version"] == "1.1.0"
    assert staging.outputs["tag"] == "v1.1.0"
    assert staging.outputs["released"] == "true"
    assert staging.outputs["release-url"] == f"{server.url}/releases/{service}/1.1.0"
    assert staging.outputs["gates-passed"] == "true"
    assert staging.outputs["deployment-state"] == "succeeded"
    assert f"## relgate: [{service}@1.1.0]({server.url}/releases/{service}/1.1.0)" in (
        staging.summary
    )
    assert f"### relgate gates: {service}@1.1.0 → staging" in staging.summary
    assert "| tests\\_passed | ✅ pass |" in staging.summary
    assert "| coverage | ✅ pass |" in staging.summary
    assert f"**{service}@1.1.0 may enter staging: every gate passes**" in staging.summary
    assert f"deployment {staging.outputs['deployment-id']} of {service}@1.1.0 to staging: " \
        "succeeded" in staging.summary  # fmt: skip
    release = server.api("GET", f"/api/v1/releases/{service}/1.1.0")
    assert release["commit"] == repo.head()
    assert release["artifact"] == f"ghcr.io/acme/payments-service@{DIGEST}"
    assert release["author"] == "Ada Lovelace"
    evidence = server.api("GET", f"/api/v1/releases/{service}/1.1.0/evidence")
    assert sorted(e["kind"] for e in evidence) == ["coverage", "tests"]
    deployment = server.api("GET", f"/api/v1/deployments/{staging.outputs['deployment-id']}")
    assert deployment["reason"] == "https://github.com/acme/payments-service/actions/runs/4242"

    approver = _approve_when_waiting(server, service)
    production = run_action(
        _example_step("production", server, service, **{"needs.staging.outputs.version": "1.1.0"}),
        cwd=repo.path,
        tmp=tmp_path / "production",
    )
    approver.join(timeout=60)

    assert production.returncode == 0, production.log
    assert production.outputs["version"] == "1.1.0"
    assert production.outputs["deployment-state"] == "succeeded"
    # the gates were read before the promotion: only the approval was missing then
    assert "| approval | ⚠️ missing |" in production.summary
    assert "| smoke\\_tests | ✅ pass |" in production.summary
    assert f"**{service}@1.1.0 waits only for an approval to enter production**" in (
        production.summary
    )
    smoke = [e for e in server.api("GET", f"/api/v1/releases/{service}/1.1.0/evidence")
             if e["kind"] == "smoke"]  # fmt: skip
    assert [e["environment"] for e in smoke] == ["staging"]


def test_the_token_is_masked_and_printed_nowhere_else(server: Server, tmp_path: Path) -> None:
    service = "gh-masked"
    server.service(service)
    repo = _repository(tmp_path / "repo", _reports())

    run = run_action(_example_step("staging", server, service), cwd=repo.path, tmp=tmp_path / "run")

    assert run.returncode == 0, run.log
    assert run.log.count(server.ci) == 1
    assert f"::add-mask::{server.ci}\n" in run.log
    assert server.ci not in run.summary


def test_a_failing_gate_fails_the_step_with_the_table_in_the_summary(
    server: Server, tmp_path: Path
) -> None:
    service = "gh-failing"
    server.service(service)
    repo = _repository(tmp_path / "repo", _reports())
    (repo.path / "reports" / "junit.xml").write_text(JUNIT_FAILED)

    run = run_action(_example_step("staging", server, service), cwd=repo.path, tmp=tmp_path / "run")

    assert run.returncode == 1, run.log
    assert run.outputs["version"] == "1.1.0"
    assert run.outputs["gates-passed"] == "false"
    assert run.outputs["deployment-id"] == ""
    assert "| tests\\_passed | ❌ fail |" in run.summary
    assert f"**{service}@1.1.0 cannot enter staging now**" in run.summary
    assert f"**promotion to staging: {service}@1.1.0 cannot enter staging: tests\\_passed" in (
        run.summary
    )
    assert server.api("GET", f"/api/v1/services/{service}/history") == []


def test_a_shallow_clone_fails_the_step_saying_fetch_depth_0(
    server: Server, tmp_path: Path
) -> None:
    service = "gh-shallow"
    server.service(service)
    origin = _repository(tmp_path / "origin")
    clone = origin.clone(tmp_path / "clone", depth=1)

    run = run_action(
        {"server-url": server.url, "token": server.ci, "service": service,
         "artifact": f"registry.example.com/x@{DIGEST}", "relgate-spec": "none"},
        cwd=clone.path, tmp=tmp_path / "run",
    )  # fmt: skip

    assert run.returncode == 2
    assert "shallow clone" in run.log
    assert "fetch-depth: 0" in run.log
    assert run.outputs["released"] == ""
    assert server.api("GET", f"/api/v1/services/{service}/releases") == []


def test_a_bad_evidence_line_is_named_before_anything_is_created(
    server: Server, tmp_path: Path
) -> None:
    service = "gh-badline"
    server.service(service)
    repo = _repository(tmp_path / "repo", _reports())
    with_ = _example_step("staging", server, service)
    with_["evidence"] = "tests=reports/junit.xml\n\n# comment\ncoverage reports/coverage.json\n"

    run = run_action(with_, cwd=repo.path, tmp=tmp_path / "run")
    with_["evidence"] = "test=reports/junit.xml"
    unknown_kind = run_action(with_, cwd=repo.path, tmp=tmp_path / "kind")
    with_["evidence"] = "tests=reports/gone.xml"
    missing_file = run_action(with_, cwd=repo.path, tmp=tmp_path / "file")

    assert run.returncode == 2
    assert "evidence line 4: 'coverage reports/coverage.json' is not KIND=FILE" in run.log
    assert unknown_kind.returncode == 2
    assert "evidence line 1: 'test' is not a kind of evidence (one of: tests coverage" in (
        unknown_kind.log
    )
    assert missing_file.returncode == 2
    assert "evidence line 1: reports/gone.xml: file not found" in missing_file.log
    assert server.api("GET", f"/api/v1/services/{service}/releases") == []


def test_tagging_pushes_the_tag_and_a_later_job_takes_the_tagged_version(
    server: Server, tmp_path: Path
) -> None:
    service = "gh-tagged"
    server.service(service)
    origin = GitRepo.init(tmp_path / "origin.git", bare=True)
    repo = _repository(tmp_path / "repo", _reports())
    repo.git("remote", "add", "origin", origin.path.as_uri())
    with_ = _example_step("staging", server, service)
    with_.update(tag="true", environment="")

    first = run_action(with_, cwd=repo.path, tmp=tmp_path / "first")
    later = run_action(with_, cwd=repo.path, tmp=tmp_path / "later")

    assert first.returncode == 0, first.log
    assert first.outputs["version"] == "1.1.0"
    assert "v1.1.0" in origin.git("tag", "--list").split()
    assert later.returncode == 0, later.log
    assert later.outputs["version"] == "1.1.0"
    assert later.outputs["tag"] == "v1.1.0"
    assert "HEAD is tagged v1.1.0" in later.log
    assert [r["version"] for r in server.api("GET", f"/api/v1/services/{service}/releases")] == [
        "1.1.0"
    ]


def test_nothing_to_release_ends_the_step_without_a_release(server: Server, tmp_path: Path) -> None:
    service = "gh-nothing"
    server.service(service)
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit("feat: checkout")
    repo.tag("v1.0.0", message="v1.0.0")
    repo.commit("docs: typo")

    run = run_action(
        {"server-url": server.url, "token": server.ci, "service": service,
         "artifact": f"registry.example.com/x@{DIGEST}", "relgate-spec": "none"},
        cwd=repo.path, tmp=tmp_path / "run",
    )  # fmt: skip

    assert run.returncode == 0, run.log
    assert run.outputs["released"] == "false"
    assert run.outputs["version"] == ""
    assert "Nothing to release: no commit since v1.0.0 asks for a new version" in run.summary
    assert server.api("GET", f"/api/v1/services/{service}/releases") == []


# ---------------------------------------------------------------------------- GitLab CI


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Expand $NAME and ${NAME} as the runner expands job variables."""
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def run_gitlab_job(job: str, server: Server, service: str, *, cwd: Path) -> tuple[int, str]:
    """Run the example's ``job`` (extends .relgate) with the template's script; (exit, log)."""
    template = yaml.safe_load(TEMPLATE.read_text())[".relgate"]
    example = yaml.safe_load(GITLAB_EXAMPLE.read_text())
    assert example["include"][0]["remote"].endswith("/ci/gitlab/relgate.gitlab-ci.yml")
    assert example[job]["extends"] == ".relgate"
    predefined = {
        "CI_REGISTRY_IMAGE": "registry.gitlab.example.com/acme/payments-service",
        "IMAGE_DIGEST": DIGEST,  # the build job's dotenv report
        "CI_PIPELINE_URL": "https://gitlab.example.com/acme/payments-service/-/pipelines/7",
        "CI_COMMIT_SHA": "0" * 40,
        "CI_COMMIT_BRANCH": "main",
        "RELGATE_URL": server.url,  # project CI/CD variables
        "RELGATE_TOKEN": server.ci,
    }
    variables = {**example["variables"], **template["variables"], **example[job]["variables"]}
    variables["RELGATE_CI_SERVICE"] = service
    variables["RELGATE_PIP_SPEC"] = ""  # no pip install: the relgate under test is on PATH
    env = _environment(**predefined)
    env.update({k: _expand(str(v), predefined) for k, v in variables.items()})
    script = "\n".join(template["script"])
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd, env=env, capture_output=True, text=True,
        timeout=STEP_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def test_the_gitlab_template_runs_the_example_staging_job(server: Server, tmp_path: Path) -> None:
    service = "gl-payments"
    server.service(service)
    repo = _repository(tmp_path / "repo", _reports())

    returncode, log = run_gitlab_job("staging", server, service, cwd=repo.path)

    assert returncode == 0, log
    dotenv = dict(
        line.split("=", 1) for line in (repo.path / "relgate.env").read_text().splitlines()
    )
    assert dotenv["RELGATE_RELEASE_VERSION"] == "1.1.0"
    assert dotenv["RELGATE_RELEASE_URL"] == f"{server.url}/releases/{service}/1.1.0"
    assert dotenv["RELGATE_GATES_PASSED"] == "true"
    assert dotenv["RELGATE_DEPLOYMENT_STATE"] == "succeeded"
    summary = (repo.path / "relgate-summary.md").read_text()
    assert "| tests\\_passed | ✅ pass |" in summary
    assert "| tests\\_passed | ✅ pass |" in log  # the gate table is in the job's log too
    assert server.ci not in log
    release = server.api("GET", f"/api/v1/releases/{service}/1.1.0")
    assert release["artifact"] == f"registry.gitlab.example.com/acme/payments-service@{DIGEST}"
    deployment = server.api("GET", f"/api/v1/deployments/{dotenv['RELGATE_DEPLOYMENT_ID']}")
    assert deployment["reason"] == "https://gitlab.example.com/acme/payments-service/-/pipelines/7"

    approver = _approve_when_waiting(server, service)
    returncode, log = run_gitlab_job("production", server, service, cwd=repo.path)
    approver.join(timeout=60)

    assert returncode == 0, log
    dotenv = dict(
        line.split("=", 1) for line in (repo.path / "relgate.env").read_text().splitlines()
    )
    # the same version again, computed from the same commits
    assert dotenv["RELGATE_RELEASE_VERSION"] == "1.1.0"
    assert dotenv["RELGATE_DEPLOYMENT_STATE"] == "succeeded"


# ---------------------------------------------------------------------------- gates --markdown


def test_gates_check_markdown_and_json_together_are_refused(server: Server) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "relgate", "gates", "check", "x@1.0.0", "--env", "staging",
         "--json", "--markdown", "--url", server.url, "--token", server.ci],
        capture_output=True, text=True, env=_environment(), check=False, timeout=60,
    )  # fmt: skip

    assert proc.returncode == 2
    assert "--json and --markdown: choose one" in proc.stderr


def test_inputs_are_arguments_never_shell_code(server: Server, tmp_path: Path) -> None:
    service = "gh-quoted"
    server.service(service)
    repo = _repository(tmp_path / "repo", _reports())
    odd = repo.path / "reports" / "a $(touch pwned-file) `touch pwned-tick`.xml"
    shutil.copy(EXAMPLES / "junit.xml", odd)
    with_ = _example_step("staging", server, service)
    with_["evidence"] = f"tests=reports/{odd.name}\ncoverage=reports/coverage.json"
    with_["reason"] = '"; touch pwned-reason; echo "'

    run = run_action(with_, cwd=repo.path, tmp=tmp_path / "run")
    hostile = _example_step("staging", server, "$(touch pwned-service)")
    refused = run_action(hostile, cwd=repo.path, tmp=tmp_path / "hostile")

    assert run.returncode == 0, run.log
    assert [e["filename"] for e in server.api("GET", f"/api/v1/releases/{service}/1.1.0/evidence")
            if e["kind"] == "tests"] == [odd.name]  # fmt: skip
    deployment = server.api("GET", f"/api/v1/deployments/{run.outputs['deployment-id']}")
    assert deployment["reason"] == '"; touch pwned-reason; echo "'
    assert refused.returncode != 0
    assert list(repo.path.glob("pwned*")) == []


@pytest.mark.slow
def test_the_action_installs_relgate_from_its_own_folder_and_runs_it(
    server: Server, tmp_path: Path
) -> None:
    service = "gh-installed"
    server.service(service)
    repo = _repository(tmp_path / "repo", _reports())
    # where a runner checks the action out: a copy of this repository at the action's ref
    action_path = tmp_path / "_actions" / "acme" / "relgate"
    shutil.copytree(
        ROOT,
        action_path,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                      ".*_cache", ".hypothesis", "test-artifacts"),
    )  # fmt: skip
    with_ = _example_step("staging", server, service)
    del with_["relgate-spec"]  # the default: pip install the action's folder

    run = run_action(with_, cwd=repo.path, tmp=tmp_path / "run", action_path=action_path)

    assert run.returncode == 0, run.log
    venv_bin = tmp_path / "run" / "relgate-venv" / "bin"
    assert (tmp_path / "run" / "path").read_text().splitlines() == [str(venv_bin)]
    assert (venv_bin / "relgate-ci").exists()
    assert run.outputs["version"] == "1.1.0"
    assert run.outputs["deployment-state"] == "succeeded"
