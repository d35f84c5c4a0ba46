from __future__ import annotations

import subprocess
import sys


def test_unknown_command_exits_2_with_a_usage_message() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "relgate", "no-such-command"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "No such command" in proc.stderr
    assert "Traceback" not in proc.stderr
