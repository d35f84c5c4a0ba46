"""An analysis run: every metric measured at each interval, then a verdict and its action.

The clock, the sleep and the cancel event are given, so that a test runs a
five-minute analysis in no time and a person's pause or abort stops it between
two windows. Not wired into deployments yet: the rollout orchestration of
issue 11 drives it (one run per canary step, or before and after a blue-green
switch).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from relgate.analysis.config import AnalysisSpec, MetricSpec
from relgate.analysis.criteria import judge
from relgate.analysis.model import (
    AnalysisContext,
    AnalysisResult,
    Measurement,
    MetricOutcome,
    MetricQuery,
    Reading,
    Side,
    Verdict,
    worst,
)
from relgate.analysis.providers.ports import MetricProvider, ProviderError
from relgate.analysis.providers.registry import ProviderRegistry
from relgate.analysis.windows import failing_streak, metric_outcome
from relgate.clock import Clock, SystemClock


class AnalysisRun:
    """One run of an ``analysis:`` block for one rollout step.

    ``sleep(seconds)`` waits until the next window (by default the cancel
    event's wait, so a cancel ends the wait at once); ``on_measurement`` sees
    each measurement as it is taken (to store or show it).
    """

    def __init__(
        self,
        spec: AnalysisSpec,
        context: AnalysisContext,
        providers: ProviderRegistry,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], object] | None = None,
        cancel: threading.Event | None = None,
        on_measurement: Callable[[Measurement], None] | None = None,
    ) -> None:
        self.spec = spec
        self.context = context
        self._registry = providers
        self._clock = clock or SystemClock()
        self._cancel = cancel or threading.Event()
        self._sleep = sleep or self._cancel.wait
        self._on_measurement = on_measurement
        self._providers: dict[str, MetricProvider | ProviderError] = {}
        self.measurements: list[Measurement] = []

    def run(self) -> AnalysisResult:
        """Measure ``count`` windows (fewer when a metric fails early or on cancel).

        Returns the run's verdict, the ``on:`` table's action for it and every
        measurement. A cancelled run is inconclusive with ``cancelled`` set; its
        caller decides what the cancel meant.
        """
        if self._providers:
            raise RuntimeError("an AnalysisRun runs once; make a new one for the next step")
        start = self._clock.now()
        try:
            self._begin(start)
            windows, cancelled = self._windows(start)
        finally:
            for provider in self._providers.values():
                if not isinstance(provider, ProviderError):
                    provider.close()
        return self._result(windows, cancelled)

    def _windows(self, start: datetime) -> tuple[int, bool]:
        """Measure the windows; returns how many were measured and whether a cancel came."""
        spec = self.spec
        windows = 0
        cancelled = False
        for window in range(1, spec.count + 1):
            due = start + timedelta(seconds=spec.interval * window)
            remaining = (due - self._clock.now()).total_seconds()
            if not self._cancel.is_set() and remaining > 0:
                self._sleep(remaining)
            if self._cancel.is_set():
                cancelled = True
                break
            self._measure_window(window)
            windows = window
            if self._failed_early():
                break
        return windows, cancelled

    def _begin(self, at: datetime) -> None:
        for metric in self.spec.metrics:
            try:
                provider = self._registry.create(metric.provider)
            except ProviderError as exc:
                self._providers[metric.name] = exc
                continue
            self._providers[metric.name] = provider
            for side in self._sides(metric):
                # a failure shows in the first window: a scrape has nothing to measure from
                with contextlib.suppress(ProviderError):
                    provider.begin(self._query(metric, side, at))

    @staticmethod
    def _sides(metric: MetricSpec) -> tuple[Side, ...]:
        return (Side.CANARY, Side.STABLE) if metric.needs_stable else (Side.CANARY,)

    def _query(self, metric: MetricSpec, side: Side, at: datetime) -> MetricQuery:
        return MetricQuery(
            context=self.context,
            side=side,
            window_seconds=self.spec.window_seconds,
            at=at,
            samples=metric.judge is not None,
            requests=metric.comparative is not None and metric.comparative.min_requests is not None,
        )

    def _measure_window(self, window: int) -> list[Measurement]:
        """Measure every metric once, as window number ``window``; returns the measurements."""
        taken = [self._measure(metric, window) for metric in self.spec.metrics]
        for measurement in taken:
            self.measurements.append(measurement)
            if self._on_measurement is not None:
                self._on_measurement(measurement)
        return taken

    def _measure(self, metric: MetricSpec, window: int) -> Measurement:
        at = self._clock.now()
        provider = self._providers[metric.name]
        readings: dict[Side, Reading] = {}
        try:
            if isinstance(provider, ProviderError):
                raise provider
            for side in self._sides(metric):
                readings[side] = provider.read(self._query(metric, side, at))
        except ProviderError as exc:
            return Measurement(
                metric=metric.name,
                window=window,
                at=at,
                verdict=Verdict.INCONCLUSIVE,
                reason=f"could not be read: {exc}",
                canary=readings.get(Side.CANARY),
                stable=readings.get(Side.STABLE),
                error=str(exc),
            )
        canary, stable = readings[Side.CANARY], readings.get(Side.STABLE)
        judgement = judge(metric, canary, stable)
        return Measurement(
            metric=metric.name,
            window=window,
            at=at,
            verdict=judgement.verdict,
            reason=judgement.reason,
            canary=canary,
            stable=stable,
            p_value=judgement.p_value,
        )

    def _by_metric(self, name: str) -> list[Measurement]:
        return [measurement for measurement in self.measurements if measurement.metric == name]

    def _failed_early(self) -> bool:
        return any(
            failing_streak([m.verdict for m in self._by_metric(metric.name)])
            >= self.spec.consecutive
            for metric in self.spec.metrics
        )

    def _result(self, windows: int, cancelled: bool) -> AnalysisResult:
        outcomes = tuple(
            metric_outcome(metric.name, self._by_metric(metric.name), self.spec.consecutive)
            for metric in self.spec.metrics
        )
        verdict = worst([outcome.verdict for outcome in outcomes])
        if cancelled and verdict is not Verdict.FAIL:
            verdict = Verdict.INCONCLUSIVE
        return AnalysisResult(
            verdict=verdict,
            action=self.spec.on.action(verdict),
            reason=_reason(verdict, outcomes, windows, self.spec.count, cancelled),
            metrics=outcomes,
            measurements=tuple(self.measurements),
            windows=windows,
            cancelled=cancelled,
        )


def _reason(
    verdict: Verdict,
    outcomes: tuple[MetricOutcome, ...],
    windows: int,
    count: int,
    cancelled: bool,
) -> str:
    heading = f"{verdict} after {windows} of {count} windows" + (
        " (cancelled)" if cancelled else ""
    )
    shown = [outcome for outcome in outcomes if outcome.verdict is verdict] or list(outcomes)
    return heading + ": " + "; ".join(outcome.reason for outcome in shown)
