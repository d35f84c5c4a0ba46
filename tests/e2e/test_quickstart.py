"""The README's quickstart, run word for word against a real server and the demo service."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import fresh_postgres_database
from tests.support.server import ServerProcess, start_server

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = Path("/tmp/relgate-demo")


def quickstart_script() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(
        r"<!-- quickstart:begin -->\s*```sh\n(.*?)```\s*<!-- quickstart:end -->", readme, re.S
    )
    assert len(blocks) >= 4, "the README's quickstart blocks are missing"
    return "\n".join(blocks)


def _stop_demo_services() -> None:
    """Stop the demo services a quickstart started, and wait until their ports are free."""
    pids: list[int] = []
    for pid_file in DEMO_DIR.glob("*.pid"):
        with contextlib.suppress(ValueError, ProcessLookupError, OSError):
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            pids.append(pid)
    deadline = time.monotonic() + 10
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not: it holds no port)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server on each store; the quickstart needs an empty one."""
    _stop_demo_services()
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'relgate.db'}"
        else:
            url = stack.enter_context(fresh_postgres_database("relgate_quickstart"))
        # the pipeline's deploy commands are relative to where the server runs: the repository
        process = start_server(tmp_path, {"RELGATE_DATABASE_URL": url}, cwd=ROOT)
        try:
            yield process
        finally:
            process.stop()
            _stop_demo_services()


def test_the_quickstart_walks_a_release_to_production_and_back(
    server: ServerProcess, tmp_path: Path
) -> None:
    token = server.admin_token()
    assert token, server.stderr()
    script = "set -euo pipefail\n" + quickstart_script()
    env = {
        **os.environ,
        "RELGATE_URL": server.url,
        "RELGATE_TOKEN": token,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # production served 1.0.0, then briefly 1.1.0, then 1.0.0 again
    assert output.count("demo-service 1.0.0 (production)") == 2, output
    assert "1.1.0 failed its verification in production and was rolled back" in output
    # `approve --wait` returned only once the auto-rollback had put 1.0.0 back
    failed_at = output.index("payments-service@1.1.0 to production: failed")
    back_at = re.compile(r"deployment \d+: payments-service@1\.0\.0 to production: succeeded")
    assert back_at.search(output, failed_at) is not None, output
    assert "auto-rollback" in output
    assert "intact" in output
    # the flag: on for premium customers only, then killed for everyone
    assert "premium customer u-1: express checkout" in output
    assert "free customer u-2: classic checkout" in output
    assert "premium customer u-1: classic checkout" in output
