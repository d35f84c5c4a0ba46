"""Read a metric from a Prometheus server's HTTP API: instant and range queries.

``GET /api/v1/query`` (at the end of the window) gives a value;
``GET /api/v1/query_range`` (over the window, every ``step``) gives the samples
a judge tests. An empty answer or NaN is no data, never zero; an error answer
of Prometheus (``{"status": "error", "errorType": ..., "error": ...}``), a
non-JSON answer, one larger than ``max_response_bytes`` or slower than
``timeout`` raises ProviderError with Prometheus's own words.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx

from relgate.analysis.config import PrometheusProviderSpec
from relgate.analysis.model import MetricQuery, Reading
from relgate.analysis.providers.http import get_bounded
from relgate.analysis.providers.ports import ProviderError
from relgate.analysis.templating import render_promql, variables

# a series' labels shown in a message, at most this many series
_SHOWN_SERIES = 3


class PrometheusProvider:
    """A MetricProvider over one Prometheus server (one per metric of a run)."""

    def __init__(
        self,
        spec: PrometheusProviderSpec,
        *,
        client: httpx.Client | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.spec = spec
        # a client given is the caller's to close; one made here is closed by close()
        self._owned = client is None
        self._client = client or httpx.Client()
        self._headers: dict[str, str] = {}
        if spec.bearer_token_env is not None:
            token = (environ or {}).get(spec.bearer_token_env)
            if not token:
                raise ProviderError(
                    f"the server has no {spec.bearer_token_env} (the bearer token for "
                    f"Prometheus at {spec.address})"
                )
            self._headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        """Close the HTTP client made here (not one that was given)."""
        if self._owned:
            self._client.close()

    def begin(self, query: MetricQuery) -> None:
        """Nothing to prepare: Prometheus keeps the history."""

    def read(self, query: MetricQuery) -> Reading:
        """Return the value (or the samples) of the query for ``query``'s side and window."""
        values = variables(query)
        text = render_promql(self.spec.query, values)
        requests = None
        if query.requests and self.spec.requests_query is not None:
            requests = self.instant(render_promql(self.spec.requests_query, values), query)
            if requests is None:
                requests = 0.0
        if query.samples:
            return Reading(samples=tuple(self.range(text, query)), requests=requests)
        return Reading(value=self.instant(text, query), requests=requests)

    def instant(self, promql: str, query: MetricQuery) -> float | None:
        """Return the one value of an instant query at ``query.at`` (None: no data)."""
        data = self._get("/api/v1/query", {"query": promql, "time": _unix(query)})
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar":
            return _number(result, self.spec.address)
        if kind == "vector" and isinstance(result, list):
            if not result:
                return None
            if len(result) > 1:
                raise ProviderError(
                    f"the query answered {len(result)} series ({_labels(result)}); a metric "
                    "must be one series: aggregate it, e.g. sum(...) or sum by () (...)"
                )
            series = result[0]
            return _number(series.get("value") if isinstance(series, dict) else None, "")
        if kind == "matrix":
            raise ProviderError(
                "the query answered a range vector (name[1m]); wrap it in a function such "
                "as rate(...) or increase(...)"
            )
        raise ProviderError(f"Prometheus answered a result of type {kind!r}, not a number")

    def range(self, promql: str, query: MetricQuery) -> list[float]:
        """Return the samples of a range query over the window (every series pooled)."""
        end = query.at
        start = end - timedelta(seconds=query.window_seconds)
        params = {
            "query": promql,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{self.spec.step:g}",
        }
        data = self._get("/api/v1/query_range", params)
        result = data.get("result")
        if data.get("resultType") != "matrix" or not isinstance(result, list):
            raise ProviderError(
                f"Prometheus answered a range query with {data.get('resultType')!r}, not a matrix"
            )
        samples: list[float] = []
        for series in result:
            points = series.get("values") if isinstance(series, dict) else None
            if not isinstance(points, list):
                raise ProviderError("Prometheus answered a series without values")
            for point in points:
                value = _number(point, "")
                if value is not None:
                    samples.append(value)
        return samples

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        where = f"Prometheus at {self.spec.address}"
        status, body = get_bounded(
            self._client,
            self.spec.address + path,
            params=params,
            headers=self._headers,
            timeout=self.spec.timeout,
            max_bytes=self.spec.max_response_bytes,
            what=where,
        )
        try:
            answer = json.loads(body)
        except (ValueError, RecursionError):
            answer = None
        if not isinstance(answer, dict):
            raise ProviderError(f"{where} answered HTTP {status} without a JSON answer")
        if answer.get("status") == "error" or status != 200:
            kind = answer.get("errorType") or f"HTTP {status}"
            error = str(answer.get("error") or "no reason given")[:2000]
            raise ProviderError(f"{where} refused the query ({kind}): {error}")
        data = answer.get("data")
        if answer.get("status") != "success" or not isinstance(data, dict):
            raise ProviderError(f"{where} answered without data")
        return data


def _unix(query: MetricQuery) -> str:
    return f"{query.at.timestamp():.3f}"


def _number(pair: Any, where: str) -> float | None:
    """The value of a ``[time, "value"]`` pair; NaN is None (no data)."""
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str):
        raise ProviderError(
            f"Prometheus{' at ' + where if where else ''} answered a malformed sample"
        )
    try:
        value = float(pair[1])
    except ValueError:
        raise ProviderError(f"Prometheus answered {pair[1][:40]!r}, not a number") from None
    return None if math.isnan(value) else value


def _labels(result: list[Any]) -> str:
    shown = []
    for series in result[:_SHOWN_SERIES]:
        metric = series.get("metric", {}) if isinstance(series, dict) else {}
        shown.append("{" + ", ".join(f"{k}={v!r}" for k, v in sorted(metric.items())) + "}")
    return ", ".join(shown) + (", ..." if len(result) > _SHOWN_SERIES else "")
