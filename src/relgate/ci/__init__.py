"""The CI step that the GitHub Action and the GitLab CI template both run: `relgate-ci`.

Its logic is the bash script beside this file (relgate-ci.sh): version, release
create, evidence add, gates check, promote, with outputs for the CI system. This
module only finds the script and runs it with the Python that runs relgate, so
the script calls the relgate it was installed with.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("relgate-ci.sh")


def main() -> None:
    """Replace this process with ``bash relgate-ci.sh``; exits 2 when bash is missing."""
    bash = shutil.which("bash")
    if bash is None:
        print("relgate-ci: bash is not installed; the CI step needs it", file=sys.stderr)
        sys.exit(2)
    env = dict(os.environ)
    # the script runs `$RELGATE_CI_PYTHON -m relgate`: the relgate installed with this one
    env["RELGATE_CI_PYTHON"] = sys.executable
    os.execve(bash, [bash, str(SCRIPT), *sys.argv[1:]], env)
