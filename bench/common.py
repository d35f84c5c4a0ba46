"""Small pieces the benchmark scripts share: progress lines and option checks."""

from __future__ import annotations

import argparse
import time


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
