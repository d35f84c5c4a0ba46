"""The scrape provider against demo instances directly, and the command provider with scripts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relgate.analysis.config import AnalysisSpec, CommandProviderSpec, ScrapeProviderSpec
from relgate.analysis.model import Action, AnalysisContext, MetricQuery, Side, Verdict
from relgate.analysis.providers.command import CommandProvider
from relgate.analysis.providers.ports import ProviderError
from relgate.analysis.providers.registry import default_registry
from relgate.analysis.providers.scrape import ScrapeProvider
from relgate.analysis.run import AnalysisRun
from relgate.clock import FixedClock
from tests.support.demo import DemoInstance, start_demo
from tests.support.load import run_load

CONTEXT = AnalysisContext("shop", "production", stable_version="1.1.0", canary_version="1.2.0")


def query(side: Side = Side.CANARY, **extra: Any) -> MetricQuery:
    return MetricQuery(CONTEXT, side, 30.0, datetime.now(UTC), **extra)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[dict[Side, DemoInstance]]:
    stable = start_demo(tmp_path, "1.1.0", SERVICE="shop")
    canary = None
    try:
        canary = start_demo(tmp_path, "1.2.0", SERVICE="shop", ERROR_RATE="0.05", LATENCY_MS="30")
        yield {Side.STABLE: stable, Side.CANARY: canary}
    finally:
        stable.stop()
        if canary is not None:
            canary.stop()


def scrape_spec(pair: dict[Side, DemoInstance], **settings: Any) -> ScrapeProviderSpec:
    return ScrapeProviderSpec.model_validate(
        {
            "type": "scrape",
            "targets": {
                "stable": pair[Side.STABLE].metrics_url,
                "canary": pair[Side.CANARY].metrics_url,
            },
            "metric": "http_requests_total",
            **settings,
        }
    )


ERROR_RATIO = {
    "measure": "ratio",
    "select": {"code": "5..", "version": "{{version}}"},
    "total": {"version": "{{version}}"},
}


def test_the_scrape_measures_the_error_ratio_between_two_scrapes(pair) -> None:
    reader = ScrapeProvider(scrape_spec(pair, **ERROR_RATIO))
    try:
        for side in Side:
            reader.begin(query(side))
        run_load(pair[Side.CANARY].url + "/", requests=200)
        run_load(pair[Side.STABLE].url + "/", requests=100)
        canary, stable = reader.read(query(Side.CANARY)), reader.read(query(Side.STABLE))
        # nothing sent since: the next window has no requests, which is no data
        quiet = reader.read(query(Side.CANARY))
    finally:
        reader.close()
    assert (canary.value, canary.requests) == (10 / 200, 200)
    assert (stable.value, stable.requests) == (0.0, 100)
    assert (quiet.value, quiet.requests) == (None, 0.0)


def test_the_scrape_reads_a_quantile_of_the_histogram(pair) -> None:
    spec = scrape_spec(
        pair,
        metric="http_request_duration_seconds",
        measure="quantile",
        quantile=0.95,
        select={"version": "{{version}}"},
    )
    reader = ScrapeProvider(spec)
    try:
        reader.begin(query())
        run_load(pair[Side.CANARY].url + "/", requests=40)
        p95 = reader.read(query())
    finally:
        reader.close()
    # LATENCY_MS=30: every observation falls in the (0.025, 0.05] bucket
    assert p95.requests == 40
    assert p95.value is not None and 0.025 < p95.value <= 0.05


def test_a_run_with_the_scrape_aborts_the_canary_and_passes_the_stable(pair) -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))

    def run_against(canary: DemoInstance) -> Any:
        def sleep(seconds: float) -> None:
            # the traffic of one window: exactly 5 errors in 100 requests at ERROR_RATE=0.05
            run_load(canary.url + "/", requests=100)
            clock.advance(seconds=seconds)

        spec = AnalysisSpec.model_validate(
            {
                "interval": "30s",
                "count": 3,
                "consecutive": 2,
                "metrics": [
                    {
                        "name": "error-ratio",
                        "provider": {
                            "type": "scrape",
                            "targets": {"stable": canary.metrics_url, "canary": canary.metrics_url},
                            "metric": "http_requests_total",
                            **ERROR_RATIO,
                        },
                        "threshold": {"max": 0.01},
                    }
                ],
            }
        )
        context = AnalysisContext("shop", "production", "1.1.0", canary.version)
        return AnalysisRun(spec, context, default_registry(), clock=clock, sleep=sleep).run()

    bad = run_against(pair[Side.CANARY])
    good = run_against(pair[Side.STABLE])
    assert (bad.verdict, bad.action, bad.windows) == (Verdict.FAIL, Action.ABORT, 2)
    assert [m.reason for m in bad.measurements] == ["0.05 is above the maximum 0.01"] * 2
    assert (good.verdict, good.action, good.windows) == (Verdict.PASS, Action.CONTINUE, 3)


def test_a_scrape_of_an_instance_that_is_gone_raises(pair) -> None:
    reader = ScrapeProvider(scrape_spec(pair, **ERROR_RATIO))
    pair[Side.CANARY].stop()
    try:
        with pytest.raises(ProviderError, match=r"the canary instance's .* could not be reached"):
            reader.begin(query())
    finally:
        reader.close()


def command(tmp_path: Path, script: str, **settings: Any) -> CommandProvider:
    path = tmp_path / "metric.py"
    path.write_text(script)
    spec = CommandProviderSpec.model_validate(
        {"type": "command", "command": [sys.executable, str(path), "{{version}}"], **settings}
    )
    return CommandProvider(spec)


def test_a_command_prints_a_number_with_the_rollout_in_its_words_and_variables(tmp_path) -> None:
    script = (
        "import os, sys\n"
        "assert sys.argv[1] == os.environ['RELGATE_ANALYSIS_VERSION'], sys.argv\n"
        "print(0.25 if os.environ['RELGATE_ANALYSIS_SIDE'] == 'canary' else 0.5)\n"
    )
    reader = command(tmp_path, script)
    assert reader.read(query(Side.CANARY)).value == 0.25
    assert reader.read(query(Side.STABLE)).value == 0.5


def test_a_command_prints_samples_no_data_or_json(tmp_path) -> None:
    assert command(tmp_path, "print([1, 2, 3])").read(query()).samples == (1.0, 2.0, 3.0)
    assert command(tmp_path, "print('NaN')").read(query()).value is None
    assert command(tmp_path, "pass").read(query()).empty
    reading = command(tmp_path, 'print(\'{"value": 0.1, "requests": 30}\')').read(query())
    assert (reading.value, reading.requests) == (0.1, 30.0)


def test_a_hostile_version_reaches_the_command_as_one_word_and_runs_nothing(tmp_path) -> None:
    hostile = f"1.2.0; touch {tmp_path}/pwned $(touch {tmp_path}/pwned2)"
    script = "import sys\nprint(len(sys.argv))\n"
    reader = command(tmp_path, script)
    context = AnalysisContext("shop", "production", "1.1.0", hostile)
    reading = reader.read(MetricQuery(context, Side.CANARY, 30.0, datetime.now(UTC)))
    assert reading.value == 2.0
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


@pytest.mark.parametrize(
    ("script", "settings", "message"),
    [
        ("import sys\nsys.stderr.write('no token')\nsys.exit(3)", {}, "exited 3: no token"),
        ("import time\ntime.sleep(30)", {"timeout": "0.5s"}, "did not finish within 0.5 s"),
        ("print('x' * 100000)", {"max_output_bytes": 1024}, "printed more than 1024 bytes"),
        ("print('high')", {}, "printed 'high': not a number nor JSON"),
        ("print('{\"value\": true}')", {}, "the command's value is True, not a number"),
    ],
)
def test_a_command_that_fails_raises_with_what_it_did(tmp_path, script, settings, message) -> None:
    with pytest.raises(ProviderError, match=message):
        command(tmp_path, script, **settings).read(query())


def test_a_command_that_cannot_start_raises(tmp_path) -> None:
    spec = CommandProviderSpec(type="command", command=[str(tmp_path / "missing")])
    with pytest.raises(ProviderError, match="could not start: No such file or directory"):
        CommandProvider(spec).read(query())


def test_a_judge_over_command_samples_fails_a_slower_canary(tmp_path) -> None:
    script = (
        "import os, json\n"
        "canary = os.environ['RELGATE_ANALYSIS_SIDE'] == 'canary'\n"
        "print(json.dumps([(130 if canary else 100) + i % 7 for i in range(30)]))\n"
    )
    (tmp_path / "latency.py").write_text(script)
    spec = AnalysisSpec.model_validate(
        {
            "interval": "1m",
            "count": 1,
            "metrics": [
                {
                    "name": "latency",
                    "provider": {
                        "type": "command",
                        "command": [sys.executable, str(tmp_path / "latency.py")],
                    },
                    "judge": {"type": "mann_whitney", "direction": "higher_is_worse"},
                }
            ],
        }
    )
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    result = AnalysisRun(
        spec, CONTEXT, default_registry(), clock=clock, sleep=lambda s: clock.advance(seconds=s)
    ).run()
    assert (result.verdict, result.action) == (Verdict.FAIL, Action.ABORT)
    assert result.measurements[0].reason.startswith(
        "the canary's values are higher than stable's (median 133 against 103, 30 and 30 samples;"
    )
