"""When a failed delivery is tried again: exponential back-off with full jitter (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``base * 2**(attempt-1)``, at most ``cap`` seconds, with jitter over its upper half.

    The jitter spreads retries of many deliveries that failed together (a
    receiver that was down) so they do not all return at the same instant;
    keeping the lower half fixed means the delay still grows with every attempt.
    """

    base: float = 2.0
    cap: float = 600.0

    def ceiling(self, attempt: int) -> float:
        """Return the longest delay after failed attempt number ``attempt`` (1 = the first)."""
        exponent = min(max(attempt, 1) - 1, 60)
        return float(min(self.cap, self.base * (2**exponent)))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Return the seconds to wait after failed attempt ``attempt``: in [ceiling/2, ceiling]."""
        ceiling = self.ceiling(attempt)
        draw = (rng or random).random()
        return ceiling / 2 + draw * ceiling / 2
