"""AnalysisRun over scripted providers, a fixed clock and a fake sleep; the K-window rules."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relgate.analysis.config import AnalysisSpec, ProviderSpec
from relgate.analysis.model import (
    Action,
    AnalysisContext,
    Measurement,
    MetricQuery,
    Reading,
    Side,
    Verdict,
)
from relgate.analysis.providers.ports import MetricProvider, ProviderError
from relgate.analysis.providers.registry import ProviderRegistry, default_registry
from relgate.analysis.run import AnalysisRun
from relgate.analysis.windows import metric_outcome
from relgate.clock import FixedClock

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CONTEXT = AnalysisContext("shop", "production", stable_version="1.1.0", canary_version="1.2.0")


class Scripted:
    """A provider that answers each reading from a list of values (an Exception raises)."""

    def __init__(self, values: Iterator[Any]) -> None:
        self.values = values
        self.queries: list[MetricQuery] = []
        self.begun: list[Side] = []
        self.closed = False

    def begin(self, query: MetricQuery) -> None:
        self.begun.append(query.side)

    def read(self, query: MetricQuery) -> Reading:
        self.queries.append(query)
        value = next(self.values)
        if isinstance(value, Exception):
            raise value
        return value if isinstance(value, Reading) else Reading(value=value)

    def close(self) -> None:
        self.closed = True


def registry(*scripts: list[Any]) -> tuple[ProviderRegistry, list[Scripted]]:
    made: list[Scripted] = []
    pending = list(scripts)

    def factory(spec: ProviderSpec) -> MetricProvider:
        provider = Scripted(iter(pending.pop(0)))
        made.append(provider)
        return provider

    return default_registry().with_factory("command", factory), made


def spec(*criteria: dict[str, Any], **settings: Any) -> AnalysisSpec:
    return AnalysisSpec.model_validate(
        {
            "interval": "30s",
            "count": 5,
            "metrics": [
                {"name": f"m{index}", "provider": {"type": "command", "command": ["x"]}, **c}
                for index, c in enumerate(criteria)
            ],
            **settings,
        }
    )


def run(analysis: AnalysisSpec, *scripts: list[Any], **options: Any):
    clock = FixedClock(START)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds=seconds)

    providers, made = registry(*scripts)
    result = AnalysisRun(analysis, CONTEXT, providers, clock=clock, sleep=sleep, **options).run()
    return result, made, slept


MAX = {"threshold": {"max": 0.01}}


def test_a_healthy_canary_passes_after_every_window_and_continues() -> None:
    result, made, slept = run(spec(MAX), [0.0, 0.001, 0.0, 0.002, 0.0])
    assert (result.verdict, result.action, result.windows) == (Verdict.PASS, Action.CONTINUE, 5)
    assert result.reason == (
        "pass after 5 of 5 windows: m0 passed window 5 (5 of 5 windows passed) "
        "(window 5: 0 is at most 0.01)"
    )
    assert slept == [30.0] * 5
    assert [m.at for m in result.measurements] == [
        START + timedelta(seconds=30 * n) for n in range(1, 6)
    ]
    assert [q.side for q in made[0].queries] == [Side.CANARY] * 5
    assert made[0].begun == [Side.CANARY] and made[0].closed


def test_k_consecutive_failures_fail_the_run_at_once_and_abort() -> None:
    result, made, _ = run(spec(MAX, consecutive=2), [0.05, 0.0, 0.05, 0.05, 0.0])
    assert (result.verdict, result.action, result.windows) == (Verdict.FAIL, Action.ABORT, 4)
    assert [m.verdict for m in result.measurements] == [
        Verdict.FAIL,
        Verdict.PASS,
        Verdict.FAIL,
        Verdict.FAIL,
    ]
    assert result.reason == (
        "fail after 4 of 5 windows: m0 failed 2 windows in a row "
        "(window 4: 0.05 is above the maximum 0.01)"
    )
    assert made[0].closed


def test_a_failure_not_repeated_k_times_is_a_blip_unless_it_is_at_the_end() -> None:
    blip, _, _ = run(spec(MAX, consecutive=2), [0.0, 0.05, 0.0, 0.0, 0.0])
    late, _, _ = run(spec(MAX, consecutive=2), [0.0, 0.0, 0.0, 0.0, 0.05])
    assert blip.verdict is Verdict.PASS
    assert (late.verdict, late.action) == (Verdict.INCONCLUSIVE, Action.PAUSE)
    assert late.reason == (
        "inconclusive after 5 of 5 windows: m0 failed window 5, not 2 in a row "
        "(last: 0.05 is above the maximum 0.01)"
    )


def test_no_traffic_is_no_data_and_pauses_instead_of_aborting() -> None:
    result, _, _ = run(spec(MAX), [None] * 5)
    assert (result.verdict, result.action) == (Verdict.NODATA, Action.PAUSE)
    assert result.reason == (
        "nodata after 5 of 5 windows: m0 had no data in window 5 "
        "(no data: the query answered nothing for the canary)"
    )


def test_the_on_table_decides_the_action() -> None:
    table = {"on": {"nodata": "continue", "fail": "pause"}}
    quiet, _, _ = run(spec(MAX, **table), [None] * 5)
    failing, _, _ = run(spec(MAX, **table), [1.0])
    assert (quiet.verdict, quiet.action) == (Verdict.NODATA, Action.CONTINUE)
    assert (failing.verdict, failing.action) == (Verdict.FAIL, Action.PAUSE)


def test_a_provider_that_cannot_be_read_is_inconclusive_never_a_pass() -> None:
    result, _, _ = run(spec(MAX, count=1), [ProviderError("Prometheus at x could not be reached")])
    measurement = result.measurements[0]
    assert (result.verdict, result.action) == (Verdict.INCONCLUSIVE, Action.PAUSE)
    assert measurement.reason == "could not be read: Prometheus at x could not be reached"
    assert measurement.error == "Prometheus at x could not be reached"


def test_comparative_metrics_read_both_sides_and_the_worst_metric_decides() -> None:
    comparative = {"comparative": {"max_ratio_to_stable": 1.05}}
    result, made, _ = run(spec(MAX, comparative, count=1), [0.0], [Reading(0.5), Reading(0.3)])
    assert [q.side for q in made[1].queries] == [Side.CANARY, Side.STABLE]
    assert made[1].begun == [Side.CANARY, Side.STABLE]
    assert result.verdict is Verdict.FAIL
    assert [o.verdict for o in result.metrics] == [Verdict.PASS, Verdict.FAIL]
    assert result.reason == (
        "fail after 1 of 1 windows: m1 failed 1 window in a row "
        "(window 1: canary 0.5 is above stable 0.3 × 1.05 = 0.315)"
    )


def test_a_judge_asks_for_samples_and_min_requests_for_request_counts() -> None:
    judged = {"judge": {"type": "mann_whitney"}}
    counted = {"comparative": {"max_ratio_to_stable": 2, "min_requests": 10}}
    samples = Reading(samples=tuple(float(i) for i in range(12)))
    _, made, _ = run(
        spec(judged, counted, count=1),
        [samples, samples],
        [Reading(1, requests=20), Reading(1, requests=20)],
    )
    assert [(q.samples, q.requests) for q in made[0].queries] == [(True, False)] * 2
    assert [(q.samples, q.requests) for q in made[1].queries] == [(False, True)] * 2


def test_a_cancel_stops_the_run_between_windows_as_inconclusive() -> None:
    cancel = threading.Event()
    seen: list[Measurement] = []

    def record(measurement: Measurement) -> None:
        seen.append(measurement)
        if len(seen) == 2:
            cancel.set()

    result, made, _ = run(spec(MAX), [0.0] * 5, cancel=cancel, on_measurement=record)
    assert (result.verdict, result.windows, result.cancelled) == (Verdict.INCONCLUSIVE, 2, True)
    assert result.reason.startswith("inconclusive after 2 of 5 windows (cancelled): ")
    assert len(seen) == 2 and made[0].closed


def test_the_default_sleep_is_the_cancel_events_wait() -> None:
    cancel = threading.Event()
    cancel.set()
    providers, made = registry([0.0])
    result = AnalysisRun(spec(MAX), CONTEXT, providers, cancel=cancel).run()
    assert (result.windows, result.cancelled, made[0].queries) == (0, True, [])


def test_a_missing_provider_type_is_inconclusive_in_every_window() -> None:
    empty = ProviderRegistry({})
    clock = FixedClock(START)
    result = AnalysisRun(
        spec(MAX, count=2),
        CONTEXT,
        empty,
        clock=clock,
        sleep=lambda s: clock.advance(seconds=s),
    ).run()
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.measurements[0].reason == (
        "could not be read: this server has no 'command' metric provider (it has: none)"
    )


def measured(*verdicts: Verdict) -> list[Measurement]:
    return [
        Measurement("m", n, START, verdict, f"reason {n}")
        for n, verdict in enumerate(verdicts, start=1)
    ]


P, F, U, N = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.NODATA


@pytest.mark.parametrize(
    ("verdicts", "k", "outcome"),
    [
        ((P, P, P), 1, P),
        ((P, P, F), 1, F),
        ((F, F, P, F, F), 2, F),
        ((F, P, P), 2, P),
        ((P, P, F), 2, U),
        ((P, U, P), 2, U),
        ((P, P, N), 2, N),
        ((N, N, N), 1, N),
        ((P, N, P, P), 2, P),
        ((P,), 2, U),
        ((N, F, U), 3, U),
    ],
)
def test_a_metrics_verdict_over_its_windows(verdicts: tuple, k: int, outcome: Verdict) -> None:
    assert metric_outcome("m", measured(*verdicts), k).verdict is outcome


def test_a_run_runs_once() -> None:
    clock = FixedClock(START)
    providers, _ = registry([0.0])
    once = AnalysisRun(
        spec(MAX, count=1),
        CONTEXT,
        providers,
        clock=clock,
        sleep=lambda s: clock.advance(seconds=s),
    )
    assert once.run().verdict is Verdict.PASS
    with pytest.raises(RuntimeError, match="an AnalysisRun runs once"):
        once.run()
