"""Deploy commands die with the process that started them, and run in a folder of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from relgate.deploy.command import CommandDeployer
from relgate.deploy.config import CommandDeployerSpec, CommandVerifySpec
from relgate.deploy.verify import CommandVerifier
from tests.integration.deploy.processes import REQUEST, is_running, kill_if_running, write_script
from tests.support.server import wait_for

# a Python process that runs one deploy command the way a relgate worker thread does
RUNNER = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from relgate.deploy.command import CommandDeployer
    from relgate.deploy.config import CommandDeployerSpec
    from tests.integration.deploy.processes import REQUEST

    spec = CommandDeployerSpec.model_validate(
        {"type": "command", "command": sys.argv[1], "kill_grace_seconds": float(sys.argv[2])}
    )
    def run():
        CommandDeployer(spec, base_dir=Path(sys.argv[3])).deploy(REQUEST, print)
    # from a thread that is not the main one, as in the server
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    """
)


def _start_runner(tmp_path: Path, script: Path, kill_grace: float) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parents[3]
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(script), str(kill_grace), str(tmp_path)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
    )


def _pids(path: Path) -> list[int]:
    return [int(word) for word in path.read_text().split()]


@pytest.mark.parametrize("kill_grace", [0.0, 1.0])
def test_kill_9_of_the_process_running_a_deploy_kills_its_whole_process_group(
    tmp_path: Path, kill_grace: float
) -> None:
    pids = tmp_path / "pids"
    script = write_script(
        tmp_path / "deploy.sh",
        # a grandchild in the background, a grandchild that ignores SIGTERM, and the script
        f"sleep 600 &\necho $! >> {pids}\n"
        f"sh -c \"trap '' TERM; sleep 600\" &\necho $! >> {pids}\n"
        f"echo $$ >> {pids}\nwait\n",
    )
    runner = _start_runner(tmp_path, script, kill_grace)
    try:
        wait_for(lambda: pids.exists() and len(_pids(pids)) == 3)
        started = _pids(pids)
        assert all(is_running(pid) for pid in started)
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
        wait_for(lambda: not any(is_running(pid) for pid in started), timeout=20)
    finally:
        if runner.poll() is None:
            runner.kill()
        if pids.exists():
            for pid in _pids(pids):
                kill_if_running(pid)


def test_a_command_that_ignores_sigterm_still_dies_with_the_server_after_its_grace(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    script = write_script(tmp_path / "deploy.sh", f"trap '' TERM\necho $$ >> {pids}\nsleep 600\n")
    runner = _start_runner(tmp_path, script, 0.5)
    try:
        wait_for(lambda: pids.exists() and _pids(pids))
        (pid,) = _pids(pids)
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
        wait_for(lambda: not is_running(pid), timeout=20)
    finally:
        if runner.poll() is None:
            runner.kill()
        for pid in _pids(pids) if pids.exists() else []:
            kill_if_running(pid)


def _spec(command: str, **fields: object) -> CommandDeployerSpec:
    return CommandDeployerSpec.model_validate({"type": "command", "command": command, **fields})


def test_without_cwd_the_command_runs_in_the_deployments_own_folder(tmp_path: Path) -> None:
    server = tmp_path / "server"
    server.mkdir()
    write_script(server / "deploy.sh", 'pwd\necho "$RELGATE_WORKDIR"\n')
    lines: list[str] = []
    outcome = CommandDeployer(_spec("./deploy.sh"), base_dir=server).deploy(REQUEST, lines.append)
    assert outcome.succeeded, outcome
    assert lines[0] == lines[1]
    assert Path(lines[0]) != server
    assert not Path(lines[0]).exists()  # removed after the command


def test_the_worker_s_folder_is_the_command_s_and_is_left_to_the_worker(tmp_path: Path) -> None:
    server = tmp_path / "server"
    folder = tmp_path / "attempt"
    server.mkdir()
    folder.mkdir()
    write_script(server / "deploy.sh", 'pwd\necho "$RELGATE_WORKDIR"\ntouch made-here\n')
    request = replace(REQUEST, workdir=folder, fence="42.3")
    lines: list[str] = []
    outcome = CommandDeployer(_spec("./deploy.sh"), base_dir=server).deploy(request, lines.append)
    assert outcome.succeeded, outcome
    assert lines == [str(folder), str(folder)]
    assert (folder / "made-here").exists()


def test_a_relative_cwd_is_taken_from_the_server_folder_and_the_program_found_in_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "ops").mkdir()
    write_script(tmp_path / "ops" / "smoke.sh", "pwd\n")
    spec = CommandVerifySpec.model_validate(
        {"type": "command", "command": "./smoke.sh", "cwd": "ops"}
    )
    lines: list[str] = []
    outcome = CommandVerifier(spec, base_dir=tmp_path).verify(REQUEST, lines.append)
    assert outcome.succeeded, outcome
    assert lines == [str(tmp_path / "ops")]


def test_the_verify_command_also_starts_in_the_deployments_folder(tmp_path: Path) -> None:
    write_script(tmp_path / "smoke.sh", 'pwd\necho "$RELGATE_FENCE"\n')
    spec = CommandVerifySpec.model_validate({"type": "command", "command": "./smoke.sh"})
    request = replace(REQUEST, workdir=tmp_path / "attempt", fence="7.2")
    (tmp_path / "attempt").mkdir()
    lines: list[str] = []
    assert CommandVerifier(spec, base_dir=tmp_path).verify(request, lines.append).succeeded
    assert lines == [str(tmp_path / "attempt"), "7.2"]


def test_a_killed_supervisor_still_leaves_nothing_behind(tmp_path: Path) -> None:
    import threading

    pids = tmp_path / "pids"
    # a list command: the supervisor execs the script itself, so $PPID is the supervisor
    script = write_script(tmp_path / "deploy.sh", f"sleep 600 &\necho $! $PPID > {pids}\nwait\n")
    spec = CommandDeployerSpec.model_validate(
        {"type": "command", "command": [str(script)], "kill_grace_seconds": 1}
    )
    outcomes: list[object] = []
    thread = threading.Thread(
        target=lambda: outcomes.append(
            CommandDeployer(spec, base_dir=tmp_path).deploy(REQUEST, print)
        )
    )
    thread.start()
    try:
        wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2)
        sleeper, supervisor = (int(word) for word in pids.read_text().split())
        os.kill(supervisor, signal.SIGKILL)
        thread.join(30)
        assert not thread.is_alive()
        (outcome,) = outcomes
        assert not outcome.succeeded  # type: ignore[attr-defined]
        wait_for(lambda: not is_running(sleeper))
    finally:
        if pids.exists():
            for pid in _pids(pids):
                kill_if_running(pid)
