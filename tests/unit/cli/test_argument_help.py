"""`--help` shows what each positional argument is (click 8.5 dropped it under typer < 0.26)."""

from __future__ import annotations

import subprocess
import sys


def test_a_positional_arguments_help_is_shown() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "relgate", "flags", "lint", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    ).stdout
    arguments = shown.split("Arguments:", 1)[1].split("Options:", 1)[0]

    assert "PATH..." in arguments
    assert "One or more files and folders to search" in arguments
