"""Analysis against a real Prometheus scraping demo instances of several versions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from relgate.analysis.config import AnalysisSpec, PrometheusProviderSpec
from relgate.analysis.model import (
    Action,
    AnalysisContext,
    AnalysisResult,
    MetricQuery,
    Reading,
    Side,
    Verdict,
)
from relgate.analysis.providers.ports import ProviderError
from relgate.analysis.providers.prometheus import PrometheusProvider
from relgate.analysis.providers.registry import default_registry
from relgate.analysis.run import AnalysisRun
from tests.integration.analysis.conftest import BAD, HEALTHY, IDLE, SLOW, STABLE, Fleet
from tests.support.server import wait_for

pytestmark = pytest.mark.slow

SELECT = 'service="{{service}}",version="{{version}}"'
ERROR_RATIO = (
    f'sum(rate(http_requests_total{{{SELECT},code=~"5.."}}[{{{{window}}}}]))'
    f" / sum(rate(http_requests_total{{{SELECT}}}[{{{{window}}}}]))"
)
P95 = (
    "histogram_quantile(0.95, sum by (le) "
    f"(rate(http_request_duration_seconds_bucket{{{SELECT}}}[{{{{window}}}}])))"
)
REQUESTS = f"sum(increase(http_requests_total{{{SELECT}}}[{{{{window}}}}]))"


def context(canary: str, stable: str = STABLE) -> AnalysisContext:
    return AnalysisContext(
        service="shop", environment="production", stable_version=stable, canary_version=canary
    )


def provider(fleet: Fleet, query: str, **settings: Any) -> PrometheusProviderSpec:
    return PrometheusProviderSpec.model_validate(
        {"type": "prometheus", "address": fleet.prometheus.url, "query": query, **settings}
    )


def analysis(fleet: Fleet, criterion: dict[str, Any], query: str = ERROR_RATIO, **extra: Any):
    settings = extra.pop("provider", {})
    return AnalysisSpec.model_validate(
        {
            "interval": "0.2s",
            "window": extra.pop("window", "10s"),
            "count": 1,
            "metrics": [
                {
                    "name": "m",
                    "provider": provider(fleet, query, **settings).model_dump(),
                    **criterion,
                }
            ],
            **extra,
        }
    )


def run(spec: AnalysisSpec, canary: str, stable: str = STABLE) -> AnalysisResult:
    return AnalysisRun(spec, context(canary, stable), default_registry()).run()


def read(fleet: Fleet, query: str, version: str, *, samples: bool = False, window: float = 10):
    reader = PrometheusProvider(provider(fleet, query, step="1s"))
    try:
        at = datetime.now(UTC)
        return reader.read(MetricQuery(context(version), Side.CANARY, window, at, samples=samples))
    finally:
        reader.close()


@pytest.fixture(scope="module")
def warm(fleet: Fleet) -> Fleet:
    """Wait until Prometheus holds enough of every loaded version to judge it."""
    wait_for(lambda: fleet.prometheus.targets_up() == 5, 60)
    for version in (STABLE, HEALTHY, BAD, SLOW):
        wait_for(lambda v=version: read(fleet, ERROR_RATIO, v).value is not None, 60)
    # the bad canary's 5 % shows in every 10 s window once a few have passed
    wait_for(lambda: (read(fleet, ERROR_RATIO, BAD).value or 0) > 0.02, 60)
    for version in (STABLE, HEALTHY, BAD, SLOW):
        wait_for(
            lambda v=version: (
                len(read(fleet, ERROR_RATIO, v, samples=True, window=20).samples) >= 15
            ),
            60,
        )
    return fleet


def test_the_canarys_error_ratio_fails_the_threshold_while_stable_passes(warm: Fleet) -> None:
    spec = analysis(warm, {"threshold": {"max": 0.01}})
    bad = run(spec, canary=BAD)
    good = run(spec, canary=STABLE)
    assert (bad.verdict, bad.action) == (Verdict.FAIL, Action.ABORT)
    measurement = bad.measurements[0]
    assert measurement.canary is not None and measurement.canary.value is not None
    assert 0.02 < measurement.canary.value < 0.1
    assert "is above the maximum 0.01" in measurement.reason
    assert (good.verdict, good.action) == (Verdict.PASS, Action.CONTINUE)
    assert good.measurements[0].canary == Reading(value=0.0)
    assert good.measurements[0].reason == "0 is at most 0.01"


def test_a_version_without_traffic_is_no_data_and_pauses(warm: Fleet) -> None:
    spec = analysis(warm, {"threshold": {"max": 0.01}})
    idle = run(spec, canary=IDLE)  # scraped, but no request: 0 / 0 is NaN
    absent = run(spec, canary="9.9.9")  # no instance at all: an empty answer
    for result in (idle, absent):
        assert (result.verdict, result.action) == (Verdict.NODATA, Action.PAUSE)
        assert result.measurements[0].reason == (
            "no data: the query answered nothing for the canary"
        )


def test_a_hostile_version_stays_one_label_value(warm: Fleet) -> None:
    spec = analysis(warm, {"threshold": {"max": 0.01}})
    injected = run(spec, canary=f'{BAD}"}} or vector(1) #')
    everything = analysis(
        warm, {"threshold": {"max": 0.01}}, query=ERROR_RATIO.replace('version="', 'version=~"')
    )
    as_regex = run(everything, canary=".*")
    assert injected.verdict is Verdict.NODATA, injected.reason
    assert as_regex.verdict is Verdict.NODATA, as_regex.reason
    # the same regex query with a real version reads it, so the matcher itself works
    assert run(everything, canary=BAD).verdict is Verdict.FAIL


def test_comparative_against_stable_needs_its_requests(warm: Fleet) -> None:
    def compare(canary: str, query: str, **criterion: Any) -> AnalysisResult:
        spec = analysis(
            warm,
            {"comparative": {"max_ratio_to_stable": 1.05, **criterion}},
            query=query,
            provider={"requests_query": REQUESTS},
        )
        return run(spec, canary)

    bad = compare(BAD, ERROR_RATIO, min_requests=20)
    healthy = compare(HEALTHY, ERROR_RATIO, min_requests=20)
    slow = compare(SLOW, P95, min_requests=20)
    too_few = compare(HEALTHY, ERROR_RATIO, min_requests=1_000_000)
    assert bad.verdict is Verdict.FAIL
    assert bad.measurements[0].reason.startswith("canary 0.0")
    assert "is above stable 0 × 1.05 = 0" in bad.measurements[0].reason
    assert healthy.verdict is Verdict.PASS, healthy.reason
    assert slow.verdict is Verdict.FAIL, slow.reason
    assert too_few.verdict is Verdict.INCONCLUSIVE
    assert "fewer than the 1000000 needed to compare" in too_few.measurements[0].reason
    assert too_few.action is Action.PAUSE
    counted = too_few.measurements[0].canary
    assert counted is not None and counted.requests is not None and counted.requests > 20


def test_mann_whitney_on_the_samples_of_both_versions(warm: Fleet) -> None:
    def judged(canary: str, query: str) -> AnalysisResult:
        spec = analysis(
            warm,
            {"judge": {"type": "mann_whitney", "alpha": 0.05, "direction": "higher_is_worse"}},
            query=query,
            window="20s",
            provider={"step": "1s"},
        )
        return run(spec, canary)

    errors = judged(BAD, ERROR_RATIO)
    latency = judged(SLOW, P95)
    healthy = judged(HEALTHY, ERROR_RATIO)
    for result in (errors, latency):
        measurement = result.measurements[0]
        assert result.verdict is Verdict.FAIL, result.reason
        assert measurement.p_value is not None and measurement.p_value < 0.05
        assert "the canary's values are higher than stable's" in measurement.reason
        assert measurement.canary is not None and len(measurement.canary.samples) >= 15
    assert healthy.verdict is Verdict.PASS, healthy.reason
    assert healthy.measurements[0].p_value == 1.0  # both all zero: no difference at all


def test_a_query_prometheus_refuses_is_inconclusive_with_its_reason(warm: Fleet) -> None:
    broken = analysis(
        warm, {"threshold": {"max": 1}}, query='rate(http_requests_total{code="5"}[0s]'
    )
    series = analysis(warm, {"threshold": {"max": 1}}, query="http_requests_total")
    refused = run(broken, canary=BAD)
    many = run(series, canary=BAD)
    assert refused.verdict is Verdict.INCONCLUSIVE
    assert refused.measurements[0].reason.startswith(
        f"could not be read: Prometheus at {warm.prometheus.url} refused the query (bad_data): "
    )
    assert many.verdict is Verdict.INCONCLUSIVE
    assert "series" in many.measurements[0].reason
    assert "aggregate it, e.g. sum(...)" in many.measurements[0].reason


def test_a_run_of_several_windows_on_the_real_clock_aborts_the_bad_canary(warm: Fleet) -> None:
    spec = AnalysisSpec.model_validate(
        {
            "interval": "0.5s",
            "window": "10s",
            "count": 4,
            "consecutive": 2,
            "metrics": [
                {
                    "name": "error-ratio",
                    "provider": provider(warm, ERROR_RATIO).model_dump(),
                    "threshold": {"max": 0.01},
                }
            ],
        }
    )
    seen: list[str] = []
    result = AnalysisRun(
        spec,
        context(BAD),
        default_registry(),
        cancel=threading.Event(),
        on_measurement=lambda m: seen.append(m.verdict),
    ).run()
    assert (result.verdict, result.action, result.windows) == (Verdict.FAIL, Action.ABORT, 2)
    assert seen == [Verdict.FAIL, Verdict.FAIL]
    assert result.reason.startswith(
        "fail after 2 of 4 windows: error-ratio failed 2 windows in a row"
    )


def test_the_provider_reads_an_instant_scalar_and_raises_on_a_string(warm: Fleet) -> None:
    assert read(warm, "scalar(vector(0.5))", STABLE).value == 0.5
    with pytest.raises(ProviderError, match="result of type 'string'"):
        read(warm, '"text"', STABLE)
