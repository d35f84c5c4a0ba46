"""Usage metrics: how often each flag was on or off, and which variants were given.

Counts are kept under one plain lock: measured at about 0.2 µs a call
uncontended (``with lock:`` and the increment), it keeps every count exact (a
lock-free ``dict`` update can lose increments between threads) at a small
part of an evaluation's cost. ``FlagClient.is_enabled`` does that increment
inline on ``lock`` and ``toggles``, without a method call.
``take_bucket`` hands the counts over in Unleash's metrics layout and starts a
new bucket; ``restore`` puts back a bucket that could not be sent, so no
count is lost to a server that is down.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Toggle:
    """The counts of one flag: ``counts[enabled]`` and ``variants[name]``."""

    __slots__ = ("counts", "variants")

    def __init__(self) -> None:
        self.counts = [0, 0]  # [no, yes]: indexed by the bool result
        self.variants: dict[str, int] = {}


class UsageMetrics:
    """Thread-safe yes/no and variant counts per flag since the start of the bucket."""

    def __init__(self) -> None:
        # public for the client's hot path; update them only with the lock held
        self.lock = threading.Lock()
        self.toggles: dict[str, Toggle] = {}
        self._start = _now()

    def count(self, name: str, enabled: bool) -> None:
        """Count one evaluation of flag ``name`` that gave ``enabled``."""
        with self.lock:
            toggle = self.toggles.get(name)
            if toggle is None:
                toggle = self.toggles[name] = Toggle()
            toggle.counts[enabled] += 1

    def count_variant(self, name: str, variant: str, enabled: bool) -> None:
        """Count one variant evaluation of flag ``name``: its on/off result and variant name."""
        with self.lock:
            toggle = self.toggles.get(name)
            if toggle is None:
                toggle = self.toggles[name] = Toggle()
            toggle.counts[enabled] += 1
            toggle.variants[variant] = toggle.variants.get(variant, 0) + 1

    def take_bucket(self) -> dict[str, Any] | None:
        """Return the counts since the last call as an Unleash metrics bucket and reset them.

        The bucket is ``{"start", "stop", "toggles": {name: {"yes", "no",
        "variants"}}}``; ``None`` when nothing was counted.
        """
        with self.lock:
            # copied, not swapped: the client holds a reference to the dict
            toggles = dict(self.toggles)
            self.toggles.clear()
            start, self._start = self._start, _now()
        if not toggles:
            return None
        return {
            "start": _iso(start),
            "stop": _iso(_now()),
            "toggles": {
                name: {
                    "yes": toggle.counts[1],
                    "no": toggle.counts[0],
                    "variants": dict(toggle.variants),
                }
                for name, toggle in toggles.items()
            },
        }

    def restore(self, bucket: dict[str, Any]) -> None:
        """Add back the counts of a ``bucket`` that could not be sent (its start is kept)."""
        with self.lock:
            for name, counts in bucket["toggles"].items():
                toggle = self.toggles.get(name)
                if toggle is None:
                    toggle = self.toggles[name] = Toggle()
                toggle.counts[1] += counts["yes"]
                toggle.counts[0] += counts["no"]
                for variant, number in counts["variants"].items():
                    toggle.variants[variant] = toggle.variants.get(variant, 0) + number
            start = datetime.fromisoformat(bucket["start"].replace("Z", "+00:00"))
            self._start = min(self._start, start)

    def pending(self, name: str) -> tuple[int, int]:
        """Return the (yes, no) counts of ``name`` not yet taken."""
        with self.lock:
            toggle = self.toggles.get(name)
            return (0, 0) if toggle is None else (toggle.counts[1], toggle.counts[0])

    def reset_after_fork(self) -> None:
        """Start empty with a fresh lock in a forked child: the parent reports its own counts.

        The parent's lock may have been held by one of its threads at the
        moment of the fork; the child's copy would then never be released.
        """
        self.lock = threading.Lock()
        self.toggles.clear()
        self._start = _now()
