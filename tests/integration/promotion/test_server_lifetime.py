"""A real `relgate serve` killed with -9 or stopped with SIGTERM mid-deployment.

One deployment per environment: after kill -9 the deploy command's whole process
group dies with the server, the environment stays held until lease + orphan grace,
and the next deployment's command never overlaps the orphan's. SIGTERM lets a
deployment finish within the shutdown grace, else cancels it, and exits 0.
"""

from __future__ import annotations

import itertools
import os
import signal
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.deploy.processes import is_running, kill_if_running
from tests.integration.promotion.test_processes import _setup
from tests.support.server import ServerProcess, start_server, wait_for


def _url(backend: str, tmp_path: Path, request: pytest.FixtureRequest | None = None) -> str:
    from relgate.store import db

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'relgate.db'}"
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        return url
    from tests.support.databases import truncate_all

    assert request is not None
    pg: str = request.getfixturevalue("postgres_url")
    truncate_all(pg)
    return pg


def _recording_script(tmp_path: Path, runs: Path) -> Path:
    """A deploy script that records its start, end and pids; version 1.1.0 hangs."""
    script = tmp_path / "deploy.sh"
    script.write_text(
        "#!/bin/sh\n"
        + textwrap.dedent(
            f"""\
            out={runs}/$RELGATE_DEPLOYMENT_ID.$RELGATE_FENCE
            echo "start $(date +%s.%N) $$" >> "$out"
            # stopping takes a while (a rollout to undo): the orphan outlives the lease
            trap 'sleep "${{STOPPING:-0}}"; echo "end $(date +%s.%N) term" >> "$out"; exit 143' TERM
            if [ "$RELGATE_VERSION" = 1.1.0 ]; then
                sleep 600 &
                echo "pid $!" >> "$out"
                wait
            fi
            sleep "${{HOLD:-0.3}}" & wait
            echo "end $(date +%s.%N) done" >> "$out"
            """
        )
    )
    script.chmod(0o755)
    return script


def _intervals(runs: Path) -> list[tuple[float, float, str]]:
    """(start, end, file) of every run; a run without an end counts as still running."""
    result = []
    for path in sorted(runs.iterdir()):
        words = [line.split() for line in path.read_text().splitlines()]
        starts = [float(w[1]) for w in words if w[0] == "start"]
        ends = [float(w[1]) for w in words if w[0] == "end"]
        result.append((starts[0], ends[0] if ends else float("inf"), path.name))
    return result


def _pids(runs: Path, deployment: object = None) -> list[int]:
    """The pids the runs recorded (only one deployment's when it is named), in file order."""
    pids = []
    for path in sorted(runs.glob("*" if deployment is None else f"{deployment}.*")):
        for words in (line.split() for line in path.read_text().splitlines()):
            if words[0] == "start":
                pids.append(int(words[2]))
            elif words[0] == "pid":
                pids.append(int(words[1]))
    return pids


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def _runner(pid: int, servers: list[ServerProcess]) -> ServerProcess:
    """The replica whose process tree holds ``pid`` (either replica may claim a job)."""
    by_pid = {server.process.pid: server for server in servers}
    while pid > 1:
        if pid in by_pid:
            return by_pid[pid]
        pid = _parent(pid)
    raise AssertionError("the deploy command runs under neither replica")


def _promote(server: ServerProcess, headers: dict[str, str], version: str) -> httpx.Response:
    return httpx.post(
        server.url + "/api/v1/deployments",
        json={"service": "pay", "version": version, "environment": "production"},
        headers=headers,
        timeout=30,
    )


def _deployment(server: ServerProcess, headers: dict[str, str], ident: int) -> dict[str, object]:
    answer = httpx.get(f"{server.url}/api/v1/deployments/{ident}", headers=headers, timeout=30)
    data: dict[str, object] = answer.json()
    return data


def _pipeline(script: Path, kill_grace: float, **env: str) -> str:
    """One unprotected environment deployed by ``script``, ``env`` in its environment."""
    variables = ", ".join(f'{name}: "{value}"' for name, value in env.items())
    return (
        "service: pay\nenvironments:\n  - name: production\n    protected: false\n"
        f"    deployer: {{type: command, command: {script}, kill_grace_seconds: {kill_grace},"
        f" env: {{{variables}}}}}\n"
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_after_kill_9_no_two_deploy_commands_of_an_environment_overlap(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _url(backend, tmp_path, request)
    runs = tmp_path / "runs"
    runs.mkdir()
    script = _recording_script(tmp_path, runs)
    # the orphan takes 6 s to stop after its SIGTERM, within its kill grace of 8 s
    pipeline = _pipeline(script, 8, STOPPING="6")
    token = _setup(url, pipeline, {"pay@1.0.0": "a", "pay@1.1.0": "b", "pay@1.2.0": "c"})
    headers = {"Authorization": f"Bearer {token}"}
    env = {
        "RELGATE_DATABASE_URL": url,
        "RELGATE_JOB_LEASE_SECONDS": "2",
        # the environment is held for lease + 8 s (with 0 here the test sees an overlap)
        "RELGATE_ORPHAN_GRACE_SECONDS": os.environ.get("TEST_ORPHAN_GRACE", "8"),
    }
    # two replicas on one database, as behind a load balancer
    replicas = [start_server(tmp_path / "a", env), start_server(tmp_path / "b", env)]
    server, second = replicas
    try:
        first = _promote(server, headers, "1.0.0").json()
        wait_for(lambda: _deployment(server, headers, first["id"])["state"] == "succeeded")
        hanging = _promote(server, headers, "1.1.0").json()
        # the hanging script and its background sleep
        wait_for(lambda: len(_pids(runs, hanging["id"])) == 2)
        orphans = _pids(runs, hanging["id"])
        assert all(is_running(pid) for pid in orphans)
        # kill the replica that claimed the job, whichever it is: assuming the one that took
        # the request made this test fail whenever the other replica's poll claimed it first
        server = _runner(orphans[0], replicas)
        second = next(replica for replica in replicas if replica is not server)
        assert _deployment(second, headers, hanging["id"])["state"] == "deploying"
        server.kill(signal.SIGKILL)
        # the other replica promotes as soon as the environment is free again
        wait_for(
            lambda: _deployment(second, headers, hanging["id"])["state"] == "failed", timeout=120
        )
        third = _promote(second, headers, "1.2.0")
        assert third.status_code == 201, third.text
        assert str(_deployment(second, headers, hanging["id"])["outcome"]).startswith("interrupted")
        # the whole process group died with the first server, the background sleep included
        wait_for(lambda: not any(is_running(pid) for pid in orphans), timeout=30)
        wait_for(lambda: _deployment(second, headers, third.json()["id"])["state"] == "succeeded")
    finally:
        server.stop()
        second.stop()
        for pid in _pids(runs):
            kill_if_running(pid)
    intervals = sorted(_intervals(runs))
    assert len(intervals) == 3
    assert all(end != float("inf") for _, end, _ in intervals), intervals
    for (_, end, before), (start, _, after) in itertools.pairwise(intervals):
        assert end <= start, f"{before} and {after} overlapped: {intervals}"


def test_sigterm_lets_a_short_deployment_finish_and_exits_0(tmp_path: Path) -> None:
    url = _url("sqlite", tmp_path)
    runs = tmp_path / "runs"
    runs.mkdir()
    script = _recording_script(tmp_path, runs)
    token = _setup(url, _pipeline(script, 1, HOLD="2"), {"pay@1.0.0": "a"})
    headers = {"Authorization": f"Bearer {token}"}
    env = {"RELGATE_DATABASE_URL": url, "RELGATE_SHUTDOWN_GRACE_SECONDS": "60"}
    server = start_server(tmp_path / "a", env)
    try:
        ident = _promote(server, headers, "1.0.0").json()["id"]
        wait_for(lambda: len(_pids(runs)) == 1)
        sent = time.time()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0, server.stderr()
    finally:
        server.stop()
    ((start, end, _),) = _intervals(runs)
    # it was running when SIGTERM came and ran to its end (not stopped: no "term" line)
    assert start < sent < end
    assert "term" not in next(runs.iterdir()).read_text()
    restarted = start_server(tmp_path / "b", env)
    try:
        deployment = _deployment(restarted, headers, ident)
        assert deployment["state"] == "succeeded", deployment
    finally:
        restarted.stop()


def test_sigterm_cancels_a_long_deployment_after_the_grace_frees_the_env_and_exits_0(
    tmp_path: Path,
) -> None:
    url = _url("sqlite", tmp_path)
    runs = tmp_path / "runs"
    runs.mkdir()
    script = _recording_script(tmp_path, runs)
    token = _setup(url, _pipeline(script, 1), {"pay@1.1.0": "b", "pay@1.2.0": "c"})
    headers = {"Authorization": f"Bearer {token}"}
    env = {"RELGATE_DATABASE_URL": url, "RELGATE_SHUTDOWN_GRACE_SECONDS": "1"}
    server = start_server(tmp_path / "a", env)
    try:
        ident = _promote(server, headers, "1.1.0").json()["id"]
        wait_for(lambda: len(_pids(runs)) == 2)
        pids = _pids(runs)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0, server.stderr()
        assert not any(is_running(pid) for pid in pids)
    finally:
        server.stop()
        for pid in _pids(runs):
            kill_if_running(pid)
    ((_, end, _),) = _intervals(runs)
    assert end != float("inf")  # the command was stopped (SIGTERM), not left behind
    restarted = start_server(tmp_path / "b", env)
    try:
        deployment = _deployment(restarted, headers, ident)
        assert deployment["state"] == "failed", deployment
        assert deployment["outcome"] == "cancelled: relgate shut down"
        # the environment is free: the next promotion is accepted and runs
        again = _promote(restarted, headers, "1.2.0")
        assert again.status_code == 201, again.text
        wait_for(
            lambda: _deployment(restarted, headers, again.json()["id"])["state"] == "succeeded"
        )
    finally:
        restarted.stop()
