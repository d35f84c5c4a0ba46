"""The analysis: block validated as relgate.yaml is: errors name the line and the field."""

from __future__ import annotations

import textwrap

import pytest

from relgate.analysis.config import AnalysisSpec, PrometheusProviderSpec
from relgate.analysis.model import Action, Verdict
from relgate.errors import InvalidConfig
from relgate.manifest.loader import load_text

PROMETHEUS = """\
provider:
  type: prometheus
  address: http://127.0.0.1:9090
  query: sum(rate(http_requests_total{version="{{canary_version}}"}[{{window}}]))
"""


def load(text: str) -> AnalysisSpec:
    return load_text(AnalysisSpec, textwrap.dedent(text), "relgate.yaml")


def error(text: str) -> InvalidConfig:
    with pytest.raises(InvalidConfig) as caught:
        load(text)
    return caught.value


FULL = """\
interval: 30s
window: 1m
count: 10
consecutive: 3
metrics:
  - name: error-ratio
    provider:
      type: prometheus
      address: http://prometheus:9090/
      query: sum(rate(http_requests_total{version="{{version}}",code=~"5.."}[{{window}}]))
      requests_query: sum(increase(http_requests_total{version="{{version}}"}[{{window}}]))
    comparative: {max_ratio_to_stable: 1.05, min_requests: 100}
  - name: p95
    provider:
      type: scrape
      targets: {stable: "http://10.0.0.5/metrics", canary: "http://10.0.0.6/metrics"}
      metric: http_request_duration_seconds
      measure: quantile
      quantile: 0.95
    threshold: {max: 0.3}
  - name: latency
    provider: {type: command, command: [./latency.sh, "{{version}}"], timeout: 10s}
    judge: {type: mann_whitney, alpha: 0.01, direction: higher_is_worse}
on: {fail: pause, nodata: continue}
"""


def test_a_full_block_reads_with_durations_in_seconds_and_yamls_on_key() -> None:
    spec = load(FULL)
    assert (spec.interval, spec.window_seconds, spec.count, spec.consecutive) == (30, 60, 10, 3)
    assert [m.name for m in spec.metrics] == ["error-ratio", "p95", "latency"]
    prometheus = spec.metrics[0].provider
    assert isinstance(prometheus, PrometheusProviderSpec)
    assert prometheus.address == "http://prometheus:9090"
    assert spec.on.action(Verdict.FAIL) is Action.PAUSE
    assert spec.on.action(Verdict.NODATA) is Action.CONTINUE
    assert spec.on.action(Verdict.INCONCLUSIVE) is Action.PAUSE
    assert spec.on.action(Verdict.PASS) is Action.CONTINUE
    assert [m.needs_stable for m in spec.metrics] == [True, False, True]


def test_the_defaults_keep_a_person_in_the_loop() -> None:
    spec = AnalysisSpec.model_validate(
        {"metrics": [{"name": "m", **load_provider(), "threshold": {"max": 1}}]}
    )
    assert (spec.interval, spec.count, spec.consecutive, spec.window) == (60, 5, 1, None)
    assert [spec.on.action(v) for v in Verdict] == [
        Action.CONTINUE,
        Action.ABORT,
        Action.PAUSE,
        Action.PAUSE,
    ]


def load_provider() -> dict[str, object]:
    return {
        "provider": {
            "type": "prometheus",
            "address": "http://127.0.0.1:9090",
            "query": "up",
        }
    }


def block(metric: str, top: str = "") -> str:
    return top + "metrics:\n  - name: m\n" + textwrap.indent(metric, "    ")


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (
            block(PROMETHEUS + "threshold: {max: 0.01}\n", top="interval: soon\n"),
            1,
            "interval",
            "'soon' is not a duration: write e.g. 30s, 1m, 1m30s or 500ms",
        ),
        (
            block(PROMETHEUS + "threshold: {max: 0.01}\n", top="interval: 0s\n"),
            1,
            "interval",
            "must be longer than zero",
        ),
        (
            block(PROMETHEUS + "threshold: {max: 0.01}\n", top="count: 2\nconsecutive: 3\n"),
            1,
            "",
            "consecutive (3) is more than count (2): the run could never fail",
        ),
        (
            block(PROMETHEUS),
            2,
            "metrics[0]",
            "give exactly one of `threshold`, `comparative` or `judge`",
        ),
        (
            block(PROMETHEUS + "threshold: {max: 1}\njudge: {type: mann_whitney}\n"),
            2,
            "metrics[0]",
            "give exactly one of `threshold`, `comparative` or `judge` (got threshold and judge)",
        ),
        (
            block(PROMETHEUS + "threshold: {}\n"),
            7,
            "metrics[0].threshold",
            "give `max`, `min` or both",
        ),
        (
            block("provider: {type: graphite}\nthreshold: {max: 1}\n"),
            3,
            "metrics[0].provider",
            "type must be one of: prometheus, scrape, command",
        ),
        (
            block(
                PROMETHEUS.replace('"{{canary_version}}"', "{{canary_version}}")
                + "threshold: {max: 1}\n"
            ),
            6,
            "metrics[0].provider.query",
            'must stand inside a quoted label value, e.g. version="{{canary_version}}"',
        ),
        (
            block(
                PROMETHEUS.replace("{{canary_version}}", "{{release}}") + "threshold: {max: 1}\n"
            ),
            6,
            "metrics[0].provider.query",
            "{{release}} is not a variable; the variables are: {{service}}, {{environment}}",
        ),
        (
            block(PROMETHEUS + "comparative: {max_ratio_to_stable: 1.05, min_requests: 10}\n"),
            2,
            "metrics[0]",
            "comparative.min_requests needs the provider's `requests_query`",
        ),
        (
            block(PROMETHEUS + "threshold: {max: 1}\n", top="on: {fail: continue}\n"),
            1,
            "on.fail",
            "must be 'abort' or 'pause' (got 'continue')",
        ),
        (
            block(PROMETHEUS + "judge: {type: mann_whitney, direction: up}\n"),
            7,
            "metrics[0].judge.direction",
            "",
        ),
        (
            block(PROMETHEUS + "threshold: {max: 1, maximum: 2}\n"),
            7,
            "metrics[0].threshold.maximum",
            "unknown key (a typo?)",
        ),
    ],
)
def test_a_mistake_names_its_line_and_field(text: str, line: int, field: str, message: str) -> None:
    problem = error(text)
    assert (problem.line, problem.field or "") == (line, field), str(problem)
    assert message in str(problem)


def test_a_judge_on_a_scrape_is_refused_for_want_of_samples() -> None:
    scrape = (
        "provider:\n  type: scrape\n  targets: {stable: 'http://a/metrics', canary: "
        "'http://b/metrics'}\n  metric: x_total\n  measure: increase\n"
        "judge: {type: mann_whitney}\n"
    )
    assert "a judge needs samples" in str(error(block(scrape)))


def test_a_scrape_selection_must_be_a_regular_expression() -> None:
    scrape = (
        "provider:\n  type: scrape\n  targets: {stable: 'http://a/metrics', canary: "
        "'http://b/metrics'}\n  metric: x_total\n  measure: increase\n  select: {code: '5(('}\n"
        "threshold: {max: 1}\n"
    )
    problem = error(block(scrape))
    assert problem.field == "metrics[0].provider.select"
    assert "the pattern of code is not a regular expression" in str(problem)


def test_two_metrics_cannot_share_a_name() -> None:
    metric = "  - name: m\n" + textwrap.indent(PROMETHEUS + "threshold: {max: 1}\n", "    ")
    assert "two metrics are named 'm'" in str(error("metrics:\n" + metric + metric))


def test_a_command_word_cannot_name_an_unknown_variable() -> None:
    text = block("provider: {type: command, command: [./x, '{{secret}}']}\nthreshold: {max: 1}\n")
    assert "{{secret}} is not a variable" in str(error(text))
