"""The command deployer, with real scripts run as real processes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from relgate.deploy.command import CommandDeployer
from relgate.deploy.config import CommandDeployerSpec
from relgate.deploy.ports import StepOutcome
from tests.integration.deploy.processes import REQUEST, is_running, kill_if_running, write_script


def deployer(tmp_path: Path, command: str | list[str], **settings: object) -> CommandDeployer:
    """A command deployer whose base folder is ``tmp_path``; it runs there too unless
    ``cwd`` says otherwise (``cwd=None``: the default, the deployment's own folder)."""
    settings.setdefault("cwd", ".")
    spec = CommandDeployerSpec.model_validate({"type": "command", "command": command, **settings})
    return CommandDeployer(spec, base_dir=tmp_path)


def test_a_command_that_exits_0_succeeds(tmp_path: Path) -> None:
    write_script(tmp_path / "deploy.sh", "exit 0\n")
    outcome = deployer(tmp_path, "./deploy.sh").deploy(REQUEST, print)
    assert outcome == StepOutcome(True, "deploy command exited 0", 0)


def test_a_failing_command_reports_its_exit_code(tmp_path: Path) -> None:
    write_script(tmp_path / "deploy.sh", "echo 'image not found' >&2\nexit 3\n")
    lines: list[str] = []
    outcome = deployer(tmp_path, "./deploy.sh").deploy(REQUEST, lines.append)
    assert outcome == StepOutcome(False, "deploy command exited 3", 3)
    assert lines == ["image not found"]


def test_stdout_and_stderr_are_streamed_line_by_line_in_order(tmp_path: Path) -> None:
    write_script(
        tmp_path / "deploy.sh",
        "echo one\necho two >&2\nprintf 'three\\r\\nfour\\n'\necho five >&2\nprintf 'no newline'\n",
    )
    lines: list[str] = []
    deployer(tmp_path, "./deploy.sh").deploy(REQUEST, lines.append)
    assert lines == ["one", "two", "three", "four", "five", "no newline"]


def test_output_reaches_the_log_while_the_command_still_runs(tmp_path: Path) -> None:
    # the script waits until the log has seen its first line: streaming, not buffering
    flag = tmp_path / "seen"
    write_script(
        tmp_path / "deploy.sh",
        f"echo started\nwhile [ ! -e '{flag}' ]; do sleep 0.01; done\necho finished\n",
    )

    def log(line: str) -> None:
        lines.append(line)
        flag.touch()

    lines: list[str] = []
    outcome = deployer(tmp_path, "./deploy.sh", timeout_seconds=10).deploy(REQUEST, log)
    assert outcome.succeeded
    assert lines == ["started", "finished"]


def test_invalid_utf8_output_is_logged_with_replacement_characters(tmp_path: Path) -> None:
    write_script(tmp_path / "deploy.sh", "printf 'caf\\351\\n'\n")
    lines: list[str] = []
    deployer(tmp_path, "./deploy.sh").deploy(REQUEST, lines.append)
    assert lines == ["caf\N{REPLACEMENT CHARACTER}"]


def test_the_deployment_is_described_in_relgate_variables(tmp_path: Path) -> None:
    names = [
        "RELGATE_SERVICE",
        "RELGATE_ENVIRONMENT",
        "RELGATE_VERSION",
        "RELGATE_ARTIFACT",
        "RELGATE_PREVIOUS_ARTIFACT",
        "RELGATE_DEPLOYMENT_ID",
        "RELGATE_REASON",
    ]
    write_script(tmp_path / "deploy.sh", "".join(f'echo "{name}=${name}"\n' for name in names))
    lines: list[str] = []
    deployer(tmp_path, "./deploy.sh").deploy(REQUEST, lines.append)
    assert lines == [
        "RELGATE_SERVICE=payments",
        "RELGATE_ENVIRONMENT=staging",
        "RELGATE_VERSION=1.4.0",
        f"RELGATE_ARTIFACT={REQUEST.artifact}",
        f"RELGATE_PREVIOUS_ARTIFACT={REQUEST.previous_artifact}",
        "RELGATE_DEPLOYMENT_ID=dep-42",
        "RELGATE_REASON=promote",
    ]


def test_the_first_deployment_has_an_empty_previous_artifact(tmp_path: Path) -> None:
    from dataclasses import replace

    write_script(tmp_path / "deploy.sh", 'echo "[${RELGATE_PREVIOUS_ARTIFACT-unset}]"\n')
    lines: list[str] = []
    first = replace(REQUEST, previous_artifact=None)
    deployer(tmp_path, "./deploy.sh").deploy(first, lines.append)
    assert lines == ["[]"]


def test_the_spec_env_sets_variables_with_its_own_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_RELGATE", "inherited")
    monkeypatch.setenv("OVERRIDDEN", "by relgate")
    write_script(tmp_path / "deploy.sh", 'echo "${FROM_RELGATE-unset} $OVERRIDDEN $REGION"\n')
    lines: list[str] = []
    deployer(
        tmp_path, "./deploy.sh", env={"OVERRIDDEN": "by the spec", "REGION": "eu-west-1"}
    ).deploy(REQUEST, lines.append)
    assert lines == ["unset by the spec eu-west-1"]


def _environment_of(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_a_command_sees_only_the_minimal_environment_and_what_its_spec_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELGATE_DATABASE_URL", "postgresql://relgate:pw@db/relgate")
    monkeypatch.setenv("SOME_SERVER_SECRET", "do-not-leak")
    monkeypatch.setenv("KUBECONFIG", "/etc/kube/config")
    monkeypatch.setenv("LANG", "C.UTF-8")
    write_script(tmp_path / "deploy.sh", "env\n")
    lines: list[str] = []
    outcome = deployer(
        tmp_path,
        "./deploy.sh",
        env={"REGION": "eu-west-1"},
        env_allow=["KUBECONFIG", "NOT_SET_ON_THE_SERVER"],
        secrets={"DEPLOY_TOKEN": "s3cret"},
    ).deploy(REQUEST, lines.append)
    assert outcome.succeeded
    seen = _environment_of(lines)
    # the shell adds PWD (and SHLVL, _ for some shells) of its own
    assert set(seen) - {"PWD", "SHLVL", "_", "OLDPWD"} == {
        "PATH",
        "HOME",
        "LANG",
        "KUBECONFIG",
        "REGION",
        "DEPLOY_TOKEN",
        "TMPDIR",
        "RELGATE_WORKDIR",
        "RELGATE_SERVICE",
        "RELGATE_ENVIRONMENT",
        "RELGATE_VERSION",
        "RELGATE_ARTIFACT",
        "RELGATE_PREVIOUS_ARTIFACT",
        "RELGATE_DEPLOYMENT_ID",
        "RELGATE_REASON",
        "RELGATE_FENCE",
    }
    assert seen["KUBECONFIG"] == "/etc/kube/config"
    assert seen["DEPLOY_TOKEN"] == "s3cret"
    assert seen["HOME"] == os.environ["HOME"]


def test_each_deployment_gets_a_fresh_folder_of_its_own_removed_afterwards(
    tmp_path: Path,
) -> None:
    write_script(
        tmp_path / "deploy.sh",
        'ls -A "$RELGATE_WORKDIR" | wc -l\n'
        'touch "$RELGATE_WORKDIR/state"\necho "$RELGATE_WORKDIR"\necho "$TMPDIR"\n',
    )
    the_deployer = deployer(tmp_path, "./deploy.sh")
    first: list[str] = []
    second: list[str] = []
    assert the_deployer.deploy(REQUEST, first.append).succeeded
    assert the_deployer.deploy(REQUEST, second.append).succeeded
    assert first[0].strip() == second[0].strip() == "0"
    assert first[1] == first[2]
    assert first[1] != second[1]
    assert not Path(first[1]).exists()
    assert not Path(second[1]).exists()


def test_a_command_runs_as_the_run_as_user_with_that_users_home(tmp_path: Path) -> None:
    import pwd
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("changing user needs root")
    nobody = pwd.getpwnam("nobody")
    # the script's folder must be readable by that user
    folder = Path(tempfile.mkdtemp(prefix="relgate-run-as-"))
    try:
        folder.chmod(0o755)
        write_script(
            folder / "deploy.sh", 'id -un\necho "$HOME"\ntouch "$RELGATE_WORKDIR/written"\n'
        )
        lines: list[str] = []
        outcome = deployer(folder, "./deploy.sh", run_as="nobody").deploy(REQUEST, lines.append)
        assert outcome.succeeded, (outcome, lines)
        assert lines == ["nobody", nobody.pw_dir]
    finally:
        import shutil

        shutil.rmtree(folder)


def test_run_as_an_unknown_user_fails_naming_it(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the root check comes first when not root")
    write_script(tmp_path / "deploy.sh", "exit 0\n")
    outcome = deployer(tmp_path, "./deploy.sh", run_as="no-such-user-here").deploy(REQUEST, print)
    assert outcome == StepOutcome(
        False, "cannot run ./deploy.sh: run_as no-such-user-here: no such user on the server"
    )


def test_run_as_without_root_fails_instead_of_running_as_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # not root here is simulated: the check must stop before anything runs
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    write_script(tmp_path / "deploy.sh", "touch ran\n")
    outcome = deployer(tmp_path, "./deploy.sh", run_as="nobody").deploy(REQUEST, print)
    assert outcome == StepOutcome(
        False,
        "cannot run ./deploy.sh: run_as nobody needs relgate to run as root, "
        "and it runs as uid 1000",
    )
    assert not (tmp_path / "ran").exists()


def test_a_list_command_passes_arguments_verbatim(tmp_path: Path) -> None:
    write_script(tmp_path / "deploy.sh", 'for arg in "$@"; do echo "<$arg>"; done\n')
    lines: list[str] = []
    outcome = deployer(tmp_path, ["./deploy.sh", "two words", "$HOME", "*"]).deploy(
        REQUEST, lines.append
    )
    assert outcome.succeeded
    assert lines == ["<two words>", "<$HOME>", "<*>"]


def test_the_command_runs_in_cwd_relative_to_the_base_dir(tmp_path: Path) -> None:
    (tmp_path / "ops").mkdir()
    write_script(tmp_path / "ops" / "deploy.sh", "pwd\n")
    lines: list[str] = []
    outcome = deployer(tmp_path, "./deploy.sh", cwd="ops").deploy(REQUEST, lines.append)
    assert outcome.succeeded
    assert lines == [str(tmp_path / "ops")]


def test_shell_operators_glued_to_the_program_are_left_to_the_shell(tmp_path: Path) -> None:
    write_script(tmp_path / "deploy.sh", "echo deployed\n")
    lines: list[str] = []
    outcome = deployer(tmp_path, "./deploy.sh&&echo after").deploy(REQUEST, lines.append)
    assert outcome.succeeded
    assert lines == ["deployed", "after"]


def test_a_missing_script_cannot_run(tmp_path: Path) -> None:
    outcome = deployer(tmp_path, "./deploy.sh").deploy(REQUEST, print)
    assert outcome == StepOutcome(False, "cannot run ./deploy.sh: No such file or directory")


def test_a_missing_program_in_a_list_cannot_run(tmp_path: Path) -> None:
    outcome = deployer(tmp_path, ["./deploy.sh", "prod"]).deploy(REQUEST, print)
    assert outcome == StepOutcome(False, "cannot run ./deploy.sh: No such file or directory")


@pytest.mark.parametrize("command", ["./deploy.sh", ["./deploy.sh"]])
def test_a_script_that_is_not_executable_cannot_run(
    tmp_path: Path, command: str | list[str]
) -> None:
    write_script(tmp_path / "deploy.sh", "exit 0\n", executable=False)
    outcome = deployer(tmp_path, command).deploy(REQUEST, print)
    assert outcome == StepOutcome(False, "cannot run ./deploy.sh: Permission denied")


def test_a_missing_working_directory_is_named(tmp_path: Path) -> None:
    outcome = deployer(tmp_path, "./deploy.sh", cwd="nowhere").deploy(REQUEST, print)
    assert not outcome.succeeded
    assert outcome.reason == (
        f"cannot run ./deploy.sh: working directory {tmp_path / 'nowhere'} does not exist"
    )


def test_an_unknown_bare_command_reports_the_shells_not_found(tmp_path: Path) -> None:
    lines: list[str] = []
    outcome = deployer(tmp_path, "relgate-no-such-tool --apply").deploy(REQUEST, lines.append)
    assert outcome == StepOutcome(False, "deploy command exited 127 (command not found)", 127)
    assert any("relgate-no-such-tool" in line for line in lines)


def test_a_timeout_stops_the_whole_process_tree(tmp_path: Path) -> None:
    write_script(
        tmp_path / "deploy.sh",
        "sleep 60 &\necho $! > child.pid\necho $$ > leader.pid\necho waiting\nwait\n",
    )
    lines: list[str] = []
    outcome = deployer(tmp_path, "./deploy.sh", timeout_seconds=1, kill_grace_seconds=1).deploy(
        REQUEST, lines.append
    )
    child = int((tmp_path / "child.pid").read_text())
    leader = int((tmp_path / "leader.pid").read_text())
    assert outcome == StepOutcome(False, "deploy command timed out after 1 s")
    assert lines[0] == "waiting"
    assert "timed out after 1 s" in lines[-1]
    assert not is_running(child)
    assert not is_running(leader)


def test_a_command_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    # an ignored signal stays ignored across exec, so the sleep ignores SIGTERM too
    write_script(tmp_path / "deploy.sh", "trap '' TERM\nsleep 60 &\necho $! > child.pid\nwait\n")
    outcome = deployer(tmp_path, "./deploy.sh", timeout_seconds=0.5, kill_grace_seconds=0.2).deploy(
        REQUEST, print
    )
    assert outcome == StepOutcome(False, "deploy command timed out after 0.5 s")
    assert not is_running(int((tmp_path / "child.pid").read_text()))


def test_cancelling_stops_the_command_and_its_children(tmp_path: Path) -> None:
    write_script(tmp_path / "deploy.sh", "sleep 60 &\necho $! > child.pid\necho ready\nwait\n")
    cancel = threading.Event()

    def log(line: str) -> None:
        if line == "ready":
            cancel.set()

    outcome = deployer(tmp_path, "./deploy.sh", timeout_seconds=30).deploy(
        REQUEST, log, cancel=cancel
    )
    assert outcome == StepOutcome(False, "cancelled")
    assert not is_running(int((tmp_path / "child.pid").read_text()))


def test_processes_left_in_the_group_after_exit_are_stopped(tmp_path: Path) -> None:
    write_script(tmp_path / "deploy.sh", "sleep 60 &\necho $! > child.pid\nexit 0\n")
    lines: list[str] = []
    outcome = deployer(tmp_path, "./deploy.sh", kill_grace_seconds=1).deploy(REQUEST, lines.append)
    assert outcome.succeeded
    assert not is_running(int((tmp_path / "child.pid").read_text()))
    assert any("left running" in line for line in lines)


def test_a_process_detached_with_setsid_keeps_running(tmp_path: Path) -> None:
    write_script(
        tmp_path / "deploy.sh",
        # the pid is written from inside the new session: the script exits only once it exists
        "setsid sh -c 'echo $$ > child.pid; exec sleep 60' > /dev/null 2>&1 < /dev/null &\n"
        "while [ ! -s child.pid ]; do sleep 0.01; done\n",
    )
    lines: list[str] = []
    outcome = deployer(tmp_path, "./deploy.sh").deploy(REQUEST, lines.append)
    child = int((tmp_path / "child.pid").read_text())
    try:
        assert outcome.succeeded
        assert is_running(child)
        assert lines == []
    finally:
        kill_if_running(child)


def test_a_detached_process_holding_the_output_does_not_hold_the_step(tmp_path: Path) -> None:
    write_script(
        tmp_path / "deploy.sh",
        "setsid sh -c 'echo $$ > child.pid; exec sleep 60' &\n"
        "while [ ! -s child.pid ]; do sleep 0.01; done\necho done\n",
    )
    lines: list[str] = []
    outcome = deployer(tmp_path, "./deploy.sh").deploy(REQUEST, lines.append)
    kill_if_running(int((tmp_path / "child.pid").read_text()))
    assert outcome.succeeded
    assert lines == ["done"]


def test_a_program_killed_by_a_signal_names_the_signal(tmp_path: Path) -> None:
    write_script(tmp_path / "deploy.sh", "kill -KILL $$\n")
    outcome = deployer(tmp_path, ["./deploy.sh"]).deploy(REQUEST, print)
    assert outcome == StepOutcome(False, "deploy command was killed by SIGKILL")


def test_a_shell_command_killed_by_a_signal_names_the_signal_beside_its_code(
    tmp_path: Path,
) -> None:
    write_script(tmp_path / "deploy.sh", "kill -KILL $$\n")
    outcome = deployer(tmp_path, "./deploy.sh").deploy(REQUEST, print)
    assert outcome == StepOutcome(False, "deploy command exited 137 (killed by SIGKILL)", 137)


def test_a_log_sink_that_raises_still_leaves_no_process_behind(tmp_path: Path) -> None:
    write_script(tmp_path / "deploy.sh", "sleep 60 &\necho $! > child.pid\necho boom\nwait\n")

    def log(line: str) -> None:
        raise RuntimeError("the log store is down")

    with pytest.raises(RuntimeError, match="the log store is down"):
        deployer(tmp_path, "./deploy.sh").deploy(REQUEST, log)
    assert not is_running(int((tmp_path / "child.pid").read_text()))


def test_deployments_in_parallel_threads_keep_their_own_output(tmp_path: Path) -> None:
    from dataclasses import replace

    write_script(
        tmp_path / "deploy.sh",
        'for i in 1 2 3 4 5; do echo "$RELGATE_ENVIRONMENT $i"; sleep 0.01; done\n',
    )
    the_deployer = deployer(tmp_path, "./deploy.sh")
    logs: dict[str, list[str]] = {name: [] for name in ("dev", "staging", "production")}
    outcomes: dict[str, StepOutcome] = {}

    def run(environment: str) -> None:
        request = replace(REQUEST, environment=environment)
        outcomes[environment] = the_deployer.deploy(request, logs[environment].append)

    threads = [threading.Thread(target=run, args=(name,)) for name in logs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, lines in logs.items():
        assert outcomes[name].succeeded
        assert lines == [f"{name} {i}" for i in range(1, 6)]


def test_a_very_long_line_is_logged_in_pieces(tmp_path: Path) -> None:
    write_script(tmp_path / "deploy.sh", "head -c 200000 /dev/zero | tr '\\0' x\n")
    lines: list[str] = []
    deployer(tmp_path, "./deploy.sh").deploy(REQUEST, lines.append)
    assert "".join(lines) == "x" * 200000
    assert max(len(line) for line in lines) <= 64 * 1024


def test_no_relgate_variable_of_the_parent_leaks_past_the_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELGATE_VERSION", "9.9.9")
    write_script(tmp_path / "deploy.sh", 'echo "$RELGATE_VERSION"\n')
    lines: list[str] = []
    deployer(tmp_path, "./deploy.sh").deploy(REQUEST, lines.append)
    assert lines == ["1.4.0"]
    assert os.environ["RELGATE_VERSION"] == "9.9.9"
