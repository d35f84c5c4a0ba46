"""A metric's verdict over the windows of a run, with K consecutive windows (pure).

With ``consecutive: K`` and the window verdicts of one metric, in order:

1. **fail** when K windows in a row failed; the run stops at that window.
2. **inconclusive** when fewer than K windows were measured (a cancelled run).
3. **pass** when each of the last K windows passed; an earlier failure that was
   not repeated K times in a row (a blip) does not count against it.
4. **inconclusive** when one of the last K windows failed (a failure not yet
   confirmed) or was inconclusive.
5. **nodata** otherwise: the last K windows hold no data (no traffic), or no
   data beside passes.

The run's verdict is the worst of its metrics' (fail > inconclusive > nodata >
pass). K = 1 fails the run at the first failing window, and passes it only
when the last window passed.
"""

from __future__ import annotations

from collections.abc import Sequence

from relgate.analysis.model import Measurement, MetricOutcome, Verdict


def failing_streak(verdicts: Sequence[Verdict]) -> int:
    """Return how many windows in a row failed at the end of ``verdicts``."""
    streak = 0
    for verdict in reversed(verdicts):
        if verdict is not Verdict.FAIL:
            break
        streak += 1
    return streak


def _windows(numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return f"window {numbers[0]}"
    return f"windows {', '.join(str(n) for n in numbers[:-1])} and {numbers[-1]}"


def metric_outcome(
    name: str, measurements: Sequence[Measurement], consecutive: int
) -> MetricOutcome:
    """Return the verdict of one metric over its measurements (one per window, in order)."""
    verdicts = [measurement.verdict for measurement in measurements]
    last = measurements[-1] if measurements else None
    said = f" ({_windows([last.window])}: {last.reason})" if last else ""
    streak = failing_streak(verdicts)
    if streak >= consecutive:
        return MetricOutcome(
            name,
            Verdict.FAIL,
            f"{name} failed {streak} window{'s' if streak > 1 else ''} in a row{said}",
        )
    if len(measurements) < consecutive:
        return MetricOutcome(
            name,
            Verdict.INCONCLUSIVE,
            f"{name} was measured in {len(measurements)} of the {consecutive} windows needed",
        )
    tail = measurements[-consecutive:]
    numbers = [measurement.window for measurement in tail]
    if all(measurement.verdict is Verdict.PASS for measurement in tail):
        passed = sum(1 for verdict in verdicts if verdict is Verdict.PASS)
        return MetricOutcome(
            name,
            Verdict.PASS,
            f"{name} passed {_windows(numbers)} ({passed} of {len(verdicts)} windows passed)"
            + said,
        )
    failed = [m for m in tail if m.verdict is Verdict.FAIL]
    if failed:
        return MetricOutcome(
            name,
            Verdict.INCONCLUSIVE,
            f"{name} failed {_windows([m.window for m in failed])}, not {consecutive} in a "
            f"row (last: {failed[-1].reason})",
        )
    unsure = [m for m in tail if m.verdict is Verdict.INCONCLUSIVE]
    if unsure:
        return MetricOutcome(
            name,
            Verdict.INCONCLUSIVE,
            f"{name} was inconclusive in {_windows([m.window for m in unsure])} "
            f"({unsure[-1].reason})",
        )
    empty = [m for m in tail if m.verdict is Verdict.NODATA]
    return MetricOutcome(
        name,
        Verdict.NODATA,
        f"{name} had no data in {_windows([m.window for m in empty])} ({empty[-1].reason})",
    )
