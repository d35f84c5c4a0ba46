"""The Prometheus and scrape providers against httpx's MockTransport (the wire, not the server:
tests/integration/analysis runs them against a real Prometheus and real instances)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from relgate.analysis.config import PrometheusProviderSpec, ScrapeProviderSpec
from relgate.analysis.model import AnalysisContext, MetricQuery, Reading, Side
from relgate.analysis.providers.ports import ProviderError
from relgate.analysis.providers.prometheus import PrometheusProvider
from relgate.analysis.providers.scrape import ScrapeProvider, histogram_quantile

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CONTEXT = AnalysisContext("shop", "production", "1.1.0", '1.2.0"}')


def query(**extra: Any) -> MetricQuery:
    return MetricQuery(CONTEXT, extra.pop("side", Side.CANARY), 60, AT, **extra)


def prometheus(
    handler: Callable[[httpx.Request], httpx.Response], **settings: Any
) -> PrometheusProvider:
    spec = PrometheusProviderSpec.model_validate(
        {
            "type": "prometheus",
            "address": "http://prom:9090",
            "query": 'sum(rate(x{version="{{version}}"}[{{window}}]))',
            **settings,
        }
    )
    environ = settings.pop("environ", None)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return PrometheusProvider(spec, client=client, environ=environ)


def answer(result: Any, kind: str = "vector", status: int = 200) -> httpx.Response:
    body = {"status": "success", "data": {"resultType": kind, "result": result}}
    return httpx.Response(status, json=body)


def test_an_instant_query_is_sent_rendered_and_escaped_at_the_windows_end() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer([{"metric": {}, "value": [AT.timestamp(), "0.05"]}])

    reading = prometheus(handler).read(query())
    assert reading == Reading(value=0.05)
    assert seen[0].url.path == "/api/v1/query"
    assert seen[0].url.params["query"] == 'sum(rate(x{version="1.2.0\\"}"}[60s]))'
    assert seen[0].url.params["time"] == f"{AT.timestamp():.3f}"


@pytest.mark.parametrize(
    ("result", "kind"),
    [([], "vector"), ([{"metric": {}, "value": [0, "NaN"]}], "vector"), ([0, "NaN"], "scalar")],
)
def test_an_empty_or_nan_answer_is_no_data_not_zero(result: Any, kind: str) -> None:
    reading = prometheus(lambda request: answer(result, kind)).read(query())
    assert reading.value is None and reading.empty


def test_prometheus_error_json_is_raised_in_its_own_words() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}
        return httpx.Response(400, json=error)

    with pytest.raises(ProviderError) as caught:
        prometheus(handler).read(query())
    assert str(caught.value) == (
        "Prometheus at http://prom:9090 refused the query (bad_data): parse error at char 5"
    )


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(502, text="bad gateway"), "answered HTTP 502 without a JSON answer"),
        (
            answer([{"metric": {"pod": str(n)}, "value": [0, "1"]} for n in range(4)]),
            "the query answered 4 series ({pod='0'}, {pod='1'}, {pod='2'}, ...)",
        ),
        (answer([], "matrix"), "answered a range vector"),
        (answer([{"metric": {}, "value": [0, "high"]}]), "answered 'high', not a number"),
        (httpx.Response(200, json={"status": "success"}), "answered without data"),
    ],
)
def test_a_malformed_answer_raises(response: httpx.Response, message: str) -> None:
    with pytest.raises(ProviderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prometheus(lambda request: response).read(query())


def test_a_range_query_gives_the_samples_of_the_window_every_series_pooled() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        series = [
            {"metric": {"pod": "a"}, "values": [[0, "1"], [5, "NaN"], [10, "2"]]},
            {"metric": {"pod": "b"}, "values": [[0, "3"]]},
        ]
        return answer(series, "matrix")

    reading = prometheus(handler, step="5s").read(query(samples=True))
    assert reading.samples == (1.0, 2.0, 3.0)
    params = seen[0].url.params
    assert seen[0].url.path == "/api/v1/query_range"
    assert (params["start"], params["end"], params["step"]) == (
        f"{AT.timestamp() - 60:.3f}",
        f"{AT.timestamp():.3f}",
        "5",
    )


def test_the_requests_query_counts_the_window_and_none_is_zero() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "increase" in request.url.params["query"]:
            return answer([])
        return answer([{"metric": {}, "value": [0, "0.2"]}])

    requests_query = 'sum(increase(x{version="{{version}}"}[{{window}}]))'
    reading = prometheus(handler, requests_query=requests_query).read(query(requests=True))
    assert (reading.value, reading.requests) == (0.2, 0.0)


def test_an_answer_past_the_size_bound_is_refused() -> None:
    big = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
    padded = big + " " * 5000

    with pytest.raises(ProviderError, match="answered more than 1024 bytes"):
        prometheus(
            lambda request: httpx.Response(200, content=padded.encode()), max_response_bytes=1024
        ).read(query())


def test_a_timeout_and_a_refused_connection_raise() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ProviderError, match="did not answer within 2 s"):
        prometheus(slow, timeout="2s").read(query())
    with pytest.raises(ProviderError, match="could not be reached: connection refused"):
        prometheus(refused).read(query())


def test_a_bearer_token_comes_from_the_servers_environment() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer([])

    spec = PrometheusProviderSpec.model_validate(
        {
            "type": "prometheus",
            "address": "http://prom:9090",
            "query": "up",
            "bearer_token_env": "PROM_TOKEN",
        }
    )
    client = httpx.Client(transport=httpx.MockTransport(handler))
    PrometheusProvider(spec, client=client, environ={"PROM_TOKEN": "t0k"}).read(query())
    assert seen[0].headers["authorization"] == "Bearer t0k"
    with pytest.raises(ProviderError, match="the server has no PROM_TOKEN"):
        PrometheusProvider(spec, client=client, environ={})


METRICS = """\
# TYPE http_requests_total counter
http_requests_total{{version="1.2.0",code="200"}} {ok}
http_requests_total{{version="1.2.0",code="500"}} {bad}
http_requests_total{{version="1.1.0",code="500"}} 1000
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{{version="1.2.0",le="0.1"}} {fast}
http_request_duration_seconds_bucket{{version="1.2.0",le="0.5"}} {total}
http_request_duration_seconds_bucket{{version="1.2.0",le="+Inf"}} {total}
http_request_duration_seconds_sum{{version="1.2.0"}} 1
http_request_duration_seconds_count{{version="1.2.0"}} {total}
"""


def scrape(pages: list[dict[str, int]], **settings: Any) -> ScrapeProvider:
    texts = iter(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        values = next(texts)
        return httpx.Response(200, text=METRICS.format(**values))

    spec = ScrapeProviderSpec.model_validate(
        {
            "type": "scrape",
            "targets": {"stable": "http://s/metrics", "canary": "http://c/metrics"},
            "metric": "http_requests_total",
            **settings,
        }
    )
    return ScrapeProvider(spec, client=httpx.Client(transport=httpx.MockTransport(handler)))


CANARY_ONLY = {"version": "1\\.2\\.0"}
PAGE = {"ok": 0, "bad": 0, "fast": 0, "total": 0}


def test_a_ratio_between_two_scrapes_and_a_counter_reset() -> None:
    reader = scrape(
        [
            {**PAGE, "ok": 100, "bad": 10},
            {**PAGE, "ok": 290, "bad": 20},  # +190 and +10
            {**PAGE, "ok": 38, "bad": 2},  # restarted: 38 and 2 since
        ],
        measure="ratio",
        select={"code": "5..", **CANARY_ONLY},
        total=CANARY_ONLY,
    )
    reader.begin(query())
    assert reader.read(query()) == Reading(value=0.05, requests=200)
    assert reader.read(query()) == Reading(value=0.05, requests=40)


def test_the_first_window_without_a_first_scrape_raises_then_measures() -> None:
    reader = scrape(
        [{**PAGE, "ok": 10}, {**PAGE, "ok": 20}], measure="increase", select=CANARY_ONLY
    )
    with pytest.raises(ProviderError, match="no earlier scrape of the canary instance"):
        reader.read(query())
    assert reader.read(query()).value == 10.0


def test_a_quantile_from_the_histograms_buckets_between_two_scrapes() -> None:
    reader = scrape(
        [PAGE, {**PAGE, "fast": 90, "total": 100}],
        metric="http_request_duration_seconds",
        measure="quantile",
        quantile=0.95,
        select=CANARY_ONLY,
    )
    reader.begin(query())
    reading = reader.read(query())
    # 90 of 100 under 0.1 s, the rest in (0.1, 0.5]: the 95th is half-way in that bucket
    assert reading.requests == 100
    assert reading.value == pytest.approx(0.3)


def test_histogram_quantile_as_promql_answers_it() -> None:
    assert histogram_quantile(0.5, [(1.0, 0), (float("inf"), 0)]) is None
    assert histogram_quantile(0.5, [(0.1, 10), (float("inf"), 10)]) == pytest.approx(0.05)
    # in the +Inf bucket: the highest finite bound
    assert histogram_quantile(0.99, [(0.1, 10), (float("inf"), 100)]) == 0.1


def test_a_gauge_sums_the_selected_samples_of_the_latest_scrape() -> None:
    reader = scrape([{**PAGE, "bad": 7}], measure="gauge", select={"code": "500"})
    assert reader.read(query()).value == 1007.0


def test_text_that_is_not_prometheus_text_raises() -> None:
    spec = ScrapeProviderSpec.model_validate(
        {
            "type": "scrape",
            "targets": {"stable": "http://s/metrics", "canary": "http://c/metrics"},
            "metric": "x",
            "measure": "gauge",
        }
    )
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, text="{{{")))
    with pytest.raises(ProviderError, match="the canary instance's http://c/metrics is not Prom"):
        ScrapeProvider(spec, client=client).read(query())
