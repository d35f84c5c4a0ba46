"""Measure from plain Prometheus text scraped from each version's instance (``/metrics``).

No Prometheus server is needed: the provider scrapes each side's target when
the run begins and at every window, and measures between the last two scrapes
(parsed with ``prometheus_client.parser``):

- ``increase``: the selected counter samples' increase (a counter that went down
  was reset, as Prometheus reads it: its new value is the increase);
- ``ratio``: that increase over the increase of the ``total`` selection, e.g.
  5xx requests over all requests; no requests in the window is no data;
- ``gauge``: the selected samples' sum in the latest scrape;
- ``quantile``: the quantile of a histogram's observations between the two
  scrapes, interpolated in its bucket as PromQL's ``histogram_quantile``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx
import re2
from prometheus_client.parser import text_string_to_metric_families

from relgate.analysis.config import ScrapeProviderSpec, Selection
from relgate.analysis.model import MetricQuery, Reading, Side
from relgate.analysis.providers.http import get_bounded
from relgate.analysis.providers.ports import ProviderError
from relgate.analysis.templating import render_plain, variables

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Scrape:
    """The samples of one scrape, by name and labels."""

    samples: Mapping[SeriesKey, float]


def parse_scrape(text: str, where: str) -> Scrape:
    """Parse Prometheus text; raises ProviderError naming ``where`` when it is not that format."""
    samples: dict[SeriesKey, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                samples[key] = float(sample.value)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ProviderError(f"{where} is not Prometheus text: {exc}") from None
    return Scrape(samples)


def compile_selection(selection: Selection, values: Mapping[str, str]) -> dict[str, re2._Regexp]:
    """Compile a selection's patterns, its variables quoted as literal text."""
    quoted = {name: _re2_literal(value) for name, value in values.items()}
    return {
        label: re2.compile(render_plain(pattern, quoted)) for label, pattern in selection.items()
    }


def _re2_literal(value: str) -> str:
    return "".join("\\" + char if char in "\\.+*?()|[]{}^$" else char for char in value)


def _matches(labels: tuple[tuple[str, str], ...], selection: Mapping[str, re2._Regexp]) -> bool:
    found = dict(labels)
    return all(
        pattern.fullmatch(found.get(label, "")) is not None for label, pattern in selection.items()
    )


def increase(
    before: Scrape, after: Scrape, name: str, selection: Mapping[str, re2._Regexp]
) -> float:
    """Return the summed increase of the matching counter series from ``before`` to ``after``."""
    total = 0.0
    for (sample_name, labels), value in after.samples.items():
        if sample_name != name or not _matches(labels, selection):
            continue
        old = before.samples.get((sample_name, labels), 0.0)
        total += value - old if value >= old else value
    return total


def histogram_quantile(quantile: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """Return the quantile of cumulative ``(upper bound, count)`` buckets, as PromQL does.

    None when the buckets hold no observation.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = quantile * total
    lower, below = 0.0, 0.0
    for index, (bound, count) in enumerate(ordered):
        if count >= rank:
            if math.isinf(bound):
                # the +Inf bucket: the highest finite bound, as histogram_quantile answers
                return ordered[index - 1][0] if index > 0 else None
            if index == 0 and bound <= 0:
                return bound
            in_bucket = count - below
            return lower + (bound - lower) * ((rank - below) / in_bucket if in_bucket else 1)
        lower, below = bound, count
    return ordered[-1][0]


class ScrapeProvider:
    """A MetricProvider that scrapes each side's instance itself (one per metric of a run)."""

    def __init__(self, spec: ScrapeProviderSpec, *, client: httpx.Client | None = None) -> None:
        self.spec = spec
        # a client given is the caller's to close; one made here is closed by close()
        self._owned = client is None
        self._client = client or httpx.Client()
        self._last: dict[Side, Scrape] = {}

    def _target(self, side: Side) -> str:
        return self.spec.targets.canary if side is Side.CANARY else self.spec.targets.stable

    def scrape(self, side: Side) -> Scrape:
        """Scrape ``side``'s instance; raises ProviderError when that fails."""
        url = self._target(side)
        where = f"the {side} instance's {url}"
        status, body = get_bounded(
            self._client,
            url,
            headers={"Accept": "text/plain"},
            timeout=self.spec.timeout,
            max_bytes=self.spec.max_response_bytes,
            what=where,
        )
        if status != 200:
            raise ProviderError(f"{where} answered HTTP {status}")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ProviderError(f"{where} is not UTF-8 text") from None
        return parse_scrape(text, where)

    def close(self) -> None:
        """Close the HTTP client made here (not one that was given)."""
        if self._owned:
            self._client.close()

    def begin(self, query: MetricQuery) -> None:
        """Take the first scrape of the side, which the first window measures from."""
        self._last[query.side] = self.scrape(query.side)

    def read(self, query: MetricQuery) -> Reading:
        """Scrape again and measure between this scrape and the one before."""
        after = self.scrape(query.side)
        before = self._last.get(query.side)
        self._last[query.side] = after
        spec = self.spec
        values = variables(query)
        selection = compile_selection(spec.select, values)
        if spec.measure == "gauge":
            matching = [
                value
                for (name, labels), value in after.samples.items()
                if name == spec.metric and _matches(labels, selection)
            ]
            return Reading(value=sum(matching) if matching else None)
        if before is None:
            raise ProviderError(
                f"no earlier scrape of the {query.side} instance to measure from (the first "
                "failed); the next window measures from this one"
            )
        if spec.measure == "increase":
            if not any(name == spec.metric for name, _ in after.samples):
                return Reading()
            return Reading(value=increase(before, after, spec.metric, selection))
        if spec.measure == "ratio":
            total = increase(
                before, after, spec.metric, compile_selection(spec.total or {}, values)
            )
            if total <= 0:
                return Reading(requests=0.0)
            part = increase(before, after, spec.metric, selection)
            return Reading(value=part / total, requests=total)
        return self._quantile(before, after, selection)

    def _quantile(
        self, before: Scrape, after: Scrape, selection: Mapping[str, re2._Regexp]
    ) -> Reading:
        bucket_name = f"{self.spec.metric}_bucket"
        per_bound: dict[float, float] = {}
        for (name, labels), value in after.samples.items():
            if name != bucket_name:
                continue
            rest = tuple(pair for pair in labels if pair[0] != "le")
            if not _matches(rest, selection):
                continue
            bound = float(dict(labels).get("le", "nan"))
            if math.isnan(bound):
                continue
            old = before.samples.get((name, labels), 0.0)
            per_bound[bound] = per_bound.get(bound, 0.0) + (value - old if value >= old else value)
        assert self.spec.quantile is not None
        observations = per_bound.get(math.inf, 0.0)
        quantile = histogram_quantile(self.spec.quantile, per_bound.items())
        return Reading(value=quantile, requests=observations)
