"""The port every metric provider implements, and the error it raises when it cannot read."""

from __future__ import annotations

from typing import Protocol

from relgate.analysis.model import MetricQuery, Reading


class ProviderError(Exception):
    """A provider could not read its metric (unreachable, refused, malformed, too large).

    The message says what and where, for a person; the measurement's verdict is
    then inconclusive, never a pass, and never no data.
    """


class MetricProvider(Protocol):
    """Reads one metric for one side (canary or stable) of a rollout."""

    def begin(self, query: MetricQuery) -> None:
        """Called once per side when a run starts (a scrape takes its first reading).

        Raises ProviderError when that reading fails; the run goes on and the
        first window of that side is then inconclusive.
        """
        ...

    def read(self, query: MetricQuery) -> Reading:
        """Return the reading of the window that ends at ``query.at``.

        An empty reading (no value, no samples) is no data; raises ProviderError
        when the metric cannot be read.
        """
        ...

    def close(self) -> None:
        """Release what the provider holds (its HTTP connections); called when the run ends."""
        ...
