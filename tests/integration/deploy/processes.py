"""For the deployer tests: a request, scripts on disk, and whether a process still runs."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from relgate.deploy.ports import DeployRequest

REQUEST = DeployRequest(
    deployment_id="dep-42",
    service="payments",
    environment="staging",
    version="1.4.0",
    artifact="registry.example/payments@sha256:" + "a" * 64,
    previous_artifact="registry.example/payments@sha256:" + "b" * 64,
    reason="promote",
)


def write_script(path: Path, body: str, *, executable: bool = True) -> Path:
    """Write a POSIX sh script to ``path`` and return it."""
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    if executable:
        path.chmod(0o755)
    return path


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process; a zombie (dead, not reaped) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in ("Z", "X")


def kill_if_running(pid: int) -> None:
    """Clean up after a test that deliberately left a process running."""
    if is_running(pid):
        os.kill(pid, signal.SIGKILL)
