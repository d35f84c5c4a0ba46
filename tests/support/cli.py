"""Run the real ``relgate`` command in a subprocess, as CI would."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.gitrepo import git_env


def run_relgate(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m relgate ARGS`` in ``cwd`` with a git identity; return the result."""
    full_env = git_env()
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "relgate", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )


def relgate_json(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> Any:
    """Run relgate with ``--json`` and return the parsed document; fail on a non-zero exit."""
    proc = run_relgate(*args, "--json", cwd=cwd, env=env)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    return json.loads(proc.stdout)
