"""What a REGEX constraint costs on the SDK's hot path: RE2 (relgate) against Python's re.

For a few typical patterns and context values, the time of one match with
``re.search`` (the backtracking engine relgate used before) and with
relgate's :class:`RustRegex` (RE2), then the whole ``is_enabled`` of a flag
whose only strategy has that REGEX constraint. Last, the pathological
``^(a+)+$`` against ``"a" * n + "!"``: ``re`` only for small n (it doubles
with every character), RE2 for n = 30 000.

    .venv/bin/python bench/regex.py [--rounds N]
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import positive, progress

from relgate.flags import Context, Snapshot, is_enabled
from relgate.flags.regex import RustRegex, compile_rust_regex

# (Rust pattern, the same for Python's re, a context value that matches or not)
CASES: list[tuple[str, str, str]] = [
    (r"^[^@]+@example\.com$", r"^[^@]+@example\.com\Z", "someone.long-name@example.com"),
    (r"^user\d{3}$", r"^user\d{3}\Z", "user123"),
    (r"(?i)^beta-", r"(?i)^beta-", "BETA-tester-42"),
    (r"^(internal|staff)-", r"^(internal|staff)-", "customer-99881"),
]


def per_call_ns(call: Callable[[], object], rounds: int) -> float:
    """Return the median over 5 batches of the time of one call, in nanoseconds."""
    batches = []
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(rounds):
            call()
        batches.append((time.perf_counter_ns() - start) / rounds)
    return sorted(batches)[2]


def flag_with(pattern: str) -> Snapshot:
    constraint = {"contextName": "userId", "operator": "REGEX", "value": pattern}
    return Snapshot.from_unleash_features(
        {
            "version": 2,
            "features": [
                {
                    "name": "f",
                    "enabled": True,
                    "strategies": [{"name": "default", "constraints": [constraint]}],
                }
            ],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=positive, default=100_000)
    rounds = parser.parse_args().rounds
    progress(f"python {platform.python_version()}, {rounds} calls per batch")
    print("| pattern | value | re ns | RE2 ns | RE2 / re | is_enabled ns (RE2) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for rust, python, value in CASES:
        compiled = compile_rust_regex(rust)
        assert isinstance(compiled, RustRegex)
        backtracking = re.compile(python)
        assert compiled.matches(value) == (backtracking.search(value) is not None)
        re_ns = per_call_ns(partial(backtracking.search, value), rounds)
        re2_ns = per_call_ns(partial(compiled.matches, value), rounds)
        flag_ns = per_call_ns(
            partial(is_enabled, flag_with(rust), "f", Context(user_id=value)), rounds
        )
        print(
            f"| `{rust}` | `{value}` | {re_ns:.0f} | {re2_ns:.0f} | {re2_ns / re_ns:.1f}× "
            f"| {flag_ns:.0f} |"
        )
    print()
    print("| engine | `^(a+)+$` against | seconds |")
    print("| --- | --- | --- |")
    for n in (18, 20, 22):
        text = "a" * n + "!"
        start = time.perf_counter()
        re.compile(r"^(a+)+\Z").search(text)
        print(f"| re | {n} a's and ! | {time.perf_counter() - start:.3f} |")
    compiled = compile_rust_regex("^(a+)+$")
    assert isinstance(compiled, RustRegex)
    text = "a" * 30_000 + "!"
    start = time.perf_counter()
    compiled.matches(text)
    print(f"| RE2 | 30 000 a's and ! | {time.perf_counter() - start:.6f} |")


if __name__ == "__main__":
    main()
