"""Small pieces the benchmark scripts share: progress lines, option checks, baseline trees."""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def progress(message: str) -> None:
    """Print a time-stamped progress line at once."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def positive(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return number


def export_baseline(revision: str, work: Path) -> Path:
    """Export ``src/`` of ``revision`` under ``work`` once; return the folder for PYTHONPATH.

    Raises ValueError when ``revision`` is no commit of this repository.
    """
    found = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        check=False,
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        raise ValueError(f"--baseline {revision}: not a commit of this repository")
    commit = found.stdout.strip()
    tree = work / f"baseline-{commit[:12]}"
    if not (tree / "src" / "relgate").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "src"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree / "src"
